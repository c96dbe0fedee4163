//! What a recording changes on the machine, written down before each change, so that a
//! run killed outright (SIGKILL, a crash) can be undone by the next `faultline`
//! invocation or `faultline doctor`; and the lock that serialises runs that change THP.
//!
//! Each recording owns `STATE_DIR/run-PID.json` ([`RunState`]) from its first change to
//! its last undo. A file whose process is gone (or whose pid now belongs to another
//! process, told apart by the start time) is stale: [`recover`] restores the THP mode it
//! names, empties and removes its cgroups, removes its staging directory, and says so.
//!
//! The lock (`STATE_DIR/thp.lock`, flock): a run that sets THP holds it exclusively for
//! its whole life; every other run holds it shared, so no run's manifest names a THP
//! mode that was not in force for all of it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::error::{RecordError, io_err};
use crate::record::run_dir::RunDir;
use crate::record::system::System;

/// Where the state lives on a real system: tmpfs, gone after a reboot, as the state it
/// describes is.
pub const STATE_DIR: &str = "/run/faultline";

/// The changes one recording has made (or is about to make).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// The recording faultline process.
    pub pid: i32,
    /// Its start time (`/proc/PID/stat` field 22), to tell a reused pid apart.
    pub start_ticks: Option<u64>,
    /// The THP `enabled` mode to put back, once the run set another.
    pub thp_previous: Option<String>,
    /// Cgroups the run creates.
    pub cgroups: Vec<PathBuf>,
    /// The staging directory the run records into.
    pub staging: Option<PathBuf>,
}

/// The state directory (`/run/faultline`, or a scratch directory in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

/// This process's state file: saved before each change, removed after the last undo.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// What has been changed so far.
    pub state: RunState,
}

/// A held THP lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl StateDir {
    /// The state directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn create(&self) -> Result<(), RecordError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))
    }

    /// A state file for this process, not yet written.
    pub fn file_for(&self, pid: i32, start_ticks: Option<u64>) -> StateFile {
        StateFile {
            path: self.root.join(format!("run-{pid}.json")),
            state: RunState {
                pid,
                start_ticks,
                ..RunState::default()
            },
        }
    }

    /// Takes the THP lock: exclusive for a run that changes THP, shared otherwise.
    /// When another run holds it, `no_wait` refuses; else `waiting` is told (with the
    /// holder's pid, when known) and the call blocks.
    pub fn lock(
        &self,
        exclusive: bool,
        no_wait: bool,
        waiting: &dyn Fn(Option<i32>),
    ) -> Result<Lock, RecordError> {
        self.create()?;
        let path = self.root.join("thp.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        if !flock(&file, op | libc::LOCK_NB).map_err(io_err(&path))? {
            let holder = fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if no_wait {
                return Err(RecordError::Busy { holder });
            }
            waiting(holder);
            // Polled rather than blocking, so a stop signal ends the wait.
            while !flock(&file, op | libc::LOCK_NB).map_err(io_err(&path))? {
                if let Some(signal) = crate::sys::stop_signal() {
                    return Err(RecordError::StoppedWaiting { signal });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        if exclusive {
            // Only for the message a waiting run prints.
            let _ = file.set_len(0);
            let _ = writeln!(file, "{}", std::process::id());
        }
        Ok(Lock { _file: file })
    }

    /// Whether the THP lock is free right now (a stale THP change may then be undone).
    fn try_exclusive(&self) -> Option<Lock> {
        let path = self.root.join("thp.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ok()?;
        flock(&file, libc::LOCK_EX | libc::LOCK_NB)
            .ok()?
            .then_some(Lock { _file: file })
    }

    fn state_files(&self) -> Vec<PathBuf> {
        let Ok(dir) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("run-") && n.ends_with(".json")
                })
            })
            .collect();
        out.sort();
        out
    }
}

/// flock(2) with LOCK_NB in `op`; `Ok(false)` when the lock is held elsewhere.
fn flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    // SAFETY: flock on a descriptor this File owns for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(e),
    }
}

impl StateFile {
    /// Writes the state (to a temporary name, then renamed, so a kill mid-write leaves
    /// the previous version whole).
    pub fn save(&self) -> Result<(), RecordError> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec(&self.state).expect("RunState serialises");
        fs::write(&tmp, text).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &self.path).map_err(io_err(&self.path))
    }

    /// Removes the file once everything it names has been undone.
    pub fn remove(&self) -> Result<(), RecordError> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&self.path)(e)),
            _ => Ok(()),
        }
    }
}

/// The pids of recordings that died without undoing their changes.
pub fn stale(dir: &StateDir, sys: &dyn System) -> Vec<i32> {
    dir.state_files()
        .iter()
        .filter_map(|p| serde_json::from_slice::<RunState>(&fs::read(p).ok()?).ok())
        .filter(|s| s.pid != std::process::id() as i32 && !sys.is_alive(s.pid, s.start_ticks))
        .map(|s| s.pid)
        .collect()
}

/// Undoes what recordings that died without cleaning up left behind, and returns one
/// line per action (or per thing that could not be done) for stderr.
pub fn recover(dir: &StateDir, sys: &mut dyn System) -> Vec<String> {
    let mut said = Vec::new();
    for path in dir.state_files() {
        let state: RunState = match fs::read(&path).map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(s)) => s,
            // A half-written temporary is never read (it has another name); anything
            // else unreadable is reported, not guessed at.
            _ => {
                said.push(format!(
                    "{}: unreadable state file; left as is",
                    path.display()
                ));
                continue;
            }
        };
        if state.pid == std::process::id() as i32 || sys.is_alive(state.pid, state.start_ticks) {
            continue;
        }
        if undo_stale(dir, sys, &state, &mut said) {
            let _ = fs::remove_file(&path);
        }
    }
    said
}

/// Undoes one dead run's changes; `true` when nothing is left to undo.
fn undo_stale(
    dir: &StateDir,
    sys: &mut dyn System,
    state: &RunState,
    said: &mut Vec<String>,
) -> bool {
    let who = format!(
        "faultline record (pid {}) died without cleaning up",
        state.pid
    );
    let mut done = true;
    for cg in &state.cgroups {
        match sys.remove_cgroup(cg) {
            Ok(true) => said.push(format!("{who}: removed its cgroup {}", cg.display())),
            Ok(false) => {}
            Err(e) => {
                said.push(format!("{who}: could not remove its cgroup: {e}"));
                done = false;
            }
        }
    }
    if let Some(prev) = &state.thp_previous {
        // A live run holding the lock set THP after this one died: undoing now would
        // change the mode under it.
        if let Some(_lock) = dir.try_exclusive() {
            match sys.set_thp_mode(prev) {
                Ok(()) => said.push(format!("{who}: restored THP enabled to {prev}")),
                Err(e) => {
                    said.push(format!("{who}: could not restore THP to {prev}: {e}"));
                    done = false;
                }
            }
        } else {
            said.push(format!(
                "{who}: another recording holds the THP lock; THP will be restored to {prev} after it"
            ));
            done = false;
        }
    }
    if let Some(staging) = &state.staging {
        let run = RunDir::new(staging);
        match run.foreign_entries() {
            Ok(names) if names.is_empty() => {
                if fs::remove_dir_all(staging).is_ok() {
                    said.push(format!(
                        "{who}: removed its unfinished recording {}",
                        staging.display()
                    ));
                }
            }
            Ok(_) => said.push(format!(
                "{who}: left {} (it holds files faultline did not write)",
                staging.display()
            )),
            Err(_) => {}
        }
    }
    done
}
