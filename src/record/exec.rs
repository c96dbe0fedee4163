//! `faultline exec`: the small process perf starts. It forks the target, moves the
//! child (and only the child) into the run's cgroup before exec, tells the /proc
//! sampler the child's pid, waits, records how the child ended, and lingers for a
//! moment so perf keeps recording the exit work the kernel defers.

use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::record::runner::{WorkloadExit, files};
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
    let mut cmd = Command::new(prog);
    cmd.args(args);
    cmd.env("FAULTLINE_RUN_DIR", &opts.run_dir);
    if let Some(cg) = &opts.cgroup {
        let procs = CString::new(cg.join("cgroup.procs").as_os_str().as_bytes())
            .map_err(|_| "exec: cgroup path has a NUL byte")?;
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe calls (open, getpid, write, close) on memory prepared
        // before the fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || join_cgroup_raw(&procs));
        }
    }
    let start = monotonic_ns();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("exec: {}: {e}", prog.to_string_lossy()))?;
    let pid = child.id() as i32;
    let pid_file = opts.run_dir.join(files::PID);
    fs::write(&pid_file, format!("{pid}\n")).map_err(|e| format!("{}: {e}", pid_file.display()))?;
    // Ctrl-C reaches the whole process group: let the child die of it, but stay to
    // reap it and write the exit file. Set only now, so the child kept the default.
    // SAFETY: ignoring SIGINT in this process has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let status = child.wait().map_err(|e| format!("exec: wait: {e}"))?;
    let exit = WorkloadExit {
        pid,
        code: status.code(),
        signal: status.signal(),
        start_mono_ns: start,
        end_mono_ns: monotonic_ns(),
    };
    let exit_file = opts.run_dir.join(files::EXIT);
    fs::write(&exit_file, serde_json::to_vec(&exit).expect("serialisable"))
        .map_err(|e| format!("{}: {e}", exit_file.display()))?;
    std::thread::sleep(opts.tail);
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    })
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
