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
            let r = profile.samples[m.sample];
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
        let r = profile.samples[m.sample];
        (profile.events[r.event.0 as usize].name == "oom:mark_victim")
            .then(|| payload_field(&m.payload, "pid").and_then(|p| p.parse::<i32>().ok()))
            .flatten()
    })
}

/// One sample of the workload's work: (time in seconds, weight, exit phase?).
type Work = (f64, u64, bool);

/// The workload's samples and the exit work tied to it, with their times.
fn workload_work(scope: &Scope<'_>, pid: i32) -> Vec<Work> {
    let (profile, phased) = (scope.profile, scope.phased);
    let mut work: Vec<Work> = profile
        .samples
        .iter()
        .enumerate()
        .filter(|(i, r)| !phased.path(*i).is_empty() && is_workload(profile, r.thread, Some(pid)))
        .map(|(i, r)| {
            (
                r.time.as_secs_f64(),
                r.weight,
                phased.path(i).starts_with("exit"),
            )
        })
        .collect();
    work.extend(scope.tied.samples.iter().map(|&i| {
        let r = profile.samples[i];
        (r.time.as_secs_f64(), r.weight, true)
    }));
    work
}

/// The boundaries of the workload's life, in time order: its start, the first
/// `oom:mark_victim` and `sched:sched_process_exit` of its own, and the end of its work.
fn boundaries<'m>(
    scope: &Scope<'_>,
    work: &[Work],
    pid: i32,
    markers: &'m [Marker],
    exit_info: Option<&WorkloadExit>,
) -> Vec<(&'m str, f64)> {
    let start = exit_info
        .map(|e| e.start_mono_ns as f64 / 1e9)
        .unwrap_or_else(|| work.iter().map(|w| w.0).fold(f64::INFINITY, f64::min));
    let last_exit = work
        .iter()
        .filter(|w| w.2)
        .map(|w| w.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let last = work.iter().map(|w| w.0).fold(f64::NEG_INFINITY, f64::max);
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
    let work = workload_work(scope, pid);
    if work.is_empty() {
        return Vec::new();
    }
    let points = boundaries(scope, &work, pid, markers, exit_info);
    let names = |from: &str| match from {
        "start" => "run",
        "oom:mark_victim" => "dying",
        "sched:sched_process_exit" | super::boundary::FIRST_EXIT_SAMPLE => "teardown",
        _ => "segment",
    };
    let last = points.last().map_or("", |p| p.0);
    points
        .windows(2)
        .map(|w| {
            let (from, s) = w[0];
            let (to, e) = w[1];
            let inside = work
                .iter()
                .filter(|x| x.0 >= s && (x.0 < e || (to == last && x.0 <= e)));
            let (samples, weight) = inside.fold((0, 0), |(n, wt), x| (n + 1, wt + x.1));
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
