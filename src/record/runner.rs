//! `faultline record`: run a workload or command under `perf record`, capped in a
//! memory cgroup, with THP set on request, and `/proc` sampled on the samples' clock.
//!
//! The decisions are made by [`plan`](crate::record::plan::plan) from plain facts about
//! the host; the effects go through [`System`], so every stage here is tested with a
//! fake machine. The stages: take the THP lock; stage a directory beside the run
//! directory; make the machine changes (each written to the state file first); run perf
//! with the sampler; read the cgroup's figures; undo every change (on every path); turn
//! count perf.data's samples (and write perf.script on request); write the manifest; rename the staging directory into
//! place.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::procfs::ThpSettings;
use crate::record::error::io_err;
use crate::record::run_dir::{CgroupInfo, FORMAT, Manifest, ManifestTarget, RunDir};
use crate::record::state::{StateDir, StateFile};
use crate::record::system::{CgroupStats, PerfRun, System};

pub use crate::record::error::RecordError;
pub use crate::record::plan::{
    COUNTED_FAULTS_EVENT, COUNTED_FAULTS_LIMIT, HostFacts, MARKERS, Plan, RecordOptions, Scope,
    Target, plan, resolve_command,
};
pub use crate::record::run_dir::{WorkloadExit, files};
pub use crate::record::system::RealSystem;

/// What a finished recording produced.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    /// The manifest written to `manifest.json`.
    pub manifest: Manifest,
    /// Whether a stop signal ended the recording early.
    pub interrupted: bool,
}

/// Runs a recording as planned. `progress` receives a status line now and then (and
/// the reason when the run waits for another one's THP lock).
pub fn record(
    opts: &RecordOptions,
    host: &HostFacts,
    plan: &Plan,
    sys: &mut dyn System,
    state: &StateDir,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<RecordOutcome, RecordError> {
    let started = Instant::now();
    // A run that changes nothing on the machine needs no state; without root it
    // cannot write /run/faultline, and need not.
    let changes_machine = opts.thp.is_some() || opts.mem_limit.is_some();
    let _lock = match state.lock(opts.thp.is_some(), opts.no_wait, &|holder| {
        progress(&match holder {
            Some(p) => format!("waiting for faultline record (pid {p}), which changed THP"),
            None => "waiting for a faultline record that changed THP".to_string(),
        })
    }) {
        Ok(lock) => Some(lock),
        Err(RecordError::Io { source, .. })
            if !changes_machine && source.kind() == io::ErrorKind::PermissionDenied =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let mut changes = Changes {
        file: state.file_for(std::process::id() as i32, sys.own_start_ticks()),
        thp_previous: None,
        cgroup: None,
    };
    changes.file.state.staging = Some(plan.staging.clone());
    let saved = changes.file.save();
    if changes_machine {
        saved?;
    }
    let mut staging = Staging::create(&plan.staging)?;
    let result = stages(opts, host, plan, sys, &mut changes, started, progress);
    if result.is_ok() {
        staging.keep = true;
    }
    drop(staging);
    if changes.is_undone() {
        changes.file.remove()?;
    }
    let manifest = result?;
    Ok(RecordOutcome {
        interrupted: manifest.interrupted,
        manifest,
    })
}

/// Everything between staging and publishing; the caller cleans up after it.
fn stages(
    opts: &RecordOptions,
    host: &HostFacts,
    plan: &Plan,
    sys: &mut dyn System,
    changes: &mut Changes,
    started: Instant,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Manifest, RecordError> {
    let ran = run(opts, host, plan, sys, changes, progress);
    // Undone on every path, and before perf script: give the machine back early.
    let undone = changes.undo(sys);
    let ran = ran?;
    undone?;
    let manifest = finish(opts, host, plan, sys, ran, started)?;
    publish(&plan.staging, &opts.run_dir, opts.force)?;
    Ok(manifest)
}

/// What the recording stage leaves for the manifest.
struct Ran {
    perf: PerfRun,
    stop_signal: Option<i32>,
    thp_before: Option<ThpSettings>,
    thp: Option<ThpSettings>,
    cgroup: Option<CgroupInfo>,
    oom_kills: u64,
}

/// Makes the machine changes, runs perf and reads the cgroup's figures.
fn run(
    opts: &RecordOptions,
    host: &HostFacts,
    plan: &Plan,
    sys: &mut dyn System,
    changes: &mut Changes,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Ran, RecordError> {
    let thp_before = sys.thp_settings();
    if let Some(mode) = opts.thp {
        changes.set_thp(sys, mode.as_str())?;
    }
    let thp = sys.thp_settings();
    if let (Some(limit), Some(ctl), Some(path)) = (opts.mem_limit, &host.cgroup, &plan.cgroup) {
        changes.create_cgroup(sys, ctl, path, limit)?;
    }
    let perf = sys.record(
        &plan.perf_args,
        &plan.staging,
        opts.snapshot_interval,
        progress,
    );
    let stop_signal = sys.stop_signal();
    let (stats, cgroup) = match (&host.cgroup, &changes.cgroup) {
        (Some(ctl), Some(path)) => {
            let s = sys.cgroup_stats(ctl, path)?;
            let info = CgroupInfo {
                version: ctl.version,
                limit_bytes: opts.mem_limit.map(|b| b.0),
                peak_usage_bytes: s.peak.map(|b| b.0),
            };
            (s, Some(info))
        }
        (Some(ctl), None) => {
            let info = CgroupInfo {
                version: ctl.version,
                limit_bytes: None,
                peak_usage_bytes: None,
            };
            (CgroupStats::default(), Some(info))
        }
        _ => (CgroupStats::default(), None),
    };
    Ok(Ran {
        perf,
        stop_signal,
        thp_before,
        thp,
        cgroup,
        oom_kills: stats.oom_kills,
    })
}

/// Converts perf.data, counts the samples and writes the manifest into the staging
/// directory.
fn finish(
    opts: &RecordOptions,
    host: &HostFacts,
    plan: &Plan,
    sys: &mut dyn System,
    ran: Ran,
    started: Instant,
) -> Result<Manifest, RecordError> {
    let run = RunDir::new(&plan.staging);
    let snapshots = ran.perf.snapshots.map_err(io_err(&run.proc_dir()))?;
    let status = ran.perf.status.map_err(io_err(Path::new("perf")))?;
    let data = run.perf_data();
    if !data.is_file() {
        return Err(RecordError::PerfFailed {
            step: "record",
            status: status.to_string(),
        });
    }
    // perf record passes on the workload's failure; that is the workload's story
    // (an OOM kill is the point of some runs), not perf's, when data was written.
    if opts.script {
        let script = run.perf_script();
        let st = sys.perf_script(&data, &script).map_err(io_err(&script))?;
        if !st.success() {
            return Err(RecordError::PerfFailed {
                step: "script",
                status: st.to_string(),
            });
        }
    }
    let manifest = Manifest {
        format: Some(FORMAT.into()),
        faultline_version: env!("CARGO_PKG_VERSION").into(),
        target: manifest_target(&opts.target),
        kernel: host.kernel.clone(),
        perf_version: host.perf_version.clone(),
        event: plan.event.clone(),
        hrtimer: plan.hrtimer,
        frequency_hz: opts.freq,
        system_wide: plan.system_wide,
        perf_args: lossy(&plan.perf_args),
        thp: ran.thp,
        thp_before: ran.thp_before,
        vm: sys.vm_sysctls(),
        cgroup: ran.cgroup,
        exit: run.read_exit().ok().flatten(),
        oom_kills: ran.oom_kills,
        interrupted: ran.stop_signal.is_some(),
        stop_signal: ran.stop_signal,
        perf_status: status.code(),
        wall_seconds: started.elapsed().as_secs_f64(),
        proc_snapshots: snapshots,
        samples: count_samples(&data)?,
    };
    run.write_manifest(&manifest)?;
    Ok(manifest)
}

fn manifest_target(t: &Target) -> ManifestTarget {
    match t {
        Target::Workload { name, params, .. } => ManifestTarget {
            workload: Some(name.clone()),
            params: Some(params.clone()),
            command: None,
        },
        Target::Command(argv) => ManifestTarget {
            command: Some(lossy(argv)),
            ..ManifestTarget::default()
        },
    }
}

fn lossy(args: &[std::ffi::OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The machine changes of one run, each written to the state file before it is made,
/// and undone by [`Changes::undo`] on every path out of [`record`].
struct Changes {
    file: StateFile,
    thp_previous: Option<String>,
    cgroup: Option<PathBuf>,
}

impl Changes {
    fn set_thp(&mut self, sys: &mut dyn System, mode: &str) -> Result<(), RecordError> {
        let thp = Path::new(crate::record::thp::THP_ENABLED);
        let previous = sys.thp_mode().map_err(io_err(thp))?;
        self.file.state.thp_previous = Some(previous.clone());
        self.file.save()?;
        self.thp_previous = Some(previous);
        sys.set_thp_mode(mode).map_err(io_err(thp))
    }

    fn create_cgroup(
        &mut self,
        sys: &mut dyn System,
        ctl: &crate::record::cgroup::Controller,
        path: &Path,
        limit: crate::units::Bytes,
    ) -> Result<(), RecordError> {
        self.file.state.cgroups.push(path.to_path_buf());
        self.file.save()?;
        self.cgroup = Some(path.to_path_buf());
        sys.create_cgroup(ctl, path, limit)?;
        Ok(())
    }

    /// Empties and removes the cgroup, restores THP; the first failure is returned
    /// after everything was tried. The state file stays (naming only the staging
    /// directory) until the run is in place.
    fn undo(&mut self, sys: &mut dyn System) -> Result<(), RecordError> {
        let mut first: Option<RecordError> = None;
        if let Some(cg) = self.cgroup.take() {
            match sys.remove_cgroup(&cg) {
                Ok(_) => self.file.state.cgroups.retain(|c| *c != cg),
                Err(e) => first = first.or(Some(e.into())),
            }
        }
        if let Some(prev) = self.thp_previous.take() {
            let thp = Path::new(crate::record::thp::THP_ENABLED);
            match sys.set_thp_mode(&prev) {
                Ok(()) => self.file.state.thp_previous = None,
                Err(e) => first = first.or(Some(io_err(thp)(e))),
            }
        }
        if !self.is_undone() {
            self.file.save()?;
        }
        first.map_or(Ok(()), Err)
    }

    /// Whether nothing is left to undo (the staging directory is gone or in place).
    fn is_undone(&self) -> bool {
        self.file.state.cgroups.is_empty() && self.file.state.thp_previous.is_none()
    }
}

/// The staging directory; removed unless the run completed and was moved into place.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    fn create(path: &Path) -> Result<Staging, RecordError> {
        let run = RunDir::new(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        // A staging directory of an earlier run of this pid is ours; anything else
        // with that name is refused by create_dir.
        fs::create_dir(path).map_err(io_err(path))?;
        let staging = Staging {
            path: path.to_path_buf(),
            keep: false,
        };
        fs::create_dir(run.proc_dir()).map_err(io_err(&run.proc_dir()))?;
        Ok(staging)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Moves the finished run from `staging` to `run_dir`. A previous run there (checked
/// again now: it may have changed while perf recorded) is moved aside first, and only
/// deleted once the new one is in place.
pub fn publish(staging: &Path, run_dir: &Path, force: bool) -> Result<(), RecordError> {
    if fs::symlink_metadata(run_dir).is_err() {
        return fs::rename(staging, run_dir).map_err(io_err(run_dir));
    }
    if !force {
        return Err(RecordError::RunDirExists {
            path: run_dir.to_path_buf(),
        });
    }
    crate::record::plan::replaceable(run_dir)?;
    let mut old = staging.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    fs::rename(run_dir, &old).map_err(io_err(run_dir))?;
    if let Err(e) = fs::rename(staging, run_dir) {
        let _ = fs::rename(&old, run_dir);
        return Err(io_err(run_dir)(e));
    }
    fs::remove_dir_all(&old).map_err(io_err(&old))
}

/// Samples per event in perf.data, read the way `analyze` reads it.
fn count_samples(data: &Path) -> Result<std::collections::BTreeMap<String, u64>, RecordError> {
    use crate::ingest::load::{LoadOptions, load};
    // An empty recording (a workload that refused to run) is still a run.
    let opts = LoadOptions {
        allow_empty: true,
        ..LoadOptions::default()
    };
    let loaded = load(Some(data), &opts).map_err(|e| RecordError::Io {
        path: data.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(loaded
        .profile
        .events
        .iter()
        .map(|e| (e.name.clone(), e.samples))
        .collect())
}
