//! What `jobgen init` writes: the commented starter and the repository's examples, embedded so an
//! installed `jobgen` needs nothing beside it.

/// What `jobgen init` writes without `--example`: a commented file that explains every key.
pub const STARTER: &str = include_str!("init.yaml");

/// The files `jobgen init --example NAME` can write.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("quickstart", include_str!("../../examples/quickstart/jobgen.yaml")),
    ("realistic", include_str!("../../examples/realistic/jobgen.yaml")),
    ("existing-task-definition", include_str!("../../examples/existing-task-definition/jobgen.yaml")),
];

/// The example names, for `--example`'s possible values.
pub fn example_names() -> Vec<&'static str> {
    EXAMPLES.iter().map(|(n, _)| *n).collect()
}
