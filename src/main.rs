//! The `faultline` command line: flags → option structs → library calls → exit codes.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use faultline::collapse::FoldOptions;
use faultline::commands::{self, CollapseOptions, FlamegraphOptions, ReadOptions};
use faultline::profile::BuildOptions;

/// Turn Linux perf recordings of memory-heavy programs into answers.
#[derive(Parser)]
#[command(name = "faultline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fold `perf script` output into `comm;frame;…;leaf count` lines (inferno-compatible).
    Collapse(CollapseArgs),
    /// Render a flame graph SVG from `perf script` output or folded stacks.
    Flamegraph(FlamegraphArgs),
}

#[derive(Args)]
struct InputArgs {
    /// `perf script` output (omit or `-` for standard input).
    input: Option<PathBuf>,
    /// Fail on the first line that cannot be used, naming file and line.
    #[arg(long)]
    strict: bool,
    /// Parser threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct FoldArgs {
    /// Root stacks at `comm-PID`.
    #[arg(long)]
    pid: bool,
    /// Root stacks at `comm-PID/TID`.
    #[arg(long)]
    tid: bool,
    /// Suffix kernel frames with `_[k]`.
    #[arg(long)]
    kernel: bool,
    /// Suffix JIT frames with `_[j]`.
    #[arg(long)]
    jit: bool,
    /// Both `--kernel` and `--jit`.
    #[arg(long)]
    all: bool,
    /// Name unresolved frames by address (`[unknown <7f…>]`).
    #[arg(long)]
    addrs: bool,
    /// Event to fold: full name or base name (default: the first sampling event).
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Count samples instead of summing sample periods.
    #[arg(long)]
    samples: bool,
}

#[derive(Args)]
struct CollapseArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    fold: FoldArgs,
}

#[derive(Args)]
struct FlamegraphArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    fold: FoldArgs,
    /// Output SVG (`-` for standard output).
    #[arg(long, short = 'o', value_name = "OUT.svg")]
    output: PathBuf,
    /// Title (default: the event and sample count).
    #[arg(long)]
    title: Option<String>,
}

impl InputArgs {
    fn options(&self, fold: &FoldArgs) -> ReadOptions {
        ReadOptions {
            input: self.input.clone(),
            strict: self.strict,
            build: BuildOptions {
                include_addrs: fold.addrs,
                threads: self.threads,
            },
        }
    }
}

impl FoldArgs {
    fn options(&self) -> FoldOptions {
        FoldOptions {
            include_pid: self.pid,
            include_tid: self.tid,
            annotate_kernel: self.kernel || self.all,
            annotate_jit: self.jit || self.all,
            count_samples: self.samples,
            event: self.event.clone(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout().lock();
    let mut stderr = io::stderr().lock();
    let result = match &cli.command {
        Command::Collapse(a) => commands::collapse(
            &CollapseOptions {
                read: a.input.options(&a.fold),
                fold: a.fold.options(),
            },
            stdout,
            &mut stderr,
        ),
        Command::Flamegraph(a) => commands::flamegraph(
            &FlamegraphOptions {
                read: a.input.options(&a.fold),
                fold: a.fold.options(),
                output: a.output.clone(),
                title: a.title.clone(),
            },
            stdout,
            &mut stderr,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`faultline collapse x | head`) is the reader's choice, not an error.
        Err(faultline::Error::Write { source, .. })
            if source.kind() == io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(stderr, "faultline: {e}");
            ExitCode::from(2)
        }
    }
}
