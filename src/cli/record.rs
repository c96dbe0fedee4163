//! The recording commands of the CLI: `record`, `workload`, `doctor` and the hidden
//! `exec`: their flags, the argument order they accept, their wording and exit codes.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use faultline::record::runner::{
    self, HostFacts, RealSystem, RecordError, RecordOptions, Scope, Target,
};
use faultline::record::state::{self, StateDir};
use faultline::record::thp::ThpMode;
use faultline::units::{Bytes, parse_duration};
use faultline::workloads::{Advice, Workload};

use super::exit;

#[derive(Args)]
#[command(
    override_usage = "faultline record [OPTIONS] WORKLOAD [WORKLOAD OPTIONS]\n       faultline record [OPTIONS] -- CMD [ARGS]...",
    after_help = "Record options may come before or after the workload's: \
                  `faultline record breadth-first --faults 10000 -o runs/bf --mem-limit 256m`.\n\
                  Exit codes: 0 recorded, 2 refused or failed, 130 interrupted (the run is kept, marked interrupted)."
)]
pub struct RecordArgs {
    /// The run directory to create (default: runs/WORKLOAD-YYYYmmdd-HHMMSS).
    #[arg(long, short = 'o', value_name = "RUN_DIR")]
    output: Option<PathBuf>,
    /// Replace RUN_DIR if it holds a previous faultline run (and nothing else); the
    /// previous run is replaced only once the new one has succeeded.
    #[arg(long)]
    force: bool,
    /// Refuse instead of waiting while another recording holds the THP lock.
    #[arg(long)]
    no_wait: bool,
    /// Memory cap for the workload (its own cgroup), e.g. 512m. Required for workloads
    /// that can exhaust memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    mem_limit: Option<Bytes>,
    /// THP mode for the run; the previous mode is restored afterwards.
    #[arg(long, value_enum)]
    thp: Option<ThpArg>,
    /// Sampling frequency in Hz.
    #[arg(long, short = 'F', default_value_t = 999)]
    freq: u32,
    /// Sampling event (default: cycles where a PMU exists, else cpu-clock).
    #[arg(long)]
    event: Option<String>,
    /// Another event to record, e.g. `page-faults/period=1,call-graph=no/` (repeatable).
    #[arg(long = "extra-event", value_name = "EVENT")]
    extra_events: Vec<String>,
    /// Record all CPUs (the default for workloads that can exhaust memory and for any
    /// run under --mem-limit, which can be OOM-killed).
    #[arg(long, conflicts_with = "per_process")]
    system_wide: bool,
    /// Record only the workload's tasks.
    #[arg(long)]
    per_process: bool,
    /// /proc sampling interval.
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = parse_duration)]
    snapshot_interval: Duration,
    /// How long to keep recording after the workload exits (deferred exit work).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    tail: Duration,
    /// Also write perf.script (perf script --header text) beside perf.data.
    #[arg(long)]
    script: bool,
    /// A built-in workload (the same as giving NAME without --workload).
    #[arg(long = "workload", value_name = "NAME", hide = true)]
    workload_flag: Option<String>,
    /// A built-in workload and its options: zero-page, breadth-first, madvise,
    /// memory-hog, vma-fragment (see `faultline workload --help`).
    #[arg(value_name = "WORKLOAD", num_args = 0..)]
    workload: Vec<String>,
    /// The workload's words, as `reorder_args` passes them (hyphens and all).
    #[arg(long = "workload-word", hide = true, allow_hyphen_values = true)]
    workload_words: Vec<String>,
    /// A command to run instead of a workload.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// `--thp` values.
#[derive(Clone, Copy, ValueEnum)]
enum ThpArg {
    Always,
    Madvise,
    Never,
}

/// `--stride` values: the two that mean something for page tables.
#[derive(Clone, Copy, ValueEnum)]
enum StrideArg {
    /// One read per base page: a PTE table per 2 MiB.
    #[value(name = "4k")]
    K4,
    /// One read per 2 MiB: a PTE table per read.
    #[value(name = "2m")]
    M2,
}

/// `--advice` values.
#[derive(Clone, Copy, ValueEnum)]
enum AdviceArg {
    /// MADV_FREE: page tables stay.
    Free,
    /// MADV_DONTNEED: leaf tables may be freed.
    Dontneed,
}

#[derive(Args)]
pub struct WorkloadArgs {
    #[command(subcommand)]
    workload: WorkloadCommand,
}

#[derive(Subcommand)]
enum WorkloadCommand {
    /// Read one byte per stride of a huge PROT_READ anonymous mapping: every read maps
    /// the shared zero page, so only page tables grow.
    ZeroPage {
        /// Distance between reads: 4k (a PTE page per 2 MiB) or 2m (a PTE page per read).
        #[arg(long, value_enum, default_value = "4k")]
        stride: StrideArg,
        /// Size of the mapping.
        #[arg(long, default_value = "64g", value_parser = parse_size)]
        span: Bytes,
    },
    /// Seed 000's pgd/pud/pmd-ordered reads: early faults cost 12, then 8, then 4 KiB
    /// of page tables. Without --faults it runs until the OOM killer stops it.
    BreadthFirst {
        /// Stop after this many faults.
        #[arg(long)]
        faults: Option<u64>,
        /// Size of the mapping.
        #[arg(long, default_value = "64t", value_parser = parse_size)]
        span: Bytes,
    },
    /// Read a page, then madvise it away, page after page.
    Madvise {
        /// MADV_FREE keeps page tables; MADV_DONTNEED lets the kernel free leaf tables
        /// (each read page's whole 2 MiB range is advised).
        #[arg(long, value_enum)]
        advice: AdviceArg,
        /// Pages to fault.
        #[arg(long, default_value_t = 100_000)]
        faults: u64,
    },
    /// malloc(4096)+memset until stopped (seed 001); runs only inside a capped cgroup.
    MemoryHog {
        /// Stop after allocating this much.
        #[arg(long, value_parser = parse_size)]
        limit: Option<Bytes>,
    },
    /// Seed 003's mprotect pattern: neighbouring cells get different anon_vmas and
    /// never merge, one VMA per cell.
    VmaFragment {
        /// Number of 3-page cells.
        #[arg(long, default_value_t = 20_000)]
        cells: u64,
        /// Touch first, then mprotect: the VMAs merge.
        #[arg(long)]
        prefault: bool,
    },
}

#[derive(Args)]
pub struct ExecArgs {
    #[arg(long)]
    run_dir: PathBuf,
    #[arg(long)]
    cgroup: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    tail_ms: u64,
    #[arg(last = true, required = true)]
    argv: Vec<OsString>,
}

fn parse_size(s: &str) -> Result<Bytes, String> {
    Bytes::parse(s)
}

impl WorkloadCommand {
    fn workload(&self) -> Workload {
        match self {
            WorkloadCommand::ZeroPage { stride, span } => Workload::ZeroPage {
                stride: match stride {
                    StrideArg::K4 => Bytes(4 << 10),
                    StrideArg::M2 => Bytes(2 << 20),
                },
                span: *span,
            },
            WorkloadCommand::BreadthFirst { faults, span } => Workload::BreadthFirst {
                faults: *faults,
                span: *span,
            },
            WorkloadCommand::Madvise { advice, faults } => Workload::Madvise {
                advice: match advice {
                    AdviceArg::Free => Advice::Free,
                    AdviceArg::Dontneed => Advice::DontNeed,
                },
                faults: *faults,
            },
            WorkloadCommand::MemoryHog { limit } => Workload::MemoryHog { limit: *limit },
            WorkloadCommand::VmaFragment { cells, prefault } => Workload::VmaFragment {
                cells: *cells,
                prefault: *prefault,
            },
        }
    }
}

/// `NAME PARAMS…` as `record` takes them.
#[derive(Parser)]
#[command(name = "faultline record", no_binary_name = true)]
struct WorkloadWords {
    #[command(subcommand)]
    workload: WorkloadCommand,
}

impl RecordArgs {
    fn options(&self) -> Result<RecordOptions, String> {
        let command = self.command.clone();
        let mut words: Vec<String> = self.workload_words.clone();
        words.extend(self.workload.iter().cloned());
        if let Some(name) = &self.workload_flag {
            words.insert(0, name.clone());
        }
        let mut thp_pin = None;
        let target = if !words.is_empty() {
            if !command.is_empty() {
                return Err("give a workload or -- COMMAND, not both".into());
            }
            let w = WorkloadWords::try_parse_from(&words)
                .map_err(|e| e.to_string())?
                .workload
                .workload();
            // Refuse bad parameters before perf, a cgroup or a run directory exist.
            w.validate().map_err(|e| e.to_string())?;
            thp_pin = w.thp_pin();
            faultline::workloads::record_target(&w, words[1..].to_vec())
        } else if !command.is_empty() {
            Target::Command(command)
        } else {
            return Err(RecordError::NoTarget.to_string());
        };
        let run_dir = self
            .output
            .clone()
            .unwrap_or_else(|| default_run_dir(&target.label()));
        let mut o = RecordOptions::new(target, run_dir);
        o.force = self.force;
        o.no_wait = self.no_wait;
        o.script = self.script;
        o.mem_limit = self.mem_limit;
        o.thp = self
            .thp
            .map(|t| match t {
                ThpArg::Always => ThpMode::Always,
                ThpArg::Madvise => ThpMode::Madvise,
                ThpArg::Never => ThpMode::Never,
            })
            .or(thp_pin);
        o.freq = self.freq;
        o.event = self.event.clone();
        o.extra_events = self.extra_events.clone();
        o.scope = if self.system_wide {
            Scope::SystemWide
        } else if self.per_process {
            Scope::PerProcess
        } else {
            Scope::Auto
        };
        o.snapshot_interval = self.snapshot_interval;
        o.tail = self.tail;
        Ok(o)
    }
}

/// `runs/LABEL-YYYYmmdd-HHMMSS` in local time.
fn default_run_dir(label: &str) -> PathBuf {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from("runs").join(format!("{label}-{}", local_timestamp()))
}

fn local_timestamp() -> String {
    // SAFETY: time(NULL) and localtime_r into a zeroed tm we own.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Moves `record`'s own options found after the workload's (but before `--`) in front
/// of it, and `--workload NAME` to a plain NAME, so that
/// `record breadth-first --faults 10 -o runs/bf --mem-limit 256m` parses as
/// `record -o runs/bf --mem-limit 256m breadth-first --faults 10`. The workloads' option
/// names and record's do not overlap, so every word has one owner.
pub fn reorder_args(args: Vec<OsString>) -> Vec<OsString> {
    let Some(at) = args.iter().position(|a| a == "record") else {
        return args;
    };
    // Only when `record` is the subcommand: the first word after the binary.
    if at != 1 {
        return args;
    }
    let cmd = super::Cli::command();
    let Some(record) = cmd.find_subcommand("record") else {
        return args;
    };
    let mut flags: Vec<(String, bool)> = Vec::new();
    for a in record.get_arguments() {
        let takes = a.get_action().takes_values();
        if let Some(l) = a.get_long().filter(|l| *l != "workload") {
            flags.push((format!("--{l}"), takes));
        }
        if let Some(s) = a.get_short() {
            flags.push((format!("-{s}"), takes));
        }
    }
    flags.push(("-h".into(), false));
    flags.push(("--help".into(), false));
    let (head, rest) = args.split_at(at + 1);
    let end = rest.iter().position(|a| a == "--").unwrap_or(rest.len());
    let (mut own, mut words) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < end {
        let a = &rest[i];
        let text = a.to_string_lossy();
        let name = text.split_once('=').map_or(text.as_ref(), |(n, _)| n);
        if name == "--workload" {
            if let Some((_, v)) = text.split_once('=') {
                words.push(OsString::from(v));
            }
            i += 1;
            continue;
        }
        match flags
            .iter()
            .find(|(f, _)| f == name || short_attached(&text, f))
        {
            Some((f, takes)) => {
                own.push(a.clone());
                let attached = text.contains('=') || (f.len() == 2 && text.len() > 2);
                if *takes && !attached && i + 1 < end {
                    own.push(rest[i + 1].clone());
                    i += 1;
                }
            }
            None => words.push(a.clone()),
        }
        i += 1;
    }
    let mut out: Vec<OsString> = head.to_vec();
    out.extend(own);
    // Attached with `=`, a word such as `--faults` is a value, not a flag of record's.
    out.extend(words.into_iter().map(|w| {
        let mut o = OsString::from("--workload-word=");
        o.push(w);
        o
    }));
    out.extend(rest[end..].iter().cloned());
    out
}

/// `-F999` or `-oDIR`: a short flag with its value attached.
fn short_attached(text: &str, flag: &str) -> bool {
    flag.len() == 2
        && !flag.starts_with("--")
        && text.len() > 2
        && text.starts_with(flag)
        && !text.starts_with("--")
}

/// `faultline record`: refuses with exit 2, records, exits 130 when interrupted.
pub fn record(a: &RecordArgs, stderr: &mut dyn Write) -> ExitCode {
    let opts = match a.options() {
        Ok(o) => o,
        Err(msg) => {
            let _ = writeln!(stderr, "faultline: {msg}");
            return ExitCode::from(exit::USAGE_OR_INPUT);
        }
    };
    faultline::sys::catch_stop_signals();
    match run(&opts, stderr) {
        Ok(true) => ExitCode::from(exit::INTERRUPTED),
        Ok(false) => ExitCode::from(exit::SUCCESS),
        Err(super::CliError::Record(e @ RecordError::StoppedWaiting { .. })) => {
            let _ = writeln!(stderr, "faultline: {e}");
            ExitCode::from(exit::INTERRUPTED)
        }
        Err(e) => {
            let _ = writeln!(stderr, "faultline: {e}");
            ExitCode::from(exit::USAGE_OR_INPUT)
        }
    }
}

/// Runs the recording; `Ok(true)` when a stop signal cut it short.
fn run(opts: &RecordOptions, warn: &mut dyn Write) -> Result<bool, super::CliError> {
    let host = HostFacts::probe();
    let exe = std::env::current_exe().map_err(|source| faultline::Error::Io {
        path: "/proc/self/exe".into(),
        source,
    })?;
    let plan = runner::plan(opts, &host, &exe)?;
    if opts.mem_limit.is_some() && !plan.system_wide {
        // Issue 13 item 4: a capped run can be OOM-killed; say what per-process misses.
        let _ = writeln!(
            warn,
            "faultline: warning: recording per-process although the run can be OOM-killed: \
             exit work other tasks do after a kill (the OOM reaper, deferred page-table frees) \
             will be missing from the report"
        );
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let outcome = runner::record(
        opts,
        &host,
        &plan,
        &mut RealSystem,
        &StateDir::new(state::STATE_DIR),
        &|msg| {
            // Waiting for another run must be seen even without a terminal.
            if msg.starts_with("waiting") {
                spinner.suspend(|| eprintln!("faultline: {msg}"));
            }
            spinner.set_message(msg.to_string());
            spinner.tick();
        },
    );
    spinner.finish_and_clear();
    let outcome = outcome?;
    let m = &outcome.manifest;
    let exit = match m.exit {
        Some(e) => match (e.code, e.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (_, Some(9)) if m.oom_kills > 0 => "killed by the OOM killer (SIGKILL)".to_string(),
            (_, Some(s)) => format!("killed by signal {s}"),
            _ => "ended".to_string(),
        },
        None => "exit status unknown".to_string(),
    };
    let samples: Vec<String> = m.samples.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(
        warn,
        "faultline: recorded {} into {}: workload {exit}; {}; samples {}",
        m.event,
        opts.run_dir.display(),
        faultline::text::count(m.oom_kills, "OOM kill"),
        samples.join(", ")
    );
    if outcome.interrupted {
        let _ = writeln!(
            warn,
            "faultline: interrupted; the recording is partial (its manifest says so)"
        );
    }
    Ok(outcome.interrupted)
}

/// `faultline workload NAME`.
pub fn workload(a: &WorkloadArgs, stderr: &mut dyn Write) -> ExitCode {
    let w = a.workload.workload();
    match faultline::workloads::run(&w, &faultline::workloads::RunContext::from_env()) {
        Ok(_) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            let _ = writeln!(stderr, "faultline workload: {e}");
            ExitCode::from(exit::USAGE_OR_INPUT)
        }
    }
}

/// `faultline exec` (started by perf).
pub fn exec(a: &ExecArgs, stderr: &mut dyn Write) -> ExitCode {
    let opts = faultline::record::exec::ExecOptions {
        run_dir: a.run_dir.clone(),
        cgroup: a.cgroup.clone(),
        tail: Duration::from_millis(a.tail_ms),
        argv: a.argv.clone(),
    };
    match faultline::record::exec::run(&opts) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            let _ = writeln!(stderr, "faultline: {e}");
            ExitCode::from(127)
        }
    }
}

/// Undoes what recordings killed outright left behind (THP mode, cgroups, staging
/// directories) and says so. `doctor` also says when there was nothing to do. Without
/// root nothing can be undone: say once whom to ask instead of failing at each step.
pub fn recover(stderr: &mut dyn Write, doctor: bool) -> ExitCode {
    let dir = StateDir::new(state::STATE_DIR);
    if !faultline::sys::is_root() {
        let dead = state::stale(&dir, &RealSystem);
        if let Some(pid) = dead.first() {
            let _ = writeln!(
                stderr,
                "faultline: a recording (pid {pid}) died without restoring THP or removing its cgroup; run `faultline doctor` as root"
            );
        } else if doctor {
            let _ = writeln!(stderr, "faultline: nothing to undo");
        }
        let code = if dead.is_empty() || !doctor {
            exit::SUCCESS
        } else {
            exit::USAGE_OR_INPUT
        };
        return ExitCode::from(code);
    }
    let said = state::recover(&dir, &mut RealSystem);
    for line in &said {
        let _ = writeln!(stderr, "faultline: {line}");
    }
    if doctor && said.is_empty() {
        let _ = writeln!(
            stderr,
            "faultline: nothing to undo: no recording died with THP changed or a cgroup left"
        );
    }
    let failed = said
        .iter()
        .any(|l| l.contains("could not") || l.contains("unreadable"));
    ExitCode::from(if doctor && failed {
        exit::USAGE_OR_INPUT
    } else {
        exit::SUCCESS
    })
}

/// Whether this invocation should first undo what killed recordings left behind:
/// every command but the ones that run inside a recording.
pub fn recovers_first(args: &[OsString]) -> bool {
    !matches!(
        args.get(1).map(OsString::as_os_str),
        Some(c) if c == OsStr::new("exec") || c == OsStr::new("workload") || c == OsStr::new("doctor")
    )
}
