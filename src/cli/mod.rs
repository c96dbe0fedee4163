//! The `faultline` command line: flags → option structs → library calls → exit codes.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use faultline::fold::collapse::FoldOptions;
mod commands;
mod export;
mod record;
mod reproduce;

use commands::{CollapseOptions, FlamegraphOptions, ReadOptions};
use faultline::ingest::load::LoadOptions;
use faultline::ingest::profile::BuildOptions;
use faultline::text::TerminalWriter;

/// Exit codes, the same for every command.
mod exit {
    /// Success (a compare gate passed).
    pub const SUCCESS: u8 = 0;
    /// `compare`: a fail-severity budget confidently regressed.
    pub const GATE_FAILED: u8 = 1;
    /// A usage error or unusable input (clap uses 2 for usage errors too).
    pub const USAGE_OR_INPUT: u8 = 2;
    /// `compare --fail-on-inconclusive`: a fail-severity budget could not be decided.
    pub const INCONCLUSIVE: u8 = 3;
    /// Interrupted (Ctrl-C), as shells report 128 + SIGINT.
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success (for compare: the gate passed)
  1    compare: a fail-severity budget confidently regressed
  2    usage error or unusable input (the message names the file and line)
  3    compare --fail-on-inconclusive: a fail-severity budget was inconclusive
  130  interrupted (Ctrl-C); a recording stopped this way is kept but partial

Inputs: every command that reads a recording takes a perf.data file, a `perf script
--header` file, or a run directory from `faultline record` (its perf.data is read
directly, else its perf.script).";

/// Turn Linux perf recordings of memory-heavy programs into answers.
#[derive(Parser)]
#[command(name = "faultline", version, about, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fold a perf.data file or `perf script` output into `comm;frame;…;leaf count` lines
    /// (inferno-compatible).
    Collapse(CollapseArgs),
    /// Render a flame graph SVG from a perf.data file, `perf script` output or folded stacks.
    Flamegraph(FlamegraphArgs),
    /// Where the time went: IRQ-sticky correction, fault versus exit phases, /proc
    /// evidence; a terminal report, and files with -o.
    Analyze(AnalyzeArgs),
    /// Compare base and new recordings: did fault or exit cost regress? Exit 0 pass,
    /// 1 a fail-severity budget confidently regressed, 2 invalid input or mismatch,
    /// 3 inconclusive (only with --fail-on-inconclusive).
    #[command(after_help = EXIT_CODES_HELP)]
    Compare(CompareArgs),
    /// Measure run-to-run noise of recordings of one build, and suggest tolerances.
    Calibrate(CalibrateArgs),
    /// Run a workload or command under `perf record`, capped in a memory cgroup, with
    /// /proc snapshots, into a run directory.
    Record(record::RecordArgs),
    /// Run a built-in memory workload in this process.
    Workload(record::WorkloadArgs),
    /// Undo what a killed recording left behind (THP mode, cgroups); every command
    /// does this first, doctor says so when there was nothing to do.
    Doctor,
    /// Internal: the wrapper `record` starts under perf (joins the cgroup, runs CMD).
    #[command(hide = true)]
    Exec(record::ExecArgs),
    /// Write the corrected, phase-labelled profile as pprof, speedscope or Firefox Profiler.
    Export(export::ExportArgs),
    /// Send the corrected profile to Pyroscope's /ingest API (or Grafana Alloy's receiver).
    Push(export::PushArgs),
    /// Reproduce a seed article's experiments here: claim, article's figure, figure
    /// measured, holds or not. Exit 0 all hold or undecided, 1 one does not hold.
    Reproduce(reproduce::ReproduceArgs),
}

#[derive(Args)]
struct AnalyzeArgs {
    /// A run directory from `faultline record` (its perf.data, else perf.script), a
    /// perf.data file or a `perf script --header` file.
    input: PathBuf,
    /// Write flamegraph.svg, flamegraph.corrected.svg, flamegraph.phases.svg,
    /// report.json, report.md and index.html here. A non-empty directory that holds no
    /// earlier report is refused unless --force.
    #[arg(long, short = 'o', value_name = "REPORT_DIR")]
    output: Option<PathBuf>,
    /// Write into a non-empty REPORT_DIR that holds no earlier report (files of the
    /// same names are replaced; nothing else is touched).
    #[arg(long, requires = "output")]
    force: bool,
    /// Fail on the first line that cannot be used, naming file and line.
    #[arg(long)]
    strict: bool,
    /// Print report.json to standard output.
    #[arg(long)]
    json: bool,
    /// /proc evidence (timeline.jsonl, maps.*) for a plain perf script file.
    #[arg(long = "proc", value_name = "DIR")]
    proc_dir: Option<PathBuf>,
    /// Leave hrtimer samples on the IRQ re-enable sites where they landed.
    #[arg(long)]
    no_irq_correction: bool,
    /// JSON phase rules extending or overriding the built-in ones.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Sampling event to analyse (default: the first non-tracepoint event).
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Parser threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct CompareArgs {
    /// Base recordings (run directories or perf script files).
    #[arg(long, num_args = 1.., required = true, value_name = "RUN")]
    base: Vec<PathBuf>,
    /// New recordings.
    #[arg(long, num_args = 1.., required = true, value_name = "RUN")]
    new: Vec<PathBuf>,
    /// Budgets file (JSON; see the README).
    #[arg(long, value_name = "FILE")]
    budgets: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write a differential flame graph.
    #[arg(long, value_name = "FILE")]
    diff_svg: Option<PathBuf>,
    /// What a metric measures.
    #[arg(long, value_enum, default_value_t = ModeArg::Time)]
    mode: ModeArg,
    /// Report without failing (exit 0 unless an error).
    #[arg(long)]
    exit_zero: bool,
    /// Exit 3 when a fail-severity budget is inconclusive.
    #[arg(long)]
    fail_on_inconclusive: bool,
    /// Compare even when events, clocks, frequencies or kernels differ.
    #[arg(long)]
    force: bool,
    /// Compare recordings that were interrupted (partial; refused otherwise).
    #[arg(long)]
    allow_partial: bool,
    /// Sample-count overdispersion for runs with fewer than 3 per side (from calibrate).
    #[arg(long)]
    overdispersion: Option<f64>,
    /// Leave hrtimer samples uncorrected.
    #[arg(long)]
    no_irq_correction: bool,
    /// Fail on the first unusable line of any recording, naming file and line.
    #[arg(long)]
    strict: bool,
    /// Parser threads.
    #[arg(long, short = 'j', default_value_t = 0)]
    threads: usize,
}

/// `compare --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A terminal table.
    #[default]
    Text,
    /// Markdown, for a pull-request comment.
    Md,
    /// The comparison as JSON (keys in the README).
    Json,
    /// JUnit XML, one test case per budget.
    Junit,
}

/// `compare --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// CPU time (period-weighted samples).
    Time,
    /// Share of the recording's (or workload's) total.
    Share,
    /// Per unit of work (per page fault).
    PerWork,
}

impl From<ModeArg> for faultline::compare::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Time => Self::Time,
            ModeArg::Share => Self::Share,
            ModeArg::PerWork => Self::PerWork,
        }
    }
}

#[derive(Args)]
struct CalibrateArgs {
    /// Three or more recordings of the same build (run directories or perf script files).
    #[arg(required = true, num_args = 3..)]
    runs: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Fail on the first unusable line of any recording, naming file and line.
    #[arg(long)]
    strict: bool,
    /// Parser threads.
    #[arg(long, short = 'j', default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct InputArgs {
    /// A perf.data file, `perf script --header` output, or a run directory from
    /// `faultline record` (its perf.data, else perf.script); omit or `-` for standard input.
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
            load: LoadOptions {
                strict: self.strict,
                // A filter: empty in, empty out (with a warning).
                allow_empty: true,
                build: BuildOptions {
                    include_addrs: fold.addrs,
                    threads: self.threads,
                    keep_samples: false,
                },
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

/// An error of any layer, as the binary reports it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading, analysing or writing.
    #[error(transparent)]
    Lib(#[from] faultline::Error),
    /// A recording was refused or failed.
    #[error(transparent)]
    Record(#[from] faultline::record::runner::RecordError),
    /// The command line asks for something faultline will not do (overwrite files it
    /// did not write, say); the message says what to do instead.
    #[error("{0}")]
    Refused(String),
}

/// Parses the command line, runs the command, and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let recover = record::recovers_first(&args);
    let cli = Cli::parse_from(record::reorder_args(args));
    // Messages quote input (lines, frame and event names): on a terminal no control
    // character but newline and tab may pass. Standard output to a pipe or file is
    // data (folded stacks, SVG) and passes as it is.
    let stdout = TerminalWriter::new(io::stdout().lock(), io::stdout().is_terminal());
    let mut stderr = TerminalWriter::new(io::stderr().lock(), true);
    if recover {
        record::recover(&mut stderr, false);
    }
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
        Command::Analyze(a) => {
            return exit_with(
                commands::analyze(&a.command(), stdout, &mut stderr),
                &mut stderr,
            );
        }
        Command::Compare(a) => return compare(a, stdout, &mut stderr),
        Command::Calibrate(a) => {
            let opts = faultline::compare::CompareOptions {
                threads: a.threads,
                strict: a.strict,
                ..Default::default()
            };
            commands::calibrate(&a.runs, &opts, a.json, stdout, &mut stderr)
        }
        Command::Record(a) => return record::record(a, &mut stderr),
        Command::Workload(a) => return record::workload(a, &mut stderr),
        Command::Doctor => return record::recover(&mut stderr, true),
        Command::Exec(a) => return record::exec(a, &mut stderr),
        Command::Export(a) => export::export(a, &mut stderr),
        Command::Push(a) => export::push(a, &mut stderr),
        Command::Reproduce(a) => return reproduce::run(a, stdout, &mut stderr),
    };
    exit_with(result, &mut stderr)
}

impl AnalyzeArgs {
    fn command(&self) -> commands::AnalyzeCommand {
        commands::AnalyzeCommand {
            analyze: faultline::analyze::AnalyzeOptions {
                input: self.input.clone(),
                proc_dir: self.proc_dir.clone(),
                no_irq_correction: self.no_irq_correction,
                rules: self.rules.clone(),
                event: self.event.clone(),
                threads: self.threads,
                strict: self.strict,
            },
            report_dir: self.output.clone(),
            force: self.force,
            json: self.json,
        }
    }
}

/// `faultline compare`: the gate's exit code, or 2 with the error.
fn compare(a: &CompareArgs, stdout: impl Write, stderr: &mut dyn Write) -> ExitCode {
    let opts = commands::CompareCommand {
        compare: faultline::compare::CompareOptions {
            base: a.base.clone(),
            new: a.new.clone(),
            budgets: a.budgets.clone(),
            mode: a.mode.into(),
            force: a.force,
            no_irq_correction: a.no_irq_correction,
            overdispersion: a.overdispersion,
            threads: a.threads,
            strict: a.strict,
            allow_partial: a.allow_partial,
        },
        format: a.format,
        output: a.output.clone(),
        diff_svg: a.diff_svg.clone(),
        exit_zero: a.exit_zero,
        fail_on_inconclusive: a.fail_on_inconclusive,
    };
    match commands::compare(&opts, stdout, stderr) {
        Ok(code) => ExitCode::from(code),
        Err(e) => exit_with(Err::<(), _>(e), stderr),
    }
}

/// Maps an outcome to an exit code: 0 for success (and for a reader that closed the
/// pipe early), 2 for any error, with the message on stderr.
fn exit_with(result: Result<(), impl Into<CliError>>, stderr: &mut dyn Write) -> ExitCode {
    match result.map_err(Into::into) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Lib(faultline::Error::Write { source, .. }))
            if source.kind() == io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(stderr, "faultline: {e}");
            ExitCode::from(exit::USAGE_OR_INPUT)
        }
    }
}
