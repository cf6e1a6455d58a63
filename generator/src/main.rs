//! The `jobgen` command: a thin shell over the libraries. [`cli`] parses the command line, each
//! module of [`cmd`] runs one command, and [`output`] renders results for a terminal or as JSON.

mod cli;
mod cmd;
mod output;

fn main() {
    std::process::exit(cli::main());
}
