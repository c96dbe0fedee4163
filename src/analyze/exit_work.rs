//! Exit work that other tasks do for a dying workload: the OOM reaper and the RCU
//! callbacks that free its page tables run on other threads and CPUs (domain notes §2).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::phased::{Phased, is_workload};
use super::segments::names_pid;
use crate::analyze::model::{Marker, TiedWork};
use crate::analyze::phases::PhaseNode;
use crate::ingest::intern::StackId;
use crate::ingest::profile::{Profile, SampleRecord};

/// Frames of exit work that runs on behalf of a dying mm in other tasks.
const DEFERRED_EXIT_FRAMES: [&[u8]; 4] = [
    b"__oom_reap_task_mm",
    b"oom_reaper",
    b"tlb_remove_table_rcu",
    b"__tlb_remove_table_free",
];

/// How long after the workload's last sample deferred frees are still counted for it
/// (the runner keeps recording 1 s after the workload is reaped).
const TIE_WINDOW_SECONDS: f64 = 1.0;

/// Exit work that other tasks did for the workload: samples in `exit` phases on
/// other threads, tied by the OOM reaper's markers or by the time window after the
/// workload began to exit. Whether a sample is tied is decided from the sample itself
/// ([`Tied::why`]), so no list of samples is kept.
pub(super) struct Tied {
    /// The workload's pid and when other tasks' exit work counts for it; `None` when
    /// nothing is tied.
    rule: Option<(i32, Windows)>,
    /// Whether each stack of other tasks' exit work has a deferred-exit frame.
    deferred: FxHashMap<StackId, bool>,
    /// Tied samples and their weight per phase path id.
    by_path: BTreeMap<u32, (u64, u64)>,
    /// The tied work per (task, reason).
    pub(super) summary: Vec<TiedWork>,
}

impl Tied {
    /// Why sample `r`, in phase `path`, counts for the workload though another task ran
    /// it; `None` when it does not.
    pub(super) fn why(
        &self,
        profile: &Profile,
        r: &SampleRecord,
        path: &str,
    ) -> Option<&'static str> {
        let (pid, window) = self.rule.as_ref()?;
        if !path.starts_with("exit") {
            return None;
        }
        let t = &profile.threads[r.thread.0 as usize];
        if t.tid == *pid || t.pid == Some(*pid) {
            return None;
        }
        // Another task's own exit (`do_exit`, `exit_mmap`) is its own cost; only the
        // OOM reaper and deferred frees (RCU callbacks freeing page tables) run for
        // someone else.
        let deferred = match self.deferred.get(&r.stack) {
            Some(&d) => d,
            None => has_deferred_frame(profile, r.stack),
        };
        deferred.then(|| window.how(r.time.as_secs_f64())).flatten()
    }

    /// Whether sample `r`, in phase `path`, is tied to the workload.
    pub(super) fn contains(&self, profile: &Profile, r: &SampleRecord, path: &str) -> bool {
        self.why(profile, r, path).is_some()
    }

    /// Adds the tied samples to a phase tree, under their phases.
    pub(super) fn add_to(&self, node: &mut PhaseNode, phased: &Phased) {
        for (&id, &(n, weight)) in &self.by_path {
            node.add_n(&phased.path_names[id as usize], n, weight);
        }
    }
}

/// Ties other tasks' deferred exit work to the workload `pid`: samples in `exit` phases
/// on other threads with a deferred-free or reaper frame, inside an OOM reaping window for
/// the workload or between its exit and [`TIE_WINDOW_SECONDS`] after its last sample.
pub(super) fn tie_exit_work(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    markers: &[Marker],
) -> Tied {
    let mut tied = Tied {
        rule: None,
        deferred: FxHashMap::default(),
        by_path: BTreeMap::new(),
        summary: Vec::new(),
    };
    let Some(pid) = workload else { return tied };
    let Some(window) = Windows::new(profile, pid, markers) else {
        return tied;
    };
    tied.rule = Some((pid, window));
    let mut by: BTreeMap<(String, &'static str), (u64, u64)> = BTreeMap::new();
    for r in profile.samples.iter() {
        let Some(id) = phased.path_id(&r) else {
            continue;
        };
        let path = &phased.path_names[id as usize];
        if path.starts_with("exit") && !is_workload(profile, r.thread, Some(pid)) {
            tied.deferred
                .entry(r.stack)
                .or_insert_with(|| has_deferred_frame(profile, r.stack));
        }
        let Some(how) = tied.why(profile, &r, path) else {
            continue;
        };
        let p = tied.by_path.entry(id).or_default();
        p.0 += 1;
        p.1 += r.weight;
        let t = &profile.threads[r.thread.0 as usize];
        let e = by
            .entry((String::from_utf8_lossy(&t.comm).into_owned(), how))
            .or_default();
        e.0 += 1;
        e.1 += r.weight;
    }
    tied.summary = by
        .into_iter()
        .map(|((comm, how), (samples, weight))| TiedWork {
            comm,
            samples,
            weight,
            how: how.to_string(),
        })
        .collect();
    tied
}

/// Whether a stack runs exit work on behalf of another task's mm.
fn has_deferred_frame(profile: &Profile, stack: StackId) -> bool {
    profile
        .interner
        .frames_of(stack)
        .iter()
        .any(|f| DEFERRED_EXIT_FRAMES.contains(&profile.interner.frame_name(*f).0))
}

/// When other tasks' exit work counts for the workload.
struct Windows {
    /// OOM reaping of the workload: (oom:start_task_reaping, the next finish).
    reaping: Vec<(f64, f64)>,
    /// The workload's first oom:mark_victim or sched:sched_process_exit.
    exit_start: f64,
    /// [`TIE_WINDOW_SECONDS`] after the workload's last sample.
    window_end: f64,
}

impl Windows {
    /// The windows for `pid`; `None` when no marker says the workload began to exit.
    fn new(profile: &Profile, pid: i32, markers: &[Marker]) -> Option<Windows> {
        let exit_start = markers
            .iter()
            .filter(|m| m.pid == pid || names_pid(m, pid))
            .filter(|m| m.name == "oom:mark_victim" || m.name == "sched:sched_process_exit")
            .map(|m| m.time)
            .fold(f64::INFINITY, f64::min);
        if !exit_start.is_finite() {
            return None;
        }
        let times = |name: &str| -> Vec<f64> {
            markers
                .iter()
                .filter(|m| m.name == name && names_pid(m, pid))
                .map(|m| m.time)
                .collect()
        };
        let ends = times("oom:finish_task_reaping");
        let reaping = times("oom:start_task_reaping")
            .into_iter()
            .map(|s| {
                let end = ends.iter().copied().find(|&e| e >= s);
                (s, end.unwrap_or(f64::INFINITY))
            })
            .collect();
        // Deferred work ends soon after the workload's last sample; later frees belong
        // to whatever exits next.
        let workload_end = profile
            .samples
            .iter()
            .filter(|r| is_workload(profile, r.thread, Some(pid)))
            .map(|r| r.time.as_secs_f64())
            .fold(f64::NEG_INFINITY, f64::max);
        Some(Windows {
            reaping,
            exit_start,
            window_end: workload_end + TIE_WINDOW_SECONDS,
        })
    }

    /// Why work at `time` counts for the workload, or `None` when it does not.
    fn how(&self, time: f64) -> Option<&'static str> {
        if self.reaping.iter().any(|&(s, e)| time >= s && time <= e) {
            Some(
                "OOM reaping between oom:start_task_reaping and oom:finish_task_reaping for the workload's pid",
            )
        } else if time >= self.exit_start && time <= self.window_end {
            Some(
                "deferred page-table frees (RCU callbacks) or OOM reaping on another task, from the workload's oom:mark_victim or sched:sched_process_exit to 1 s after its last sample",
            )
        } else {
            None
        }
    }
}
