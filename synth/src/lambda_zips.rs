//! Where the packaged handler zips are, and what to say when they are not there.
//!
//! Lookup order (`jobgen synth`, `jobgen deploy`, `jobgen dev`): `--lambda-dir` when given; else the
//! release bundle's layout next to the running binary (`<prefix>/bin/jobgen` finds
//! `<prefix>/lib/jobgen/lambda/<arch>/{create-job,track}.zip`, what `make dist` lays out); else the
//! checkout's `dist/lambda` (what `make package` writes), relative to the current directory.

use std::path::{Path, PathBuf};

/// The handler zips every stack needs, by file name.
pub const HANDLER_ZIPS: [&str; 2] = ["create-job.zip", "track.zip"];

/// Where `make package` writes the zips in a checkout.
pub const CHECKOUT_DIR: &str = "dist/lambda";

/// The bundle's zip directory below its prefix: `lib/jobgen/lambda/<arch>`.
pub fn bundle_subdir(arch: &str) -> PathBuf {
    Path::new("lib/jobgen/lambda").join(arch)
}

/// How a zip directory was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--lambda-dir`.
    Flag,
    /// The release bundle next to the binary.
    Bundle,
    /// The checkout's `dist/lambda`.
    Checkout,
}

/// The zip directory chosen, and which zips it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaDir {
    /// The directory.
    pub path: PathBuf,
    /// How it was chosen.
    pub source: Source,
    /// The handler zips it does not hold (empty: all there).
    pub missing: Vec<&'static str>,
}

fn missing(dir: &Path) -> Vec<&'static str> {
    HANDLER_ZIPS.into_iter().filter(|z| !dir.join(z).is_file()).collect()
}

/// Finds the zip directory for `arch`: `flag`, else the bundle beside `exe` (when it holds both
/// zips), else [`CHECKOUT_DIR`]. A directory that lacks zips is still returned, with them listed
/// in [`LambdaDir::missing`], so the caller can say so.
pub fn locate(flag: Option<&Path>, exe: Option<&Path>, arch: &str) -> LambdaDir {
    if let Some(dir) = flag {
        return LambdaDir { path: dir.to_path_buf(), source: Source::Flag, missing: missing(dir) };
    }
    // `<prefix>/bin/jobgen` → `<prefix>`; the binary may be reached through a symlink (a
    // `~/.local/bin/jobgen` link into the bundle), so the real path is used.
    let exe = exe.map(|e| std::fs::canonicalize(e).unwrap_or_else(|_| e.to_path_buf()));
    if let Some(prefix) = exe.as_deref().and_then(Path::parent).and_then(Path::parent) {
        let dir = prefix.join(bundle_subdir(arch));
        let lacking = missing(&dir);
        if lacking.is_empty() {
            return LambdaDir { path: dir, source: Source::Bundle, missing: lacking };
        }
    }
    let dir = PathBuf::from(CHECKOUT_DIR);
    LambdaDir { missing: missing(&dir), path: dir, source: Source::Checkout }
}

impl LambdaDir {
    /// The warning for missing zips (None when all are there): which files, and the three ways to
    /// get them.
    pub fn warning(&self, arch: &str) -> Option<String> {
        if self.missing.is_empty() {
            return None;
        }
        let files: Vec<String> = self.missing.iter().map(|z| self.path.join(z).display().to_string()).collect();
        Some(format!(
            "warning: the handler zips {} do not exist: the template's Code points at them, so deploying it fails\n  \
             help: install the release bundle (its lib/jobgen/lambda/{arch}/ is found next to bin/jobgen), or run \
             `make package ARCH={arch}` in a checkout of jobgen, or pass --lambda-dir DIR (a directory with \
             create-job.zip and track.zip)",
            files.join(", ")
        ))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn zips(dir: &Path) {
        std::fs::create_dir_all(dir).expect("dir");
        for z in HANDLER_ZIPS {
            std::fs::write(dir.join(z), b"zip").expect("zip");
        }
    }

    #[test]
    fn the_flag_wins_then_the_bundle_then_the_checkout() {
        let root = std::env::temp_dir().join(format!("jobgen-zips-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let exe = root.join("bundle/bin/jobgen");
        std::fs::create_dir_all(root.join("bundle/bin")).expect("bin");
        std::fs::write(&exe, b"").expect("exe");
        // No bundle zips yet: the checkout's directory, with both zips missing.
        let found = locate(None, Some(&exe), "arm64");
        assert_eq!((found.source, found.path.as_path()), (Source::Checkout, Path::new(CHECKOUT_DIR)));
        assert_eq!(found.missing, HANDLER_ZIPS.to_vec());
        let warning = found.warning("arm64").expect("a warning");
        assert!(warning.contains("dist/lambda/create-job.zip") && warning.contains("make package ARCH=arm64"));
        // Zips for the other architecture only do not count.
        zips(&root.join("bundle").join(bundle_subdir("x86_64")));
        assert_eq!(locate(None, Some(&exe), "arm64").source, Source::Checkout);
        let found = locate(None, Some(&exe), "x86_64");
        assert_eq!(found.source, Source::Bundle);
        assert!(found.missing.is_empty() && found.warning("x86_64").is_none());
        assert!(found.path.ends_with("bundle/lib/jobgen/lambda/x86_64"));
        // --lambda-dir overrides, missing zips and all.
        let flag = root.join("elsewhere");
        let found = locate(Some(&flag), Some(&exe), "x86_64");
        assert_eq!((found.source, found.missing.len()), (Source::Flag, 2));
        let _ = std::fs::remove_dir_all(&root);
    }
}
