//! Memory cgroups that cap one workload process: created per run, holding only the
//! workload (the child joins before exec), emptied and removed afterwards. cgroup v1 and v2.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::units::Bytes;

pub use crate::procfs::CgroupVersion;

/// Errors from cgroup handling, each naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No memory controller is mounted.
    #[error(
        "no memory cgroup controller found (looked for /sys/fs/cgroup/memory/memory.limit_in_bytes and a v2 cgroup.controllers listing `memory`)"
    )]
    NoController,
    /// A cgroup file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the memory controller is mounted and how it is spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// The interface.
    pub version: CgroupVersion,
    /// The hierarchy root (`/sys/fs/cgroup/memory` for v1).
    pub root: PathBuf,
}

impl Controller {
    /// Finds the memory controller under `/sys/fs/cgroup`.
    pub fn detect() -> Result<Controller, CgroupError> {
        Self::detect_in(Path::new("/sys/fs/cgroup"))
    }

    /// Finds the memory controller under `base` (a test can point this elsewhere).
    pub fn detect_in(base: &Path) -> Result<Controller, CgroupError> {
        let v1 = base.join("memory");
        if v1.join("memory.limit_in_bytes").is_file() {
            return Ok(Controller {
                version: CgroupVersion::V1,
                root: v1,
            });
        }
        for root in [base.to_path_buf(), base.join("unified")] {
            let controllers =
                fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            if controllers.split_whitespace().any(|c| c == "memory") {
                return Ok(Controller {
                    version: CgroupVersion::V2,
                    root,
                });
            }
        }
        Err(CgroupError::NoController)
    }
}

/// Creates the cgroup `path` (a child of `ctl.root`) with the given memory limit (and
/// no swap, where settable).
pub fn create(ctl: &Controller, path: &Path, limit: Bytes) -> Result<(), CgroupError> {
    if ctl.version == CgroupVersion::V2 {
        // Children of the v2 root only get a memory.max file if the parent delegates it.
        let subtree = ctl.root.join("cgroup.subtree_control");
        let current = fs::read_to_string(&subtree).unwrap_or_default();
        if !current.split_whitespace().any(|c| c == "memory") {
            fs::write(&subtree, "+memory").map_err(io_err(&subtree))?;
        }
    }
    fs::create_dir(path).map_err(io_err(path))?;
    let (limit_file, swap_file) = match ctl.version {
        CgroupVersion::V1 => ("memory.limit_in_bytes", None),
        CgroupVersion::V2 => ("memory.max", Some("memory.swap.max")),
    };
    let f = path.join(limit_file);
    fs::write(&f, limit.0.to_string()).map_err(io_err(&f))?;
    if let Some(swap) = swap_file {
        let f = path.join(swap);
        if f.exists() {
            fs::write(&f, "0").map_err(io_err(&f))?;
        }
    }
    Ok(())
}

/// Processes the OOM killer killed inside the cgroup at `path`.
pub fn oom_kills(version: CgroupVersion, path: &Path) -> Result<u64, CgroupError> {
    let file = path.join(match version {
        CgroupVersion::V1 => "memory.oom_control",
        CgroupVersion::V2 => "memory.events",
    });
    let text = fs::read_to_string(&file).map_err(io_err(&file))?;
    Ok(parse_oom_kills(&text).unwrap_or(0))
}

/// Peak memory usage of the cgroup at `path`, where the kernel tracks it.
pub fn peak_usage(version: CgroupVersion, path: &Path) -> Option<Bytes> {
    let file = path.join(match version {
        CgroupVersion::V1 => "memory.max_usage_in_bytes",
        CgroupVersion::V2 => "memory.peak",
    });
    fs::read_to_string(file)
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Bytes)
}

fn procs(path: &Path) -> Vec<i32> {
    fs::read_to_string(path.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Kills everything inside the cgroup at `path`: `cgroup.kill` where the kernel has it
/// (v2, 5.14+), which also catches tasks forking meanwhile; else SIGKILL to every pid
/// in `cgroup.procs` (v1).
pub fn empty(path: &Path) -> Result<(), CgroupError> {
    let kill = path.join("cgroup.kill");
    if kill.is_file() {
        return fs::write(&kill, "1").map_err(io_err(&kill));
    }
    for pid in procs(path) {
        // SAFETY: kill(2) with a pid read from this cgroup's own procs file; faultline
        // created the cgroup and put only the workload in it.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    Ok(())
}

/// Empties the cgroup at `path` and removes it, retrying briefly while the kernel
/// finishes tearing down exited tasks. A cgroup already gone is fine.
pub fn remove(path: &Path) -> Result<(), CgroupError> {
    if !path.exists() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        empty(path)?;
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io_err(path)(e)),
        }
    }
}

/// Reads `oom_kill N` from `memory.oom_control` (v1) or `memory.events` (v2):
///
/// ```text
/// oom_kill_disable 0
/// under_oom 0
/// oom_kill 1
/// ```
pub fn parse_oom_kills(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == "oom_kill").then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kill_counts() {
        assert_eq!(
            parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            Some(3)
        );
        assert_eq!(
            parse_oom_kills("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"),
            Some(1)
        );
        assert_eq!(parse_oom_kills("oom_kill_disable 0\n"), None);
    }

    #[test]
    fn detects_v1_and_v2_layouts() {
        let base = std::env::temp_dir().join(format!("faultline-cg-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("unified")).unwrap();
        assert!(matches!(
            Controller::detect_in(&base),
            Err(CgroupError::NoController)
        ));
        fs::write(
            base.join("unified/cgroup.controllers"),
            "cpu io memory pids\n",
        )
        .unwrap();
        let c = Controller::detect_in(&base).unwrap();
        assert_eq!(
            (c.version, c.root.clone()),
            (CgroupVersion::V2, base.join("unified"))
        );
        fs::create_dir_all(base.join("memory")).unwrap();
        fs::write(
            base.join("memory/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(
            Controller::detect_in(&base).unwrap().version,
            CgroupVersion::V1
        );
        fs::remove_dir_all(&base).unwrap();
    }
}
