//! Every file under `templates/` is embedded in the binary and loaded when a stack renders, so no
//! template can rot unused (and no embedded name can point at a deleted file).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use jobgen_synth::model::ModelOptions;

#[test]
fn every_template_file_is_embedded_and_used() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let embedded: BTreeSet<String> = jobgen_synth::render::TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded, "templates/ and render::TEMPLATES must list the same files");

    // The realistic example has created and existing clusters and task definitions, so every
    // partial has something to render; the loader records every template it hands out.
    let config =
        jobgen_synth::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/realistic/jobgen.yaml")).unwrap();
    let mut s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
    // The nested stacks' template renders for a project split into nested stacks: the same
    // project with one job type pinned to one.
    let mut pinned = config.clone();
    pinned.job_types.values_mut().find(|jt| jt.task.is_some()).unwrap().nested_stack = Some(0);
    let nested = jobgen_synth::synth::synthesize(&pinned, &ModelOptions::default()).unwrap();
    assert!(!nested.nested.is_empty());
    s.templates_used.extend(nested.templates_used);
    assert_eq!(s.templates_used, on_disk, "a template under templates/ is never included");
}

#[test]
fn embedded_templates_are_the_files_on_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    for (name, src) in jobgen_synth::render::TEMPLATES {
        assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), *src, "{name}");
    }
}
