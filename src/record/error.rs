//! Why a recording was refused or failed. Each message names what to do about it.

use std::io;
use std::path::{Path, PathBuf};

use crate::record::cgroup::CgroupError;
use crate::record::run_dir::RunFileError;

/// Why a recording was refused or failed.
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
    #[error("{}: --force only replaces an empty directory or a previous faultline run (a manifest.json that faultline wrote); refusing to delete it", path.display())]
    NotARunDir {
        /// The directory.
        path: PathBuf,
    },
    /// --force on a previous run that holds files faultline did not write.
    #[error("{}: --force would delete files faultline did not write ({}); move them away or choose another directory", path.display(), names.join(", "))]
    ForeignFiles {
        /// The run directory.
        path: PathBuf,
        /// The entries faultline did not write.
        names: Vec<String>,
    },
    /// The command does not exist.
    #[error("command not found: {0}")]
    CommandNotFound(String),
    /// Nothing to run.
    #[error(
        "nothing to run: give a workload (`faultline record breadth-first --faults 1000`) or -- COMMAND"
    )]
    NoTarget,
    /// Another run that changes THP holds the lock and `--no-wait` was given.
    #[error("another faultline record{} is changing or relying on the THP mode; wait for it, or drop --no-wait to queue behind it", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy {
        /// The pid holding the lock, when known.
        holder: Option<i32>,
    },
    /// A stop signal came while waiting for another run's THP lock.
    #[error("stopped by signal {signal} while waiting for another recording; nothing was recorded")]
    StoppedWaiting {
        /// The signal.
        signal: i32,
    },
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
    /// A run file could not be written or read.
    #[error(transparent)]
    RunFile(#[from] RunFileError),
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}
