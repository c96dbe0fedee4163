//! A fake machine for the runner's tests: it keeps THP and cgroups in memory, plays
//! perf from a committed recording, and logs every effect in order, so the tests can
//! check what `record` did, and in which order, without root or perf.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::procfs::{ThpSettings, VmSysctls};
use crate::record::cgroup::{CgroupError, Controller};
use crate::record::run_dir::{RunDir, WorkloadExit};
use crate::record::system::{CgroupStats, PerfRun, System};
use crate::units::Bytes;

/// How the fake perf behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perf {
    /// Writes perf.data and exits with this code; the workload exits 0.
    Records(i32),
    /// Cannot be started (no such binary, say).
    FailsToStart,
    /// Exits with this code without writing perf.data (a bad event).
    FailsWith(i32),
    /// Records, but `perf script` fails.
    ScriptFails,
}

/// The fake machine.
#[derive(Debug)]
pub struct Fake {
    /// Every effect, in order.
    pub log: Vec<String>,
    /// THP `enabled`.
    pub thp: String,
    /// Cgroups that exist.
    pub cgroups: BTreeSet<PathBuf>,
    /// perf's behaviour.
    pub perf: Perf,
    /// A stop signal that arrives while perf runs.
    pub signal_during_perf: Option<i32>,
    /// Creating a cgroup fails.
    pub cgroup_fails: bool,
    /// OOM kills the cgroup reports.
    pub oom_kills: u64,
    /// Pids that are alive.
    pub alive: BTreeSet<i32>,
    /// The state directory, to check that a change was written down before it was made.
    pub state_dir: PathBuf,
    stop: Option<i32>,
}

impl Fake {
    /// A machine with THP at `madvise` and no cgroups, whose state lives in `state_dir`.
    pub fn new(state_dir: &Path) -> Fake {
        Fake {
            log: Vec::new(),
            thp: "madvise".into(),
            cgroups: BTreeSet::new(),
            perf: Perf::Records(0),
            signal_during_perf: None,
            cgroup_fails: false,
            oom_kills: 0,
            alive: BTreeSet::new(),
            state_dir: state_dir.to_path_buf(),
            stop: None,
        }
    }

    /// What this process's state file says now (empty when there is none).
    fn state_now(&self) -> String {
        let path = self
            .state_dir
            .join(format!("run-{}.json", std::process::id()));
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

/// What perf and the exec wrapper leave in a run directory.
fn write_recording(run: &RunDir) {
    // A real recording, so the samples can be counted from it.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/perf-data/pd.data");
    std::fs::copy(fixture, run.perf_data()).unwrap();
    let exit = WorkloadExit {
        pid: 4242,
        code: Some(0),
        signal: None,
        start_mono_ns: 1,
        end_mono_ns: 2,
    };
    run.write_exit(&exit).unwrap();
}

fn status(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

impl System for Fake {
    fn record(
        &mut self,
        args: &[OsString],
        run_dir: &Path,
        _interval: Duration,
        progress: &(dyn Fn(&str) + Sync),
    ) -> PerfRun {
        let line: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        self.log.push(format!("perf {}", line.join(" ")));
        progress("recording");
        self.stop = self.signal_during_perf;
        let run = RunDir::new(run_dir);
        let status = match self.perf {
            Perf::FailsToStart => Err(io::Error::from(io::ErrorKind::NotFound)),
            Perf::FailsWith(c) => Ok(status(c)),
            Perf::Records(c) => {
                write_recording(&run);
                Ok(status(c))
            }
            Perf::ScriptFails => {
                write_recording(&run);
                Ok(status(0))
            }
        };
        PerfRun {
            status,
            snapshots: Ok(3),
        }
    }

    fn perf_script(&mut self, data: &Path, out: &Path) -> io::Result<ExitStatus> {
        self.log.push(format!("perf script {}", data.display()));
        if self.perf == Perf::ScriptFails {
            return Ok(status(1));
        }
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/runs/breadth-first-10k/perf.script");
        std::fs::copy(fixture, out)?;
        Ok(status(0))
    }

    fn stop_signal(&self) -> Option<i32> {
        self.stop
    }

    fn thp_mode(&mut self) -> io::Result<String> {
        Ok(self.thp.clone())
    }

    fn set_thp_mode(&mut self, mode: &str) -> io::Result<()> {
        let state = self.state_now();
        self.log.push(format!("thp {mode} (state: {state})"));
        self.thp = mode.into();
        Ok(())
    }

    fn thp_settings(&mut self) -> Option<ThpSettings> {
        Some(ThpSettings {
            enabled: self.thp.clone(),
            defrag: "madvise".into(),
            use_zero_page: true,
        })
    }

    fn vm_sysctls(&mut self) -> Option<VmSysctls> {
        Some(VmSysctls {
            overcommit_memory: 0,
            overcommit_ratio: 50,
            max_map_count: 65530,
        })
    }

    fn create_cgroup(
        &mut self,
        _ctl: &Controller,
        path: &Path,
        limit: Bytes,
    ) -> Result<(), CgroupError> {
        let state = self.state_now();
        self.log.push(format!(
            "cgroup create {} {} (state: {state})",
            path.display(),
            limit.0
        ));
        if self.cgroup_fails {
            return Err(CgroupError::Io {
                path: path.to_path_buf(),
                source: io::Error::from(io::ErrorKind::PermissionDenied),
            });
        }
        self.cgroups.insert(path.to_path_buf());
        Ok(())
    }

    fn cgroup_stats(
        &mut self,
        _ctl: &Controller,
        _path: &Path,
    ) -> Result<CgroupStats, CgroupError> {
        Ok(CgroupStats {
            oom_kills: self.oom_kills,
            peak: Some(Bytes(1 << 20)),
        })
    }

    fn remove_cgroup(&mut self, path: &Path) -> Result<bool, CgroupError> {
        self.log.push(format!("cgroup remove {}", path.display()));
        Ok(self.cgroups.remove(path))
    }

    fn is_alive(&self, pid: i32, _start_ticks: Option<u64>) -> bool {
        self.alive.contains(&pid)
    }

    fn own_start_ticks(&self) -> Option<u64> {
        Some(7)
    }
}
