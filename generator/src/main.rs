//! The `jobgen` command: a thin shell over the library.
fn main() {
    std::process::exit(jobgen::cli::main());
}
