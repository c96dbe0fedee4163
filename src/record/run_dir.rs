//! The run directory as a typed contract: [`RunDir`] names every file `faultline record`
//! and the processes it starts write, and the serde structs below are the only way those
//! files are written or read, so a renamed field is a compile error, not a silent `None`.
//!
//! ```text
//! RUN/manifest.json           Manifest           runner, at the end
//! RUN/perf.data, perf.script (with --script)     perf
//! RUN/workload.pid                               exec, as soon as the child exists
//! RUN/workload.exit.json      WorkloadExit       exec, when the child is reaped
//! RUN/workload.json           WorkloadSummary    a built-in workload, at its end
//! RUN/proc/timeline.jsonl     TimelineLine       the /proc sampler
//! RUN/proc/maps.start, maps.last                 the /proc sampler
//! RUN/proc/checkpoints.jsonl  CheckpointLine     a built-in workload
//! RUN/proc/checkpoints/NNNN-label/{status,smaps_rollup,maps}
//! RUN/access-times.u64le                         zero-page with timestamps
//! ```
//!
//! Layer 3 (record): analyze and compare read runs through this module.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::procfs::{CgroupVersion, ThpSettings, VmSysctls};

/// The manifest's format marker. Manifests written before it existed lack it; they are
/// recognised by their keys ([`Manifest::looks_like_run`]).
pub const FORMAT: &str = "faultline-run/1";

/// File names inside a run directory.
pub mod files {
    /// `perf record` output.
    pub const PERF_DATA: &str = "perf.data";
    /// `perf script --header` output.
    pub const PERF_SCRIPT: &str = "perf.script";
    /// The run manifest ([`super::Manifest`]).
    pub const MANIFEST: &str = "manifest.json";
    /// The workload's pid, written by the exec wrapper as soon as it is known.
    pub const PID: &str = "workload.pid";
    /// How the workload ended ([`super::WorkloadExit`]).
    pub const EXIT: &str = "workload.exit.json";
    /// A built-in workload's summary ([`super::WorkloadSummary`]).
    pub const SUMMARY: &str = "workload.json";
    /// /proc snapshots.
    pub const PROC_DIR: &str = "proc";
    /// The sampler's timeline, in `proc/` ([`super::TimelineLine`] per line).
    pub const TIMELINE: &str = "timeline.jsonl";
    /// The first `maps` the sampler saw, in `proc/`.
    pub const MAPS_START: &str = "maps.start";
    /// The last `maps` the sampler saw, in `proc/`.
    pub const MAPS_LAST: &str = "maps.last";
    /// The workload's checkpoint index, in `proc/` ([`super::CheckpointLine`] per line).
    pub const CHECKPOINTS_LOG: &str = "checkpoints.jsonl";
    /// The workload's checkpoint copies, in `proc/`.
    pub const CHECKPOINTS_DIR: &str = "checkpoints";
    /// zero-page's access times (little-endian u64 ns), with timestamps on.
    pub const ACCESS_TIMES: &str = "access-times.u64le";
    /// What perf renames an existing `perf.data` to.
    pub const PERF_DATA_OLD: &str = "perf.data.old";

    /// Every top-level entry a recording writes.
    pub const ALL: [&str; 9] = [
        PERF_DATA,
        PERF_DATA_OLD,
        PERF_SCRIPT,
        MANIFEST,
        PID,
        EXIT,
        SUMMARY,
        PROC_DIR,
        ACCESS_TIMES,
    ];
}

/// A run directory: where each of its files is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

/// A run file that exists but cannot be read as what it should be.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is JSON, but not an object.
    #[error("{}: not a JSON object", path.display())]
    NotAnObject {
        /// The file.
        path: PathBuf,
    },
    /// The file is not the JSON it should be.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        source: serde_json::Error,
    },
}

impl RunDir {
    /// The run directory at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `perf.data`.
    pub fn perf_data(&self) -> PathBuf {
        self.root.join(files::PERF_DATA)
    }
    /// `perf.script`.
    pub fn perf_script(&self) -> PathBuf {
        self.root.join(files::PERF_SCRIPT)
    }
    /// `manifest.json`.
    pub fn manifest(&self) -> PathBuf {
        self.root.join(files::MANIFEST)
    }
    /// `workload.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.root.join(files::PID)
    }
    /// `workload.exit.json`.
    pub fn exit_file(&self) -> PathBuf {
        self.root.join(files::EXIT)
    }
    /// `workload.json`.
    pub fn summary_file(&self) -> PathBuf {
        self.root.join(files::SUMMARY)
    }
    /// `proc/`.
    pub fn proc_dir(&self) -> PathBuf {
        self.root.join(files::PROC_DIR)
    }
    /// `access-times.u64le`.
    pub fn access_times(&self) -> PathBuf {
        self.root.join(files::ACCESS_TIMES)
    }

    /// Reads the manifest; `Ok(None)` when there is none.
    pub fn read_manifest(&self) -> Result<Option<Manifest>, RunFileError> {
        read_json(&self.manifest())
    }
    /// Reads how the workload ended; `Ok(None)` when it was not written.
    pub fn read_exit(&self) -> Result<Option<WorkloadExit>, RunFileError> {
        read_json(&self.exit_file())
    }
    /// Reads the workload's summary; `Ok(None)` when it was not written (a killed
    /// workload writes none).
    pub fn read_summary(&self) -> Result<Option<WorkloadSummary>, RunFileError> {
        read_json(&self.summary_file())
    }

    /// Writes the manifest, pretty-printed.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), RunFileError> {
        write_json(&self.manifest(), m, true)
    }
    /// Writes how the workload ended.
    pub fn write_exit(&self, e: &WorkloadExit) -> Result<(), RunFileError> {
        write_json(&self.exit_file(), e, false)
    }
    /// Writes the workload's summary, pretty-printed.
    pub fn write_summary(&self, s: &WorkloadSummary) -> Result<(), RunFileError> {
        write_json(&self.summary_file(), s, true)
    }

    /// Whether this directory holds a faultline run: its manifest carries [`FORMAT`], or
    /// (written before the marker existed) has the keys every faultline manifest has.
    /// Anything else is someone's files, which faultline never deletes.
    pub fn is_faultline_run(&self) -> bool {
        let Ok(bytes) = fs::read(self.manifest()) else {
            return false;
        };
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|v| Manifest::looks_like_run(&v))
    }

    /// Entries at the top of the directory that a recording does not write (a user's
    /// notes, a report directory): `--force` refuses to replace a run that has any.
    pub fn foreign_entries(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if !files::ALL.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Reads a JSON file as `T`; a missing file is `Ok(None)`.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, RunFileError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RunFileError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let json = |source| RunFileError::Json {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
    if !value.is_object() {
        return Err(RunFileError::NotAnObject {
            path: path.to_path_buf(),
        });
    }
    serde_json::from_value(value).map(Some).map_err(json)
}

fn write_json<T: Serialize>(path: &Path, value: &T, pretty: bool) -> Result<(), RunFileError> {
    let mut text = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(|source| RunFileError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    if pretty {
        text.push(b'\n');
    }
    fs::write(path, text).map_err(|source| RunFileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `manifest.json`: what was recorded, how, and how it ended. Fields added after the
/// first recordings are optional, so older run directories still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`]; absent in manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The faultline version that recorded.
    pub faultline_version: String,
    /// What ran.
    pub target: ManifestTarget,
    /// The kernel release.
    #[serde(default)]
    pub kernel: String,
    /// `perf version`.
    #[serde(default)]
    pub perf_version: Option<String>,
    /// The sampling event.
    pub event: String,
    /// Whether the event samples by hrtimer.
    #[serde(default)]
    pub hrtimer: bool,
    /// Sampling frequency.
    #[serde(default)]
    pub frequency_hz: u32,
    /// `perf record -a`.
    #[serde(default)]
    pub system_wide: bool,
    /// Arguments after `perf`.
    #[serde(default)]
    pub perf_args: Vec<String>,
    /// THP settings in force during the run.
    #[serde(default)]
    pub thp: Option<ThpSettings>,
    /// THP settings before the run changed them.
    #[serde(default)]
    pub thp_before: Option<ThpSettings>,
    /// vm sysctls.
    #[serde(default)]
    pub vm: Option<VmSysctls>,
    /// The memory cgroup, when one capped the workload (or the controller found).
    #[serde(default)]
    pub cgroup: Option<CgroupInfo>,
    /// How the workload ended, as the exec wrapper saw it.
    #[serde(default)]
    pub exit: Option<WorkloadExit>,
    /// OOM kills inside the run's cgroup.
    #[serde(default)]
    pub oom_kills: u64,
    /// Whether a stop signal ended the recording early.
    #[serde(default)]
    pub interrupted: bool,
    /// The stop signal that did (2 INT, 15 TERM, 1 HUP, 3 QUIT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<i32>,
    /// perf record's exit code.
    #[serde(default)]
    pub perf_status: Option<i32>,
    /// Wall-clock duration of the recording.
    #[serde(default)]
    pub wall_seconds: f64,
    /// Timeline lines the /proc sampler wrote.
    #[serde(default)]
    pub proc_snapshots: u64,
    /// Samples per event in perf.data (in perf.script, for runs before faultline read
    /// perf.data itself).
    #[serde(default)]
    pub samples: BTreeMap<String, u64>,
}

impl Manifest {
    /// Keys every faultline manifest has had since the first one.
    const KNOWN_KEYS: [&'static str; 5] = [
        "faultline_version",
        "target",
        "event",
        "perf_args",
        "samples",
    ];

    /// Whether `v` is a faultline manifest: it carries [`FORMAT`], or it predates the
    /// marker and has every key of [`Self::KNOWN_KEYS`].
    pub fn looks_like_run(v: &serde_json::Value) -> bool {
        if v.get("format").and_then(|f| f.as_str()) == Some(FORMAT) {
            return true;
        }
        v.get("format").is_none() && Self::KNOWN_KEYS.iter().all(|k| v.get(k).is_some())
    }
}

/// What ran: a built-in workload or a command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestTarget {
    /// The workload's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Its parameters (sizes in bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// The command line, for a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// The memory cgroup of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupInfo {
    /// v1 or v2.
    pub version: CgroupVersion,
    /// The cap, when the run had one.
    pub limit_bytes: Option<u64>,
    /// Peak usage, where the kernel tracks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_usage_bytes: Option<u64>,
}

/// `workload.exit.json`: how the workload ended, as the exec wrapper saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// `workload.json`: what a built-in workload did and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// The workload's name.
    pub name: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Touches performed (reads, writes or allocations); with THP a read inside an already
    /// mapped huge zero page does not actually fault.
    pub faults_attempted: u64,
    /// `VmRSS` at the end, before unmapping, in kB.
    pub vm_rss_kb: Option<u64>,
    /// `VmPTE` at the end, before unmapping, in kB (all table levels, PGD included).
    pub vm_pte_kb: Option<u64>,
    /// `VmPTE` after mapping and before the first touch, in kB: the baseline to subtract.
    pub vm_pte_kb_start: Option<u64>,
    /// `RssAnon` at the end, in kB.
    pub rss_anon_kb: Option<u64>,
    /// Lines of `/proc/self/maps` at the end.
    pub maps_lines: u64,
    /// VMAs overlapping the workload's own mapping at the end (vma-fragment's result).
    pub mapping_vmas: Option<u64>,
    /// CLOCK_MONOTONIC before mapping, in ns (the clock `perf record -k mono` uses).
    pub mono_start_ns: u64,
    /// CLOCK_MONOTONIC after the last touch, in ns.
    pub mono_end_ns: u64,
    /// CLOCK_MONOTONIC after unmapping or freeing everything, in ns: the gap to
    /// `mono_end_ns` is the teardown cost (minus the final checkpoint).
    pub mono_unmapped_ns: u64,
    /// Page-table bytes the model predicts the touches create, when it applies. The PUD
    /// table can already exist for zero-page, making the delta 4 kB less.
    pub predicted_table_bytes: Option<u64>,
    /// The THP mode in force (`always`, `madvise`, `never`).
    pub thp_enabled: Option<String>,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The one-line summary printed on stdout.
    pub line: String,
}

impl WorkloadSummary {
    /// Growth of `VmPTE` over the run, in kB, to compare with `predicted_table_bytes`.
    pub fn vm_pte_delta_kb(&self) -> Option<i64> {
        Some(self.vm_pte_kb? as i64 - self.vm_pte_kb_start? as i64)
    }
}

/// One line of `proc/timeline.jsonl`: a CLOCK_MONOTONIC stamp and what /proc said then.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineLine {
    /// CLOCK_MONOTONIC nanoseconds (the clock of `perf record -k mono`).
    pub mono_ns: u64,
    /// The workload's pid, while its status could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The workload's `/proc/PID/status` kB fields, by the kernel's names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<String, u64>>,
    /// Chosen `/proc/meminfo` fields, kB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meminfo: Option<BTreeMap<String, u64>>,
    /// Chosen `/proc/vmstat` counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmstat: Option<BTreeMap<String, u64>>,
}

/// Reads a timeline lossily: a torn last line or one bad byte must not hide the series.
pub fn read_timeline(path: &Path) -> Option<Vec<TimelineLine>> {
    let text = String::from_utf8_lossy(&fs::read(path).ok()?).into_owned();
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    )
}

/// One line of `proc/checkpoints.jsonl`: a copy of the workload's /proc files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointLine {
    /// Sequence number from 0.
    pub seq: u64,
    /// `mapped`, `faults-N` or `end`.
    pub label: String,
    /// CLOCK_MONOTONIC nanoseconds when it was taken.
    pub mono_ns: u64,
    /// Faults the workload had attempted by then.
    pub faults: u64,
    /// Its directory, relative to `proc/`.
    pub dir: String,
}

/// The workload's last complete checkpoint line: a kill can cut the last one short.
pub fn last_checkpoint(proc_dir: &Path) -> Option<CheckpointLine> {
    let text = fs::read(proc_dir.join(files::CHECKPOINTS_LOG)).ok()?;
    text.split(|&b| b == b'\n')
        .rev()
        .find_map(|l| serde_json::from_slice(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> RunDir {
        RunDir::new(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/runs")
                .join(name),
        )
    }

    #[test]
    fn every_committed_run_reads_typed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runs");
        let mut n = 0;
        for e in fs::read_dir(dir).unwrap() {
            let run = RunDir::new(e.unwrap().path());
            if !run.path().is_dir() {
                continue;
            }
            let m = run.read_manifest().unwrap().expect("manifest");
            assert!(m.format.is_none(), "committed runs predate the marker");
            assert!(run.is_faultline_run(), "{}", run.path().display());
            assert_eq!(m.exit, run.read_exit().unwrap(), "{}", run.path().display());
            run.read_summary().unwrap();
            let timeline = read_timeline(&run.proc_dir().join(files::TIMELINE)).unwrap();
            assert_eq!(timeline.len() as u64, m.proc_snapshots);
            n += 1;
        }
        assert!(n >= 10, "{n} runs");
    }

    #[test]
    fn manifest_round_trips_with_the_marker() {
        let run = fixture("breadth-first-oom");
        let mut m = run.read_manifest().unwrap().unwrap();
        assert_eq!(m.cgroup.unwrap().limit_bytes, Some(256 << 20));
        assert_eq!(m.target.workload.as_deref(), Some("breadth-first"));
        m.format = Some(FORMAT.into());
        let v = serde_json::to_value(&m).unwrap();
        assert!(Manifest::looks_like_run(&v));
        let back: Manifest = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn only_faultline_manifests_are_runs() {
        use serde_json::json;
        assert!(!Manifest::looks_like_run(
            &json!({"name": "app", "version": "1.0"})
        ));
        assert!(!Manifest::looks_like_run(
            &json!({"format": "something-else/1"})
        ));
        assert!(Manifest::looks_like_run(&json!({"format": FORMAT})));
        let dir = std::env::temp_dir().join(format!("faultline-rundir-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("manifest.json"), r#"{"name":"app"}"#).unwrap();
        assert!(!RunDir::new(&dir).is_faultline_run());
        fs::write(dir.join("manifest.json"), "not json").unwrap();
        assert!(!RunDir::new(&dir).is_faultline_run());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn last_checkpoint_skips_a_torn_line() {
        let dir = std::env::temp_dir().join(format!("faultline-cp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(files::CHECKPOINTS_LOG),
            "{\"seq\":0,\"label\":\"mapped\",\"mono_ns\":1,\"faults\":0,\"dir\":\"checkpoints/0000-mapped\"}\n{\"seq\":1,\"lab",
        )
        .unwrap();
        assert_eq!(last_checkpoint(&dir).unwrap().label, "mapped");
        fs::remove_dir_all(&dir).unwrap();
    }
}
