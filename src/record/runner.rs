//! `faultline record`: run a workload or command under `perf record`, capped in a
//! memory cgroup, with THP set on request, and `/proc` sampled on the samples' clock.
//!
//! The decisions (which events, system-wide or not, what must be refused) are made by
//! [`plan`] from plain facts about the host, so they are tested without perf or root.
//! The effects go through [`Executor`], which the real implementation backs with the
//! `perf` binary.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::record::cgroup::{CgroupError, Controller, MemoryCgroup};
use crate::record::sampler;
use crate::record::thp::{ThpGuard, ThpMode};
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
}

impl RecordOptions {
    /// Options with the defaults the CLI uses.
    pub fn new(target: Target, run_dir: PathBuf) -> Self {
        RecordOptions {
            target,
            run_dir,
            force: false,
            mem_limit: None,
            thp: None,
            freq: 999,
            event: None,
            extra_events: Vec::new(),
            scope: Scope::Auto,
            snapshot_interval: Duration::from_millis(20),
            tail: Duration::from_secs(1),
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
        // SAFETY: geteuid has no preconditions.
        let is_root = unsafe { libc::geteuid() } == 0;
        let perf_event_paranoid = fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        // The kernel lists a `cpu` PMU only where hardware counters exist.
        let has_cpu_pmu = Path::new("/sys/bus/event_source/devices/cpu/type").exists()
            || Path::new("/sys/bus/event_source/devices/cpu_core/type").exists();
        HostFacts {
            perf_version,
            is_root,
            perf_event_paranoid,
            has_cpu_pmu,
            cgroup: Controller::detect().ok(),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Why a recording was refused or failed. Each names what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// No perf binary.
    #[error(
        "perf is not installed: install it with `apt-get install linux-perf` (Debian) or your distribution's perf package"
    )]
    PerfMissing,
    /// perf_event_paranoid forbids what the recording needs.
    #[error(
        "kernel.perf_event_paranoid is {value}, but {what} needs it at most {needed}: run as root or `sysctl kernel.perf_event_paranoid={needed}`"
    )]
    Paranoid {
        /// The current value.
        value: i32,
        /// The highest value that works.
        needed: i32,
        /// What needs it.
        what: &'static str,
    },
    /// Root is needed for cgroups or THP.
    #[error("{what} needs root (run faultline record as root)")]
    NeedsRoot {
        /// What needs root.
        what: &'static str,
    },
    /// An OOM-prone workload without a cap.
    #[error(
        "workload `{name}` can exhaust memory and only runs under a cap: add --mem-limit SIZE (for example --mem-limit 512m)"
    )]
    NeedsMemLimit {
        /// The workload.
        name: String,
    },
    /// No memory controller for --mem-limit.
    #[error("--mem-limit needs the memory cgroup controller: {0}")]
    Cgroup(#[from] CgroupError),
    /// The run directory exists.
    #[error("{}: already exists; choose another directory or pass --force to replace a previous run", path.display())]
    RunDirExists {
        /// The directory.
        path: PathBuf,
    },
    /// --force on something that is not a previous run.
    #[error("{}: --force only replaces an empty directory or a previous run (one with manifest.json); refusing to delete it", path.display())]
    NotARunDir {
        /// The directory.
        path: PathBuf,
    },
    /// The command does not exist.
    #[error("command not found: {0}")]
    CommandNotFound(String),
    /// Nothing to run.
    #[error("nothing to run: give --workload NAME or -- COMMAND")]
    NoTarget,
    /// perf failed.
    #[error("perf {step} failed ({status}); see its messages above")]
    PerfFailed {
        /// `record` or `script`.
        step: &'static str,
        /// Its exit status.
        status: String,
    },
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
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
    /// Arguments after `perf`.
    pub perf_args: Vec<OsString>,
    /// The command perf starts: faultline's exec wrapper around the target.
    pub child: Vec<OsString>,
}

/// Decides what to run, or refuses with the reason.
pub fn plan(opts: &RecordOptions, host: &HostFacts, self_exe: &Path) -> Result<Plan, RecordError> {
    if host.perf_version.is_none() {
        return Err(RecordError::PerfMissing);
    }
    if opts.run_dir.exists() {
        if !opts.force {
            return Err(RecordError::RunDirExists {
                path: opts.run_dir.clone(),
            });
        }
        let empty = fs::read_dir(&opts.run_dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !opts.run_dir.join("manifest.json").is_file() {
            return Err(RecordError::NotARunDir {
                path: opts.run_dir.clone(),
            });
        }
    }
    let target_argv: Vec<OsString> = match &opts.target {
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
            v
        }
        Target::Command(argv) => {
            let first = argv.first().ok_or(RecordError::NoTarget)?;
            if resolve_command(first).is_none() {
                return Err(RecordError::CommandNotFound(
                    first.to_string_lossy().into_owned(),
                ));
            }
            argv.clone()
        }
    };
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
    let oom_prone = matches!(
        opts.target,
        Target::Workload {
            oom_prone: true,
            ..
        }
    );
    let system_wide = match opts.scope {
        Scope::SystemWide => true,
        Scope::PerProcess => false,
        Scope::Auto => oom_prone,
    };
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
    let event = opts.event.clone().unwrap_or_else(|| {
        if host.has_cpu_pmu {
            "cycles".to_string()
        } else {
            "cpu-clock".to_string()
        }
    });
    let base = crate::ingest::script::header::base_name(&event);
    let hrtimer = matches!(base, "cpu-clock" | "task-clock");

    let mut perf_args: Vec<OsString> = vec![
        "record".into(),
        "-k".into(),
        "mono".into(),
        "-g".into(),
        "-F".into(),
        opts.freq.to_string().into(),
        "-e".into(),
        event.clone().into(),
    ];
    for m in MARKERS {
        perf_args.push("-e".into());
        perf_args.push(m.into());
    }
    if let Target::Workload {
        expected_faults: Some(n),
        ..
    } = opts.target
        && n <= COUNTED_FAULTS_LIMIT
    {
        perf_args.push("-e".into());
        perf_args.push(COUNTED_FAULTS_EVENT.into());
    }
    for e in &opts.extra_events {
        perf_args.push("-e".into());
        perf_args.push(e.into());
    }
    if system_wide {
        perf_args.push("-a".into());
    }
    perf_args.push("-o".into());
    perf_args.push(opts.run_dir.join("perf.data").into());
    perf_args.push("--".into());

    let mut child: Vec<OsString> = vec![
        self_exe.into(),
        "exec".into(),
        "--run-dir".into(),
        opts.run_dir.clone().into(),
        "--tail-ms".into(),
        opts.tail.as_millis().to_string().into(),
    ];
    if opts.mem_limit.is_some() {
        child.push("--cgroup".into());
        child.push(CGROUP_PLACEHOLDER.into());
    }
    child.push("--".into());
    child.extend(target_argv);
    perf_args.extend(child.iter().cloned());
    Ok(Plan {
        event,
        hrtimer,
        system_wide,
        perf_args,
        child,
    })
}

/// Stands for the cgroup directory in a plan; replaced once the cgroup exists.
pub const CGROUP_PLACEHOLDER: &str = "{cgroup}";

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

/// The effects of a recording: running perf.
pub trait Executor {
    /// Runs `perf ARGS`, letting its output through, and returns its status.
    fn perf(&mut self, args: &[OsString]) -> io::Result<ExitStatus>;
    /// Runs `perf ARGS` with standard output to `out`.
    fn perf_to_file(&mut self, args: &[OsString], out: &Path) -> io::Result<ExitStatus>;
}

/// Runs the real `perf` binary.
#[derive(Debug, Default)]
pub struct PerfExecutor;

impl Executor for PerfExecutor {
    fn perf(&mut self, args: &[OsString]) -> io::Result<ExitStatus> {
        let mut child = Command::new("perf").args(args).spawn()?;
        let mut forwarded = false;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            // A SIGINT sent to faultline alone (not its whole process group, as a
            // terminal's Ctrl-C is) is passed on, so perf stops and writes its data.
            if !forwarded && INTERRUPTED.load(Ordering::SeqCst) {
                // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGINT);
                }
                forwarded = true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn perf_to_file(&mut self, args: &[OsString], out: &Path) -> io::Result<ExitStatus> {
        let file = fs::File::create(out)?;
        Command::new("perf").args(args).stdout(file).status()
    }
}

/// How the workload ended, as the exec wrapper saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WorkloadExit {
    /// The workload's pid.
    pub pid: i32,
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal killed it (9 for the OOM killer).
    pub signal: Option<i32>,
    /// CLOCK_MONOTONIC nanoseconds when it started.
    pub start_mono_ns: u64,
    /// CLOCK_MONOTONIC nanoseconds when it was reaped.
    pub end_mono_ns: u64,
}

/// File names inside a run directory.
pub mod files {
    /// `perf record` output.
    pub const PERF_DATA: &str = "perf.data";
    /// `perf script --header` output.
    pub const PERF_SCRIPT: &str = "perf.script";
    /// The run manifest.
    pub const MANIFEST: &str = "manifest.json";
    /// The workload's pid, written by the exec wrapper as soon as it is known.
    pub const PID: &str = "workload.pid";
    /// How the workload ended ([`super::WorkloadExit`] as JSON).
    pub const EXIT: &str = "workload.exit.json";
    /// /proc snapshots.
    pub const PROC_DIR: &str = "proc";
}

/// What a finished recording produced.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    /// The manifest written to `manifest.json`.
    pub manifest: serde_json::Value,
    /// How the workload ended.
    pub exit: Option<WorkloadExit>,
    /// OOM kills in the run's cgroup.
    pub oom_kills: u64,
    /// Whether Ctrl-C stopped the recording.
    pub interrupted: bool,
}

/// Removes a run directory this run created unless the run completes.
struct RunDirGuard {
    path: PathBuf,
    keep: bool,
}

impl Drop for RunDirGuard {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches Ctrl-C in faultline itself (perf and the workload still get it and stop),
/// so that cleanup runs. A handler, unlike SIG_IGN, is reset by exec in children.
fn catch_sigint() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Runs a recording as planned. `progress` receives a status line now and then.
pub fn record(
    opts: &RecordOptions,
    host: &HostFacts,
    plan: &Plan,
    exec: &mut dyn Executor,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<RecordOutcome, RecordError> {
    let started = Instant::now();
    if opts.run_dir.exists() {
        // plan() checked that this is an empty directory or a previous run.
        fs::remove_dir_all(&opts.run_dir).map_err(io_err(&opts.run_dir))?;
    }
    fs::create_dir_all(opts.run_dir.join(files::PROC_DIR)).map_err(io_err(&opts.run_dir))?;
    let mut guard = RunDirGuard {
        path: opts.run_dir.clone(),
        keep: false,
    };
    let thp_settings_before = sampler::thp_settings();
    let _thp = match opts.thp {
        Some(mode) => {
            Some(ThpGuard::set(mode).map_err(io_err(Path::new(crate::record::thp::THP_ENABLED)))?)
        }
        None => None,
    };
    let thp_settings = sampler::thp_settings();
    let mut cgroup = match (opts.mem_limit, &host.cgroup) {
        (Some(limit), Some(ctl)) => Some(MemoryCgroup::create(
            ctl,
            &format!("faultline-{}-{}", std::process::id(), unique_suffix()),
            limit,
        )?),
        _ => None,
    };
    let mut args = plan.perf_args.clone();
    if let Some(cg) = &cgroup {
        for a in &mut args {
            if a == CGROUP_PLACEHOLDER {
                *a = cg.path().into();
            }
        }
    }

    catch_sigint();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let stop = AtomicBool::new(false);
    let (status, samples_seen) = std::thread::scope(|scope| {
        let sampler =
            scope.spawn(|| sampler::run(&opts.run_dir, opts.snapshot_interval, &stop, progress));
        let status = exec.perf(&args);
        stop.store(true, Ordering::SeqCst);
        let seen = sampler.join().unwrap_or(Ok(0));
        (status, seen)
    });
    let samples_seen = samples_seen.map_err(io_err(&opts.run_dir.join(files::PROC_DIR)))?;
    let status = status.map_err(|source| RecordError::Io {
        path: "perf".into(),
        source,
    })?;
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);

    let exit: Option<WorkloadExit> = fs::read(opts.run_dir.join(files::EXIT))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let oom_kills = match &cgroup {
        Some(cg) => cg.oom_kills()?,
        None => 0,
    };
    let cgroup_info = match (&cgroup, &host.cgroup) {
        (Some(cg), _) => json!({
            "version": cg.version(),
            "limit_bytes": cg.limit().0,
            "peak_usage_bytes": cg.peak_usage().map(|b| b.0),
        }),
        (None, Some(ctl)) => json!({"version": ctl.version, "limit_bytes": null}),
        (None, None) => json!(null),
    };
    if let Some(cg) = cgroup.as_mut() {
        cg.remove()?;
    }
    drop(cgroup);

    let data = opts.run_dir.join(files::PERF_DATA);
    if !data.is_file() {
        return Err(RecordError::PerfFailed {
            step: "record",
            status: status.to_string(),
        });
    }
    // perf record passes on the workload's failure; that is the workload's story
    // (an OOM kill is the point of some runs), not perf's, when data was written.
    let script = opts.run_dir.join(files::PERF_SCRIPT);
    let st = exec
        .perf_to_file(
            &[
                "script".into(),
                "--header".into(),
                "-i".into(),
                data.clone().into(),
            ],
            &script,
        )
        .map_err(io_err(&script))?;
    if !st.success() {
        return Err(RecordError::PerfFailed {
            step: "script",
            status: st.to_string(),
        });
    }
    let counts = count_samples(&script)?;

    let manifest = json!({
        "faultline_version": env!("CARGO_PKG_VERSION"),
        "target": match &opts.target {
            Target::Workload { name, params, .. } => json!({"workload": name, "params": params}),
            Target::Command(argv) => json!({"command": argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>()}),
        },
        "kernel": host.kernel,
        "perf_version": host.perf_version,
        "event": plan.event,
        "hrtimer": plan.hrtimer,
        "frequency_hz": opts.freq,
        "system_wide": plan.system_wide,
        "perf_args": plan.perf_args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
        "thp": thp_settings,
        "thp_before": thp_settings_before,
        "vm": sampler::vm_sysctls(),
        "cgroup": cgroup_info,
        "exit": exit.map(|e| json!({
            "pid": e.pid,
            "code": e.code,
            "signal": e.signal,
            "start_mono_ns": e.start_mono_ns,
            "end_mono_ns": e.end_mono_ns,
        })),
        "oom_kills": oom_kills,
        "interrupted": interrupted,
        "perf_status": status.code(),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "proc_snapshots": samples_seen,
        "samples": counts,
    });
    let path = opts.run_dir.join(files::MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialise");
    fs::write(&path, text + "\n").map_err(io_err(&path))?;
    guard.keep = true;
    Ok(RecordOutcome {
        manifest,
        exit,
        oom_kills,
        interrupted,
    })
}

fn unique_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_007)
}

/// Samples per event in a `perf script` file.
fn count_samples(script: &Path) -> Result<serde_json::Map<String, serde_json::Value>, RecordError> {
    let input = crate::ingest::input::Input::open(Some(script)).map_err(|e| RecordError::Io {
        path: script.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    let profile =
        crate::ingest::profile::Profile::build(input.bytes(), Default::default(), &|_| {});
    Ok(profile
        .events
        .iter()
        .map(|e| (e.name.clone(), json!(e.samples)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts {
            perf_version: Some("perf version 6.1".into()),
            is_root: true,
            perf_event_paranoid: Some(2),
            has_cpu_pmu: false,
            cgroup: Some(Controller {
                version: crate::record::cgroup::CgroupVersion::V1,
                root: "/sys/fs/cgroup/memory".into(),
            }),
            kernel: "6.18.0".into(),
        }
    }

    fn workload(oom_prone: bool) -> Target {
        Target::Workload {
            name: "breadth-first".into(),
            args: vec!["--faults".into(), "100".into()],
            oom_prone,
            params: json!({}),
            expected_faults: Some(100),
        }
    }

    fn opts(target: Target) -> RecordOptions {
        RecordOptions::new(target, "/nonexistent/faultline-run".into())
    }

    fn args(p: &Plan) -> Vec<String> {
        p.perf_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn default_plan_samples_cpu_clock_with_markers_per_process() {
        let p = plan(&opts(workload(false)), &host(), Path::new("/bin/faultline")).unwrap();
        assert_eq!(p.event, "cpu-clock");
        assert!(p.hrtimer);
        assert!(!p.system_wide);
        let a = args(&p);
        assert_eq!(
            &a[..8],
            ["record", "-k", "mono", "-g", "-F", "999", "-e", "cpu-clock"]
        );
        for m in MARKERS {
            assert!(a.iter().any(|x| x == m), "{m}");
        }
        assert!(
            a.iter().any(|x| x == COUNTED_FAULTS_EVENT),
            "few faults are counted"
        );
        assert!(!a.contains(&"-a".to_string()));
        let tail: Vec<&str> = a
            .iter()
            .skip_while(|x| *x != "--")
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            [
                "--",
                "/bin/faultline",
                "exec",
                "--run-dir",
                "/nonexistent/faultline-run",
                "--tail-ms",
                "1000",
                "--",
                "/bin/faultline",
                "workload",
                "breadth-first",
                "--faults",
                "100"
            ]
        );
    }

    #[test]
    fn cycles_where_a_pmu_exists() {
        let h = HostFacts {
            has_cpu_pmu: true,
            ..host()
        };
        let p = plan(&opts(workload(false)), &h, Path::new("/x")).unwrap();
        assert_eq!(p.event, "cycles");
        assert!(!p.hrtimer);
    }

    #[test]
    fn oom_prone_workloads_need_a_cap_and_record_system_wide() {
        let e = plan(&opts(workload(true)), &host(), Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("--mem-limit"), "{e}");
        let mut o = opts(workload(true));
        o.mem_limit = Some(Bytes(256 << 20));
        let p = plan(&o, &host(), Path::new("/x")).unwrap();
        assert!(p.system_wide);
        assert!(args(&p).contains(&"-a".to_string()));
        assert!(args(&p).contains(&CGROUP_PLACEHOLDER.to_string()));
    }

    #[test]
    fn refusals_name_the_fix() {
        let no_perf = HostFacts {
            perf_version: None,
            ..host()
        };
        let e = plan(&opts(workload(false)), &no_perf, Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("linux-perf"), "{e}");

        let user = HostFacts {
            is_root: false,
            ..host()
        };
        let e = plan(&opts(workload(false)), &user, Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("kernel.perf_event_paranoid"), "{e}");

        let mut o = opts(workload(false));
        o.thp = Some(ThpMode::Never);
        let user_ok = HostFacts {
            is_root: false,
            perf_event_paranoid: Some(-1),
            ..host()
        };
        let e = plan(&o, &user_ok, Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("needs root"), "{e}");

        let mut o = opts(workload(false));
        o.mem_limit = Some(Bytes(1 << 30));
        let no_cg = HostFacts {
            cgroup: None,
            ..host()
        };
        let e = plan(&o, &no_cg, Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("memory cgroup controller"), "{e}");

        let o = opts(Target::Command(vec!["no-such-command-faultline".into()]));
        let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
        assert!(
            e.to_string()
                .contains("command not found: no-such-command-faultline"),
            "{e}"
        );
    }

    #[test]
    fn run_dir_must_be_new_or_forced_previous_run() {
        let dir = std::env::temp_dir().join(format!("faultline-plan-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("precious.txt"), "x").unwrap();
        let mut o = RecordOptions::new(workload(false), dir.clone());
        let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        o.force = true;
        let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("refusing to delete"), "{e}");
        fs::write(dir.join("manifest.json"), "{}").unwrap();
        assert!(plan(&o, &host(), Path::new("/x")).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn commands_resolve_along_path() {
        assert!(resolve_command(OsStr::new("sh")).is_some());
        assert!(resolve_command(OsStr::new("/bin/sh")).is_some());
        assert!(resolve_command(OsStr::new("/bin/no-such-thing")).is_none());
    }
}
