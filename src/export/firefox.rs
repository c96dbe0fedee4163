//! The Firefox Profiler's processed format, written with `fxprof-processed-profile`
//! (the crate samply writes with): a track per process and thread, each sample at its
//! time, frames coloured by faultline's phase (one category per top-level phase, the
//! full phase path as its subcategory), the OOM, exit and reaping tracepoints as
//! markers, and the run's /proc timeline (VmPTE, VmRSS, PageTables) as memory counter
//! tracks on the same clock, so page-table growth shows under the samples.

use std::collections::BTreeMap;

use fxprof_processed_profile::{
    CategoryColor, CategoryHandle, CategoryPairHandle, CpuDelta, Frame, FrameFlags, FrameInfo,
    MarkerFieldFlags, MarkerFieldFormat, MarkerTiming, ProcessHandle, Profile as FxProfile,
    ReferenceTimestamp, SamplingInterval, StackHandle, StaticSchemaMarker, StaticSchemaMarkerField,
    StringHandle, ThreadHandle, Timestamp,
};
use rustc_hash::FxHashMap;

use crate::analyze::export_view::{ExportView, TimelinePoint};
use crate::analyze::model::Marker;
use crate::export::{SampleUnit, start_end, thread_label, wall_clock_start};
use crate::ingest::intern::StackId;
use crate::ingest::profile::ThreadId;
use crate::units::Nanos;

/// A tracepoint from the recording (`oom:mark_victim: pid=… pgtables=…kB`).
#[derive(Debug, Clone)]
struct Tracepoint {
    name: StringHandle,
    payload: StringHandle,
    category: CategoryHandle,
}

impl StaticSchemaMarker for Tracepoint {
    const UNIQUE_MARKER_TYPE_NAME: &'static str = "FaultlineTracepoint";
    const DESCRIPTION: Option<&'static str> = Some("A kernel tracepoint perf recorded");
    const CHART_LABEL: Option<&'static str> = Some("{marker.name}");
    const TABLE_LABEL: Option<&'static str> = Some("{marker.name} {marker.data.payload}");
    const FIELDS: &'static [StaticSchemaMarkerField] = &[StaticSchemaMarkerField {
        key: "payload",
        label: "Payload",
        format: MarkerFieldFormat::String,
        flags: MarkerFieldFlags::SEARCHABLE,
    }];

    fn name(&self, _: &mut FxProfile) -> StringHandle {
        self.name
    }

    fn category(&self, _: &mut FxProfile) -> CategoryHandle {
        self.category
    }

    fn string_field_value(&self, _: u32) -> StringHandle {
        self.payload
    }

    fn number_field_value(&self, _: u32) -> f64 {
        0.0
    }
}

/// The colour of a top-level phase, as in the HTML report's phase graph.
fn phase_color(top: &str) -> CategoryColor {
    match top {
        "fault" => CategoryColor::Orange,
        "exit" => CategoryColor::Red,
        "syscall" => CategoryColor::Blue,
        "user" => CategoryColor::Green,
        _ => CategoryColor::Gray,
    }
}

/// Processes and threads of the profile, created as their first sample or marker
/// appears.
struct Tracks {
    processes: BTreeMap<i32, ProcessHandle>,
    threads: FxHashMap<i32, ThreadHandle>,
}

struct Writer<'a> {
    view: &'a ExportView,
    fx: FxProfile,
    origin: Nanos,
    tracks: Tracks,
    /// Category pair per phase id.
    phases: Vec<CategoryPairHandle>,
    markers: CategoryHandle,
}

impl Writer<'_> {
    fn at(&self, t: Nanos) -> Timestamp {
        Timestamp::from_nanos_since_reference(t.0.saturating_sub(self.origin.0))
    }

    fn process(&mut self, pid: i32, name: &str, start: Nanos) -> ProcessHandle {
        if let Some(&p) = self.tracks.processes.get(&pid) {
            return p;
        }
        let at = self.at(start);
        let p = self.fx.add_process(name, pid as u32, at);
        self.tracks.processes.insert(pid, p);
        p
    }

    fn thread(
        &mut self,
        pid: i32,
        tid: i32,
        label: &str,
        comm: &str,
        start: Nanos,
    ) -> ThreadHandle {
        if let Some(&t) = self.tracks.threads.get(&tid) {
            return t;
        }
        let process = self.process(pid, comm, start);
        let at = self.at(start);
        let t = self.fx.add_thread(process, tid as u32, at, pid == tid);
        self.fx.set_thread_name(t, label);
        self.tracks.threads.insert(tid, t);
        t
    }

    fn sample_thread(&mut self, id: ThreadId, start: Nanos) -> ThreadHandle {
        let t = self.view.thread(id);
        let comm = String::from_utf8_lossy(&t.comm).into_owned();
        self.thread(
            t.pid.unwrap_or(t.tid),
            t.tid,
            &thread_label(t),
            &comm,
            start,
        )
    }

    fn samples(&mut self, unit: &SampleUnit) {
        let view = self.view;
        // Stacks repeat: name and intern each (thread, stack, phase) once.
        let mut stacks: FxHashMap<(ThreadHandle, StackId, u32), Option<StackHandle>> =
            FxHashMap::default();
        for s in &view.samples {
            let thread = self.sample_thread(s.thread, s.time);
            let stack = match stacks.get(&(thread, s.stack, s.phase)) {
                Some(&handle) => handle,
                None => {
                    let handle = self.stack(thread, s.stack, s.phase);
                    stacks.insert((thread, s.stack, s.phase), handle);
                    handle
                }
            };
            // The call tree counts samples (each one period); CPU deltas carry the
            // nanoseconds for the CPU clocks, so the activity graph shows CPU use.
            let cpu = if unit.is_time() {
                CpuDelta::from_nanos(s.weight)
            } else {
                CpuDelta::ZERO
            };
            let at = self.at(s.time);
            self.fx.add_sample(thread, at, stack, cpu, 1);
        }
    }

    /// A stack's frames on `thread`, all in the category of the sample's phase.
    fn stack(&mut self, thread: ThreadHandle, stack: StackId, phase: u32) -> Option<StackHandle> {
        let category_pair = self.phases[phase as usize];
        let frames: Vec<FrameInfo> = self
            .view
            .frame_names(stack)
            .iter()
            .map(|name| FrameInfo {
                frame: Frame::Label(self.fx.intern_string(name)),
                category_pair,
                flags: FrameFlags::empty(),
            })
            .collect();
        self.fx.intern_stack_frames(thread, frames.into_iter())
    }

    fn markers(&mut self) {
        let view = self.view;
        for m in &view.markers {
            let thread = self.marker_thread(m);
            let marker = self.tracepoint(&m.name, &m.payload);
            let at = self.at(secs(m.time));
            self.fx
                .add_marker(thread, MarkerTiming::Instant(at), marker);
        }
        self.reaping();
    }

    /// `oom:start_task_reaping` … `oom:finish_task_reaping` as one interval per reap.
    fn reaping(&mut self) {
        let view = self.view;
        let starts = view
            .markers
            .iter()
            .filter(|m| m.name == "oom:start_task_reaping");
        for start in starts {
            let Some(end) = view.markers.iter().find(|m| {
                m.name == "oom:finish_task_reaping"
                    && m.time >= start.time
                    && m.payload == start.payload
            }) else {
                continue;
            };
            let thread = self.marker_thread(start);
            let marker = self.tracepoint("OOM reaping", &start.payload);
            let timing = MarkerTiming::Interval(self.at(secs(start.time)), self.at(secs(end.time)));
            self.fx.add_marker(thread, timing, marker);
        }
    }

    fn tracepoint(&mut self, name: &str, payload: &str) -> Tracepoint {
        Tracepoint {
            name: self.fx.intern_string(name),
            payload: self.fx.intern_string(payload),
            category: self.markers,
        }
    }

    /// The track of the thread a marker fired in (created if it had no samples).
    fn marker_thread(&mut self, m: &Marker) -> ThreadHandle {
        let pid = self.pid_of(m);
        let label = format!("{} {}", m.comm, m.pid);
        self.thread(pid, m.pid, &label, &m.comm, secs(m.time))
    }

    /// The process of a marker's thread, when a sample showed it; else its tid.
    fn pid_of(&self, m: &Marker) -> i32 {
        self.view
            .profile
            .threads
            .iter()
            .find(|t| t.tid == m.pid && t.pid.is_some())
            .and_then(|t| t.pid)
            .unwrap_or(m.pid)
    }

    /// Counter tracks from the /proc timeline, on the workload's process (else the
    /// first process). Values are deltas, as the format stores them.
    fn counters(&mut self) {
        let view = self.view;
        if view.timeline.is_empty() {
            return;
        }
        let owner = view
            .workload_pid
            .and_then(|p| self.tracks.processes.get(&p).copied())
            .or_else(|| self.tracks.processes.values().next().copied());
        let Some(process) = owner else { return };
        type Field = fn(&TimelinePoint) -> Option<u64>;
        let fields: [(&str, &str, Field); 3] = [
            (
                "VmPTE",
                "The workload's page tables (/proc/PID/status VmPTE)",
                |p| p.vm_pte_kb,
            ),
            (
                "VmRSS",
                "The workload's resident memory (/proc/PID/status VmRSS)",
                |p| p.vm_rss_kb,
            ),
            (
                "PageTables",
                "Page tables of the whole system (/proc/meminfo PageTables)",
                |p| p.page_tables_kb,
            ),
        ];
        for (name, description, field) in fields {
            let points: Vec<(Nanos, u64)> = view
                .timeline
                .iter()
                .filter_map(|p| Some((p.time, field(p)?)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let counter = self.fx.add_counter(process, name, "Memory", description);
            let mut last = 0u64;
            for (t, kb) in points {
                let bytes = kb * 1024;
                let at = self.at(t);
                self.fx
                    .add_counter_sample(counter, at, bytes as f64 - last as f64, 1);
                last = bytes;
            }
        }
    }
}

fn secs(s: f64) -> Nanos {
    Nanos((s * 1e9).round().max(0.0) as u64)
}

/// The earliest time anything in the view happened: the profile's zero.
fn origin(view: &ExportView) -> Nanos {
    let (start, _) = start_end(view);
    let first_marker = view.markers.iter().map(|m| secs(m.time)).min();
    let first_point = view.timeline.first().map(|p| p.time);
    [Some(start), first_marker, first_point]
        .into_iter()
        .flatten()
        .filter(|t| t.0 > 0)
        .min()
        .unwrap_or(start)
}

/// The processed-profile JSON for `view`.
pub fn render(view: &ExportView, unit: &SampleUnit) -> Vec<u8> {
    let origin = origin(view);
    // The reference is the origin's wall-clock time when the recording gives one.
    let reference = wall_clock_start(view).map_or(0.0, |start_ns| {
        let (start, _) = start_end(view);
        (start_ns - start.0.saturating_sub(origin.0) as i64) as f64 / 1e6
    });
    let interval = SamplingInterval::from_nanos(view.clock.mean_period.round().max(1.0) as u64);
    let mut fx = FxProfile::new(
        &format!("faultline: {}", view.clock.event),
        ReferenceTimestamp::from_millis_since_unix_epoch(reference),
        interval,
    );
    fx.set_os_name("Linux");
    fx.set_symbolicated(true);
    let mut tops: BTreeMap<String, CategoryHandle> = BTreeMap::new();
    let mut phases = Vec::with_capacity(view.phases.len());
    for path in &view.phases {
        let top = path.split('/').next().unwrap_or("other").to_string();
        let category = *tops
            .entry(top.clone())
            .or_insert_with(|| fx.add_category(&top, phase_color(&top)));
        phases.push(fx.add_subcategory(category, path));
    }
    let markers = fx.add_category("tracepoints", CategoryColor::Magenta);
    let mut w = Writer {
        view,
        fx,
        origin,
        tracks: Tracks {
            processes: BTreeMap::new(),
            threads: FxHashMap::default(),
        },
        phases,
        markers,
    };
    w.samples(unit);
    w.markers();
    w.counters();
    serde_json::to_vec(&w.fx).expect("serialising plain data cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(name: &str, time: f64, payload: &str) -> Marker {
        Marker {
            name: name.into(),
            time,
            pid: 40,
            comm: "oom_reaper".into(),
            cpu: Some(1),
            payload: payload.into(),
        }
    }

    #[test]
    fn oom_reaping_becomes_an_interval_on_the_reapers_track() {
        let view = ExportView {
            markers: vec![
                marker("oom:start_task_reaping", 10.0, "pid=7"),
                marker("oom:start_task_reaping", 10.5, "pid=8"),
                marker("oom:finish_task_reaping", 10.25, "pid=7"),
            ],
            ..ExportView::default()
        };
        let unit = SampleUnit::of(&view);
        let doc: serde_json::Value = serde_json::from_slice(&render(&view, &unit)).unwrap();
        let thread = &doc["threads"][0];
        assert_eq!(thread["tid"], "40");
        assert_eq!(doc["threads"].as_array().unwrap().len(), 1);
        let m = &thread["markers"];
        let strings = thread["stringArray"].as_array().unwrap();
        let name = |i: usize| {
            strings[m["name"][i].as_u64().unwrap() as usize]
                .as_str()
                .unwrap()
        };
        // Three instants, and one interval: pid 8's reap never finished.
        assert_eq!(m["length"], 4);
        assert_eq!(name(3), "OOM reaping");
        assert_eq!(m["startTime"][3].as_f64().unwrap(), 0.0);
        assert!((m["endTime"][3].as_f64().unwrap() - 250.0).abs() < 1e-6);
        assert_eq!(m["phase"][3], 1, "an interval");
    }
}
