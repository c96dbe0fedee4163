//! The `faultline` binary: everything that knows clap, terminal wording and exit codes
//! lives in [`cli`]; the library never sees them.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
