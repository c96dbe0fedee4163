//! `faultline exec`: the small process perf starts. It forks the target, moves the
//! child (and only the child) into the run's cgroup before exec, tells the /proc
//! sampler the child's pid, waits, records how the child ended, and lingers for a
//! moment so perf keeps recording the exit work the kernel defers.
//!
//! Stopping: the child dies with this wrapper (PR_SET_PDEATHSIG), and a stop signal
//! (perf sends SIGTERM when it is stopped; a terminal sends SIGINT or SIGHUP) is passed
//! on to the child, which is still reaped and its exit still written.

use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::record::run_dir::{RunDir, WorkloadExit};
use crate::sys::monotonic_ns;

/// `faultline exec` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    /// The run directory (pid and exit files go here).
    pub run_dir: PathBuf,
    /// The cgroup directory the child joins before exec.
    pub cgroup: Option<PathBuf>,
    /// How long to wait after the child is reaped.
    pub tail: Duration,
    /// The command.
    pub argv: Vec<OsString>,
}

/// Runs the wrapper; returns the exit code to leave with (the child's, or 128 + signal).
pub fn run(opts: &ExecOptions) -> Result<i32, String> {
    let (prog, args) = opts.argv.split_first().ok_or("exec: no command given")?;
    let run = RunDir::new(&opts.run_dir);
    // Perf started this wrapper; if perf dies, so does the wrapper's reason to run.
    // SAFETY: prctl(PR_SET_PDEATHSIG) has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    let mut cmd = Command::new(prog);
    cmd.args(args);
    cmd.env("FAULTLINE_RUN_DIR", &opts.run_dir);
    let procs = match &opts.cgroup {
        Some(cg) => Some(
            CString::new(cg.join("cgroup.procs").as_os_str().as_bytes())
                .map_err(|_| "exec: cgroup path has a NUL byte")?,
        ),
        None => None,
    };
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, open, getpid, write, close) on memory prepared
    // before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            match &procs {
                Some(p) => join_cgroup_raw(p),
                None => Ok(()),
            }
        });
    }
    let start = monotonic_ns();
    let child = cmd
        .spawn()
        .map_err(|e| format!("exec: {}: {e}", prog.to_string_lossy()))?;
    let pid = child.id() as i32;
    // Set only now, so the child kept the default dispositions.
    crate::sys::catch_stop_signals_interrupting();
    let pid_file = run.pid_file();
    fs::write(&pid_file, format!("{pid}\n")).map_err(|e| format!("{}: {e}", pid_file.display()))?;
    let status = wait_passing_signals(pid)?;
    let exit = WorkloadExit {
        pid,
        code: status.code(),
        signal: status.signal(),
        start_mono_ns: start,
        end_mono_ns: monotonic_ns(),
    };
    run.write_exit(&exit).map_err(|e| e.to_string())?;
    // Lingering lets perf catch deferred exit work; a stopped run is not waited for.
    if crate::sys::stop_signal().is_none() {
        std::thread::sleep(opts.tail);
    }
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    })
}

/// Waits for `pid`, passing a stop signal caught meanwhile on to it (once).
fn wait_passing_signals(pid: i32) -> Result<std::process::ExitStatus, String> {
    let mut forwarded = false;
    loop {
        if !forwarded && let Some(sig) = crate::sys::stop_signal() {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe {
                libc::kill(pid, sig);
            }
            forwarded = true;
        }
        let mut raw = 0;
        // SAFETY: waitpid on our own child with a status int we own. The stop-signal
        // handler is installed without SA_RESTART, so a signal ends the wait (EINTR).
        let r = unsafe { libc::waitpid(pid, &mut raw, 0) };
        if r == pid {
            return Ok(std::process::ExitStatus::from_raw(raw));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("exec: wait: {e}"));
        }
    }
}

/// Writes the calling process's pid into `cgroup.procs`, without allocating.
fn join_cgroup_raw(procs: &CString) -> std::io::Result<()> {
    // SAFETY: plain syscalls on a NUL-terminated path and a stack buffer.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut buf = [0u8; 16];
        let mut n = libc::getpid() as u32;
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let len = buf.len() - i;
        let w = libc::write(fd, buf[i..].as_ptr().cast(), len);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if w != len as isize {
            return Err(err);
        }
    }
    Ok(())
}
