//! Stage 6: put the template where it belongs: stdout, or `DIR/template.{yaml,json}` written
//! atomically (a temporary file in the same directory, then a rename, so a crash or a full disk never
//! leaves a partial template), or compared with the file on disk for `--check`.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// Output format of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, as rendered (with its header comment).
    Yaml,
    /// JSON: the YAML re-parsed and pretty-printed, key order kept.
    Json,
}

impl Format {
    /// The file name written into the output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Yaml => "template.yaml",
            Format::Json => "template.json",
        }
    }
}

/// Writing or comparing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An I/O error on a path.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Serializing JSON failed (cannot happen for a parsed document, reported rather than unwrapped).
    #[error("internal error: cannot serialize the template as JSON: {0}")]
    Json(String),
}

/// The bytes to write for a format.
pub fn contents(yaml: &str, document: &Value, format: Format) -> Result<String, WriteError> {
    match format {
        Format::Yaml => Ok(yaml.to_string()),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(document).map_err(|e| WriteError::Json(e.to_string()))?;
            s.push('\n');
            Ok(s)
        }
    }
}

/// Where `jobgen synth -o DIR` writes the configuration document: inside the config layer's
/// content directory beside the template, at the path Lambda mounts it under `/opt`.
pub fn config_document_path(dir: &Path) -> PathBuf {
    dir.join(jobgen_runtime::contract::CONFIG_LAYER_DIR).join(jobgen_runtime::contract::CONFIG_LAYER_ENTRY)
}

/// Nested-stack templates in `dir`'s [`crate::names::NESTED_STACKS_DIR`] that a synthesis no
/// longer writes (`keep`: the files it writes, relative to `dir`): a job-type stack that became
/// empty, or the whole directory when the project fits one stack again. `jobgen synth -o` removes
/// them, `--check` reports them, so no stale child is packaged beside the root.
pub fn stale_nested_templates(dir: &Path, keep: &[String]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join(crate::names::NESTED_STACKS_DIR)) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("job-types-") && name.ends_with(".yaml");
            let relative = format!("{}/{name}", crate::names::NESTED_STACKS_DIR);
            (ours && !keep.contains(&relative)).then(|| e.path())
        })
        .collect();
    stale.sort();
    stale
}

/// Writes `contents` to `path` atomically: a temporary file beside it, flushed, then renamed over it.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), WriteError> {
    let io = |source| WriteError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "template".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// What `--check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The file holds exactly what synth would write.
    InSync,
    /// The file differs.
    Stale,
    /// There is no file.
    Missing,
}

/// Compares the file at `path` with what would be written.
pub fn freshness(path: &Path, contents: &str) -> Result<Freshness, WriteError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes == contents.as_bytes() => Ok(Freshness::InSync),
        Ok(_) => Ok(Freshness::Stale),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Freshness::Missing),
        Err(source) => Err(WriteError::Io { path: path.to_path_buf(), source }),
    }
}

/// A lexically normalized absolute path (no filesystem access: the directories may not exist yet).
fn absolute(path: &Path, cwd: &Path) -> Vec<String> {
    let joined = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    parts
}

/// The path of `target` relative to directory `from`, with `/` separators, as the template must
/// reference the Lambda zips: `aws cloudformation package` resolves paths relative to the template.
pub fn relative_path(from: &Path, target: &Path, cwd: &Path) -> String {
    let from = absolute(from, cwd);
    let target = absolute(target, cwd);
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(target[common..].iter().map(String::as_str));
    if parts.is_empty() { ".".into() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_the_template_dir() {
        let cwd = Path::new("/repo");
        assert_eq!(relative_path(Path::new("examples/quickstart"), Path::new("dist/lambda"), cwd), "../../dist/lambda");
        assert_eq!(relative_path(Path::new("."), Path::new("dist/lambda"), cwd), "dist/lambda");
        assert_eq!(relative_path(Path::new("out/"), Path::new("/zips"), cwd), "../../zips");
        assert_eq!(relative_path(Path::new("a/./b/.."), Path::new("a"), cwd), ".");
    }

    #[test]
    fn atomic_write_replaces_and_freshness_compares() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/template.yaml");
        assert_eq!(freshness(&path, "a")?, Freshness::Missing);
        write_atomic(&path, "a")?;
        assert_eq!(freshness(&path, "a")?, Freshness::InSync);
        assert_eq!(freshness(&path, "b")?, Freshness::Stale);
        write_atomic(&path, "b")?;
        assert_eq!(std::fs::read_to_string(&path)?, "b");
        let leftovers = std::fs::read_dir(dir.path().join("sub"))?.count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        Ok(())
    }

    #[test]
    fn stale_nested_templates_are_ours_and_not_kept() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert!(stale_nested_templates(dir.path(), &[]).is_empty());
        for f in ["job-types-00.yaml", "job-types-07.yaml", "notes.txt"] {
            write_atomic(&dir.path().join("stacks").join(f), "x")?;
        }
        let stale = stale_nested_templates(dir.path(), &["stacks/job-types-00.yaml".to_string()]);
        assert_eq!(stale, [dir.path().join("stacks/job-types-07.yaml")]);
        Ok(())
    }
}
