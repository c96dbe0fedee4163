//! What a recording will do, decided from the options and plain facts about the host
//! before anything runs, so the decisions are tested without perf or root.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::record::cgroup::{CgroupError, Controller};
use crate::record::error::RecordError;
use crate::record::run_dir::RunDir;
use crate::record::thp::ThpMode;
use crate::units::Bytes;

/// The tracepoints that mark the phases of a memory workload's life (domain.md §2).
pub const MARKERS: [&str; 5] = [
    "oom:mark_victim",
    "oom:start_task_reaping",
    "oom:finish_task_reaping",
    "mmap:exit_mmap",
    "sched:sched_process_exit",
];

/// Records every page fault, without callchains, with its time: cheap while the
/// workload takes few faults, and what the IRQ-sticky validation needs.
pub const COUNTED_FAULTS_EVENT: &str = "page-faults/period=1,call-graph=no/";

/// Workloads expected to fault at most this often get [`COUNTED_FAULTS_EVENT`]
/// (about 130 bytes of `perf script` per fault).
pub const COUNTED_FAULTS_LIMIT: u64 = 50_000;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A built-in workload, run as `faultline workload NAME ARGS…`.
    Workload {
        /// The workload's name.
        name: String,
        /// Its arguments, as given on the command line.
        args: Vec<String>,
        /// Whether it can exhaust memory (and so must run under `--mem-limit`).
        oom_prone: bool,
        /// Its parameters, for the manifest.
        params: serde_json::Value,
        /// How many page faults it will take, when known: few enough and each is
        /// recorded (see [`COUNTED_FAULTS_EVENT`]).
        expected_faults: Option<u64>,
    },
    /// Any command.
    Command(Vec<OsString>),
}

impl Target {
    /// A short name for the default run directory: the workload's name or the
    /// command's file name.
    pub fn label(&self) -> String {
        match self {
            Target::Workload { name, .. } => name.clone(),
            Target::Command(argv) => argv
                .first()
                .and_then(|a| Path::new(a).file_name())
                .map_or_else(|| "command".into(), |n| n.to_string_lossy().into_owned()),
        }
    }
}

/// Whether perf records all CPUs or only the workload's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// System-wide for OOM-prone workloads (their exit work runs on other tasks and
    /// after `sched_process_exit`), per-process otherwise.
    Auto,
    /// `perf record -a`.
    SystemWide,
    /// Only the workload and its children.
    PerProcess,
}

/// `faultline record` options.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOptions {
    /// What to run.
    pub target: Target,
    /// The run directory to create.
    pub run_dir: PathBuf,
    /// Replace an existing run directory (only one that holds a previous run).
    pub force: bool,
    /// Refuse instead of waiting when another run holds the THP lock.
    pub no_wait: bool,
    /// Memory cap for the workload's cgroup.
    pub mem_limit: Option<Bytes>,
    /// THP mode for the run.
    pub thp: Option<ThpMode>,
    /// Sampling frequency in Hz.
    pub freq: u32,
    /// Sampling event; `None` picks `cycles` where a PMU exists, else `cpu-clock`.
    pub event: Option<String>,
    /// More events to record (for example `page-faults/period=1,call-graph=no/`).
    pub extra_events: Vec<String>,
    /// System-wide or per-process.
    pub scope: Scope,
    /// /proc sampling interval.
    pub snapshot_interval: Duration,
    /// How long to keep recording after the workload exits, to catch deferred exit
    /// work (RCU page-table freeing, the OOM reaper).
    pub tail: Duration,
    /// Also write perf.script (`perf script --header`) beside perf.data. faultline
    /// reads perf.data itself; the text is for people and other tools.
    pub script: bool,
}

impl RecordOptions {
    /// Options with the defaults the CLI uses.
    pub fn new(target: Target, run_dir: PathBuf) -> Self {
        RecordOptions {
            target,
            run_dir,
            force: false,
            no_wait: false,
            mem_limit: None,
            thp: None,
            freq: 999,
            event: None,
            extra_events: Vec::new(),
            scope: Scope::Auto,
            snapshot_interval: Duration::from_millis(20),
            tail: Duration::from_secs(1),
            script: false,
        }
    }
}

/// Facts about the host that decide what a recording can do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `perf version` output, `None` when perf is missing.
    pub perf_version: Option<String>,
    /// Running as root.
    pub is_root: bool,
    /// `/proc/sys/kernel/perf_event_paranoid`.
    pub perf_event_paranoid: Option<i32>,
    /// Whether `cycles` can be counted (a hardware PMU exists).
    pub has_cpu_pmu: bool,
    /// The memory cgroup controller, if any.
    pub cgroup: Option<Controller>,
    /// The kernel release.
    pub kernel: String,
}

impl HostFacts {
    /// Looks at the running system.
    pub fn probe() -> HostFacts {
        let perf_version = Command::new("perf")
            .arg("version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let perf_event_paranoid = fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        // The kernel lists a `cpu` PMU only where hardware counters exist.
        let has_cpu_pmu = Path::new("/sys/bus/event_source/devices/cpu/type").exists()
            || Path::new("/sys/bus/event_source/devices/cpu_core/type").exists();
        HostFacts {
            perf_version,
            is_root: crate::sys::is_root(),
            perf_event_paranoid,
            has_cpu_pmu,
            cgroup: Controller::detect().ok(),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// What a recording will do, decided before anything runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The sampling event.
    pub event: String,
    /// Whether it samples by hrtimer (and so suffers the IRQ-sticky effect).
    pub hrtimer: bool,
    /// `perf record -a`.
    pub system_wide: bool,
    /// Where the recording is written; renamed to the run directory only on success,
    /// so a failed run never costs the previous one.
    pub staging: PathBuf,
    /// The memory cgroup to create, when the run is capped. Its real path is in the
    /// child's arguments from the start: nothing in the user's command is rewritten.
    pub cgroup: Option<PathBuf>,
    /// Arguments after `perf`.
    pub perf_args: Vec<OsString>,
    /// The command perf starts: faultline's exec wrapper around the target.
    pub child: Vec<OsString>,
}

/// Decides what to run, or refuses with the reason.
pub fn plan(opts: &RecordOptions, host: &HostFacts, self_exe: &Path) -> Result<Plan, RecordError> {
    check_run_dir(opts)?;
    if host.perf_version.is_none() {
        return Err(RecordError::PerfMissing);
    }
    let target_argv = target_argv(opts, self_exe)?;
    check_privileges(opts, host)?;
    let system_wide = match opts.scope {
        Scope::SystemWide => true,
        Scope::PerProcess => false,
        // Anything under a cap can be OOM-killed, and a victim's exit work runs after
        // its sched_process_exit and on other tasks (issue 13, item 4).
        Scope::Auto => {
            opts.mem_limit.is_some()
                || matches!(
                    opts.target,
                    Target::Workload {
                        oom_prone: true,
                        ..
                    }
                )
        }
    };
    let event = opts.event.clone().unwrap_or_else(|| {
        if host.has_cpu_pmu {
            "cycles"
        } else {
            "cpu-clock"
        }
        .to_string()
    });
    let base = crate::ingest::script::header::base_name(&event);
    let hrtimer = matches!(base, "cpu-clock" | "task-clock");
    let staging = staging_dir(&opts.run_dir);
    let cgroup = match (opts.mem_limit, &host.cgroup) {
        (Some(_), Some(ctl)) => Some(ctl.root.join(cgroup_name())),
        _ => None,
    };
    let child = child_argv(opts, self_exe, &staging, cgroup.as_deref(), target_argv);
    let mut perf_args = perf_args(opts, &event, system_wide, &staging);
    perf_args.extend(child.iter().cloned());
    Ok(Plan {
        event,
        hrtimer,
        system_wide,
        staging,
        cgroup,
        perf_args,
        child,
    })
}

/// A run directory may be new, or (with `--force`) empty or a previous faultline run
/// holding only files faultline writes.
fn check_run_dir(opts: &RecordOptions) -> Result<(), RecordError> {
    let path = &opts.run_dir;
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if !opts.force {
        return Err(RecordError::RunDirExists { path: path.clone() });
    }
    replaceable(path)
}

/// Whether `path` may be replaced by a new run: an empty directory, or a faultline run
/// with nothing in it that faultline did not write. Checked again just before the
/// rename, as the directory may change while perf records.
pub fn replaceable(path: &Path) -> Result<(), RecordError> {
    let not_a_run = || RecordError::NotARunDir {
        path: path.to_path_buf(),
    };
    let meta = fs::symlink_metadata(path).map_err(|_| not_a_run())?;
    if !meta.is_dir() {
        return Err(not_a_run());
    }
    let run = RunDir::new(path);
    let empty = fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
    if empty {
        return Ok(());
    }
    if !run.is_faultline_run() {
        return Err(not_a_run());
    }
    let names = run
        .foreign_entries()
        .map_err(crate::record::error::io_err(path))?;
    if !names.is_empty() {
        return Err(RecordError::ForeignFiles {
            path: path.to_path_buf(),
            names,
        });
    }
    Ok(())
}

/// The staging directory beside the run directory (same file system, so the final
/// rename is atomic), hidden and named after this process.
pub fn staging_dir(run_dir: &Path) -> PathBuf {
    let name = run_dir
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let parent = run_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}.faultline-{}", std::process::id()))
}

fn cgroup_name() -> String {
    let suffix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_007);
    format!("faultline-{}-{suffix}", std::process::id())
}

fn target_argv(opts: &RecordOptions, self_exe: &Path) -> Result<Vec<OsString>, RecordError> {
    match &opts.target {
        Target::Workload {
            name,
            args,
            oom_prone,
            ..
        } => {
            if *oom_prone && opts.mem_limit.is_none() {
                return Err(RecordError::NeedsMemLimit { name: name.clone() });
            }
            let mut v: Vec<OsString> = vec![self_exe.into(), "workload".into(), name.into()];
            v.extend(args.iter().map(OsString::from));
            Ok(v)
        }
        Target::Command(argv) => {
            let first = argv.first().ok_or(RecordError::NoTarget)?;
            if resolve_command(first).is_none() {
                return Err(RecordError::CommandNotFound(
                    first.to_string_lossy().into_owned(),
                ));
            }
            Ok(argv.clone())
        }
    }
}

fn check_privileges(opts: &RecordOptions, host: &HostFacts) -> Result<(), RecordError> {
    if opts.mem_limit.is_some() {
        if !host.is_root {
            return Err(RecordError::NeedsRoot {
                what: "--mem-limit (a memory cgroup)",
            });
        }
        if host.cgroup.is_none() {
            return Err(RecordError::Cgroup(CgroupError::NoController));
        }
    }
    if opts.thp.is_some() && !host.is_root {
        return Err(RecordError::NeedsRoot {
            what: "--thp (writing /sys/kernel/mm/transparent_hugepage/enabled)",
        });
    }
    if !host.is_root {
        let value = host.perf_event_paranoid.unwrap_or(2);
        // Tracepoints need -1 without root; system-wide sampling needs 0.
        if value > -1 {
            return Err(RecordError::Paranoid {
                value,
                needed: -1,
                what: "recording tracepoints",
            });
        }
    }
    Ok(())
}

fn perf_args(opts: &RecordOptions, event: &str, system_wide: bool, out: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "record".into(),
        "-k".into(),
        "mono".into(),
        "-g".into(),
        "-F".into(),
        opts.freq.to_string().into(),
        "-e".into(),
        event.into(),
    ];
    let mut events: Vec<&str> = MARKERS.to_vec();
    if let Target::Workload {
        expected_faults: Some(n),
        ..
    } = opts.target
        && n <= COUNTED_FAULTS_LIMIT
    {
        events.push(COUNTED_FAULTS_EVENT);
    }
    events.extend(opts.extra_events.iter().map(String::as_str));
    for e in events {
        args.push("-e".into());
        args.push(e.into());
    }
    if system_wide {
        args.push("-a".into());
    }
    args.push("-o".into());
    args.push(RunDir::new(out).perf_data().into());
    args.push("--".into());
    args
}

fn child_argv(
    opts: &RecordOptions,
    self_exe: &Path,
    run_dir: &Path,
    cgroup: Option<&Path>,
    target_argv: Vec<OsString>,
) -> Vec<OsString> {
    let mut child: Vec<OsString> = vec![
        self_exe.into(),
        "exec".into(),
        "--run-dir".into(),
        run_dir.into(),
        "--tail-ms".into(),
        opts.tail.as_millis().to_string().into(),
    ];
    if let Some(cg) = cgroup {
        child.push("--cgroup".into());
        child.push(cg.into());
    }
    child.push("--".into());
    child.extend(target_argv);
    child
}

/// Finds a command the way exec does: a path with a slash as is, else along `PATH`.
pub fn resolve_command(cmd: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let p = Path::new(cmd);
    if p.as_os_str().as_encoded_bytes().contains(&b'/') {
        return is_exec(p).then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(cmd))
        .find(|c| is_exec(c))
}
