//! The seam between a recording's logic and the machine: everything `record` does to the
//! system (perf, the /proc sampler, cgroups, THP, process liveness, stop signals) goes
//! through [`System`]. [`RealSystem`] does it; the tests' fake records what was asked.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::procfs::{ThpSettings, VmSysctls, live};
use crate::record::cgroup::{self, CgroupError, Controller};
use crate::record::sampler;
use crate::record::thp::THP_ENABLED;
use crate::units::Bytes;

/// What `perf record` and the sampler running beside it came to.
#[derive(Debug)]
pub struct PerfRun {
    /// perf's exit status.
    pub status: io::Result<ExitStatus>,
    /// Timeline lines the sampler wrote.
    pub snapshots: io::Result<u64>,
}

/// Cgroup figures read before the cgroup is removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// OOM kills inside it.
    pub oom_kills: u64,
    /// Peak usage, where tracked.
    pub peak: Option<Bytes>,
}

/// Everything a recording does to the machine.
pub trait System {
    /// Runs `perf ARGS` with the /proc sampler beside it (writing into `run_dir` every
    /// `interval`), passing a stop signal on to perf, and waits for perf.
    fn record(
        &mut self,
        args: &[OsString],
        run_dir: &Path,
        interval: Duration,
        progress: &(dyn Fn(&str) + Sync),
    ) -> PerfRun;
    /// Runs `perf script --header -i DATA` into `out`.
    fn perf_script(&mut self, data: &Path, out: &Path) -> io::Result<ExitStatus>;
    /// The stop signal caught so far (INT, TERM, HUP, QUIT), if any.
    fn stop_signal(&self) -> Option<i32>;
    /// The THP `enabled` mode in force.
    fn thp_mode(&mut self) -> io::Result<String>;
    /// Sets the THP `enabled` mode.
    fn set_thp_mode(&mut self, mode: &str) -> io::Result<()>;
    /// All THP settings, for the manifest.
    fn thp_settings(&mut self) -> Option<ThpSettings>;
    /// vm sysctls, for the manifest.
    fn vm_sysctls(&mut self) -> Option<VmSysctls>;
    /// Creates a memory cgroup at `path` with `limit`.
    fn create_cgroup(
        &mut self,
        ctl: &Controller,
        path: &Path,
        limit: Bytes,
    ) -> Result<(), CgroupError>;
    /// OOM kills and peak usage of the cgroup at `path`.
    fn cgroup_stats(&mut self, ctl: &Controller, path: &Path) -> Result<CgroupStats, CgroupError>;
    /// Kills everything in the cgroup at `path` and removes it; `Ok(false)` when it
    /// did not exist.
    fn remove_cgroup(&mut self, path: &Path) -> Result<bool, CgroupError>;
    /// Whether process `pid` is alive and (when given) started at `start_ticks`.
    fn is_alive(&self, pid: i32, start_ticks: Option<u64>) -> bool;
    /// This process's start time, for [`System::is_alive`] to tell a reused pid apart.
    fn own_start_ticks(&self) -> Option<u64>;
}

/// The real machine: the `perf` binary, sysfs, cgroupfs, /proc.
#[derive(Debug, Default)]
pub struct RealSystem;

impl System for RealSystem {
    fn record(
        &mut self,
        args: &[OsString],
        run_dir: &Path,
        interval: Duration,
        progress: &(dyn Fn(&str) + Sync),
    ) -> PerfRun {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let sampler = scope.spawn(|| sampler::run(run_dir, interval, &stop, progress));
            let status = run_perf(args);
            stop.store(true, Ordering::SeqCst);
            let snapshots = sampler
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the /proc sampler panicked")));
            PerfRun { status, snapshots }
        })
    }

    fn perf_script(&mut self, data: &Path, out: &Path) -> io::Result<ExitStatus> {
        let file = fs::File::create(out)?;
        Command::new("perf")
            .args(["script", "--header", "-i"])
            .arg(data)
            .stdout(file)
            .status()
    }

    fn stop_signal(&self) -> Option<i32> {
        crate::sys::stop_signal()
    }

    fn thp_mode(&mut self) -> io::Result<String> {
        let text = fs::read_to_string(THP_ENABLED)?;
        crate::procfs::parse_bracketed(&text)
            .ok_or_else(|| io::Error::other(format!("{THP_ENABLED}: unexpected {text:?}")))
    }

    fn set_thp_mode(&mut self, mode: &str) -> io::Result<()> {
        fs::write(THP_ENABLED, mode)
    }

    fn thp_settings(&mut self) -> Option<ThpSettings> {
        live::read_thp().ok()
    }

    fn vm_sysctls(&mut self) -> Option<VmSysctls> {
        live::read_vm_sysctls().ok()
    }

    fn create_cgroup(
        &mut self,
        ctl: &Controller,
        path: &Path,
        limit: Bytes,
    ) -> Result<(), CgroupError> {
        cgroup::create(ctl, path, limit)
    }

    fn cgroup_stats(&mut self, ctl: &Controller, path: &Path) -> Result<CgroupStats, CgroupError> {
        Ok(CgroupStats {
            oom_kills: cgroup::oom_kills(ctl.version, path)?,
            peak: cgroup::peak_usage(ctl.version, path),
        })
    }

    fn remove_cgroup(&mut self, path: &Path) -> Result<bool, CgroupError> {
        if !path.exists() {
            return Ok(false);
        }
        cgroup::remove(path).map(|()| true)
    }

    fn is_alive(&self, pid: i32, start_ticks: Option<u64>) -> bool {
        match (start_ticks_of(pid), start_ticks) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    }

    fn own_start_ticks(&self) -> Option<u64> {
        start_ticks_of(std::process::id() as i32)
    }
}

/// Field 22 of `/proc/PID/stat` (after the parenthesised comm, which may hold spaces).
fn start_ticks_of(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Runs perf until it exits. A stop signal sent to faultline alone (not to its whole
/// process group, as a terminal's Ctrl-C is) is passed on as SIGINT, on which perf stops
/// and writes its data; if faultline dies outright, the kernel sends perf SIGTERM
/// (PR_SET_PDEATHSIG), which perf treats the same way.
fn run_perf(args: &[OsString]) -> io::Result<ExitStatus> {
    let mut cmd = Command::new("perf");
    cmd.args(args);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if !forwarded && crate::sys::stop_signal().is_some() {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
