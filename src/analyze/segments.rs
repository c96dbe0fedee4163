//! Tracepoint markers and the time segments of the workload's life they delimit
//! (run, dying, teardown).

use crate::record::run_dir::WorkloadExit;

use super::phased::{Scope, is_workload};
use crate::analyze::model::{Marker, Segment};
use crate::ingest::profile::Profile;
use crate::record::plan::MARKERS;

/// `pid=123` → `123` in a tracepoint payload.
pub fn payload_field<'a>(payload: &'a str, key: &str) -> Option<&'a str> {
    payload.split([' ', ',']).find_map(|w| {
        let (k, v) = w.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Whether a marker's payload names `pid` (`pid=1234`): OOM markers fire in other tasks.
pub(super) fn names_pid(m: &Marker, pid: i32) -> bool {
    payload_field(&m.payload, "pid").and_then(|p| p.parse::<i32>().ok()) == Some(pid)
}

/// The phase markers among the recording's tracepoint samples, in time order.
pub(super) fn markers(profile: &Profile) -> Vec<Marker> {
    profile
        .markers
        .iter()
        .filter_map(|m| {
            let r = profile.samples.get(m.sample)?;
            let name = &profile.events[r.event.0 as usize].name;
            if !MARKERS.contains(&name.as_str()) {
                return None;
            }
            let t = &profile.threads[r.thread.0 as usize];
            Some(Marker {
                name: name.clone(),
                time: r.time.as_secs_f64(),
                pid: t.tid,
                comm: String::from_utf8_lossy(&t.comm).into_owned(),
                cpu: r.cpu,
                payload: m.payload.clone(),
            })
        })
        .collect()
}

/// The OOM victim's pid, from its `oom:mark_victim` marker.
pub(super) fn victim_pid(profile: &Profile) -> Option<i32> {
    profile.markers.iter().find_map(|m| {
        let r = profile.samples.get(m.sample)?;
        (profile.events[r.event.0 as usize].name == "oom:mark_victim")
            .then(|| payload_field(&m.payload, "pid").and_then(|p| p.parse::<i32>().ok()))
            .flatten()
    })
}

/// One sample of the workload's work: (time in seconds, weight, exit phase?).
type Work = (f64, u64, bool);

/// Calls `f` with each of the workload's samples and of the exit work tied to it, in
/// input order: the samples are read again rather than collected.
fn workload_work(scope: &Scope<'_>, pid: i32, mut f: impl FnMut(Work)) {
    let (profile, phased) = (scope.profile, scope.phased);
    for r in profile.samples.iter() {
        let path = phased.path(&r);
        if path.is_empty() {
            continue;
        }
        let time = r.time.as_secs_f64();
        if is_workload(profile, r.thread, Some(pid)) {
            f((time, r.weight, path.starts_with("exit")));
        } else if scope.tied.contains(profile, &r, path) {
            f((time, r.weight, true));
        }
    }
}

/// The first and last times of the workload's work, and of its exit work.
#[derive(Clone, Copy)]
struct WorkSpan {
    first: f64,
    last: f64,
    last_exit: f64,
    any: bool,
}

fn work_span(scope: &Scope<'_>, pid: i32) -> WorkSpan {
    let mut span = WorkSpan {
        first: f64::INFINITY,
        last: f64::NEG_INFINITY,
        last_exit: f64::NEG_INFINITY,
        any: false,
    };
    workload_work(scope, pid, |(time, _, exit)| {
        span.any = true;
        span.first = span.first.min(time);
        span.last = span.last.max(time);
        if exit {
            span.last_exit = span.last_exit.max(time);
        }
    });
    span
}

/// The boundaries of the workload's life, in time order: its start, the first
/// `oom:mark_victim` and `sched:sched_process_exit` of its own, and the end of its work.
fn boundaries<'m>(
    scope: &Scope<'_>,
    work: &WorkSpan,
    pid: i32,
    markers: &'m [Marker],
    exit_info: Option<&WorkloadExit>,
) -> Vec<(&'m str, f64)> {
    let start = exit_info
        .map(|e| e.start_mono_ns as f64 / 1e9)
        .unwrap_or(work.first);
    let (last_exit, last) = (work.last_exit, work.last);
    let mut points: Vec<(&str, f64)> = vec![("start", start)];
    let mine: Vec<&Marker> = markers
        .iter()
        .filter(|m| m.pid == pid || names_pid(m, pid))
        .collect();
    if let Some(m) = mine.iter().find(|m| m.name == "oom:mark_victim") {
        points.push((m.name.as_str(), m.time));
    }
    // The victim's sched_process_exit may be missing: see `boundary`.
    points.extend(super::boundary::exit_boundary(scope, pid, &mine));
    let end = if last_exit.is_finite() && last_exit >= last {
        ("last exit work", last_exit)
    } else {
        ("last sample", last)
    };
    // Markers after the last sample end the story themselves.
    points.retain(|p| p.1 <= end.1 || p.0 == "start");
    points.push(end);
    points.sort_by(|a, b| a.1.total_cmp(&b.1));
    points
}

/// The workload's life cut at its markers: run, dying, teardown.
pub(super) fn segments(
    scope: &Scope<'_>,
    markers: &[Marker],
    exit_info: Option<&WorkloadExit>,
) -> Vec<Segment> {
    let Some(pid) = scope.workload else {
        return Vec::new();
    };
    let span = work_span(scope, pid);
    if !span.any {
        return Vec::new();
    }
    let points = boundaries(scope, &span, pid, markers, exit_info);
    let names = |from: &str| match from {
        "start" => "run",
        "oom:mark_victim" => "dying",
        "sched:sched_process_exit" | super::boundary::FIRST_EXIT_SAMPLE => "teardown",
        _ => "segment",
    };
    let last = points.last().map_or("", |p| p.0);
    // Samples and weight per segment, in one more reading of the samples.
    let mut sums = vec![(0u64, 0u64); points.len().saturating_sub(1)];
    workload_work(scope, pid, |(time, weight, _)| {
        for (w, sum) in points.windows(2).zip(&mut sums) {
            let ((_, s), (to, e)) = (w[0], w[1]);
            if time >= s && (time < e || (to == last && time <= e)) {
                sum.0 += 1;
                sum.1 += weight;
            }
        }
    });
    points
        .windows(2)
        .zip(sums)
        .map(|(w, (samples, weight))| {
            let (from, s) = w[0];
            let (to, e) = w[1];
            Segment {
                name: names(from).into(),
                from: from.into(),
                to: to.into(),
                start: s,
                end: e,
                wall_seconds: e - s,
                samples,
                weight,
            }
        })
        .collect()
}
