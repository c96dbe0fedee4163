//! speedscope's file format (<https://www.speedscope.app/file-format-schema.json>):
//! frames shared by every profile, one `sampled` profile per thread with its samples
//! in recorded order (root-first frame indexes) and their weights in the clock's unit.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analyze::export_view::ExportView;
use crate::export::{SampleUnit, frame_dso, thread_label};
use crate::ingest::intern::{FrameId, StackId};
use crate::ingest::profile::ThreadId;

/// The schema every speedscope file names.
pub const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared,
    profiles: Vec<Sampled>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: usize,
    exporter: &'a str,
}

#[derive(Serialize)]
struct Shared {
    frames: Vec<Frame>,
}

#[derive(Serialize)]
struct Frame {
    name: String,
    file: String,
}

#[derive(Serialize)]
struct Sampled {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    #[serde(rename = "startValue")]
    start_value: u64,
    #[serde(rename = "endValue")]
    end_value: u64,
    samples: Vec<Vec<usize>>,
    weights: Vec<u64>,
}

/// A thread's samples (root-first frame indexes) and their weights.
type Samples = (Vec<Vec<usize>>, Vec<u64>);

/// Frame index per frame name, and stack → indexes, filled as samples are read.
struct Frames<'a> {
    view: &'a ExportView,
    by_name: FxHashMap<String, usize>,
    by_frame: FxHashMap<FrameId, usize>,
    stacks: FxHashMap<StackId, Vec<usize>>,
    out: Vec<Frame>,
}

impl Frames<'_> {
    fn stack(&mut self, stack: StackId) -> Vec<usize> {
        if let Some(s) = self.stacks.get(&stack) {
            return s.clone();
        }
        let frames = self.view.profile.interner.frames_of(stack);
        let indexes: Vec<usize> = frames.into_iter().map(|f| self.frame(f)).collect();
        self.stacks.insert(stack, indexes.clone());
        indexes
    }

    fn frame(&mut self, f: FrameId) -> usize {
        if let Some(&i) = self.by_frame.get(&f) {
            return i;
        }
        let (name, flags) = self.view.profile.interner.frame_name(f);
        let name = String::from_utf8_lossy(name).into_owned();
        let next = self.out.len();
        let i = *self.by_name.entry(name.clone()).or_insert(next);
        if i == next {
            let file = frame_dso(self.view, f, flags);
            self.out.push(Frame { name, file });
        }
        self.by_frame.insert(f, i);
        i
    }
}

/// The speedscope JSON for `view`.
pub fn render(view: &ExportView, unit: &SampleUnit) -> Vec<u8> {
    let mut frames = Frames {
        view,
        by_name: FxHashMap::default(),
        by_frame: FxHashMap::default(),
        stacks: FxHashMap::default(),
        out: Vec::new(),
    };
    // Threads in a stable order: by pid, then tid.
    let mut per_thread: BTreeMap<(i32, i32, ThreadId), Samples> = BTreeMap::new();
    for s in &view.samples {
        let t = view.thread(s.thread);
        let entry = per_thread
            .entry((t.pid.unwrap_or(t.tid), t.tid, s.thread))
            .or_default();
        entry.0.push(frames.stack(s.stack));
        entry.1.push(s.weight);
    }
    let speedscope_unit = if unit.is_time() {
        "nanoseconds"
    } else {
        "none"
    };
    let mine = |thread: ThreadId| {
        let t = view.thread(thread);
        view.workload_pid
            .is_some_and(|p| t.tid == p || t.pid == Some(p))
    };
    let mut active = (false, 0, 0);
    let mut profiles = Vec::with_capacity(per_thread.len());
    for ((_, _, thread), (samples, weights)) in per_thread {
        let end_value: u64 = weights.iter().sum();
        // Open on the heaviest thread of the workload (or of the recording).
        if (mine(thread), end_value) > (active.0, active.1) {
            active = (mine(thread), end_value, profiles.len());
        }
        profiles.push(Sampled {
            kind: "sampled",
            name: thread_label(view.thread(thread)),
            unit: speedscope_unit,
            start_value: 0,
            end_value,
            samples,
            weights,
        });
    }
    let active = active.2;
    let file = File {
        schema: SCHEMA,
        shared: Shared { frames: frames.out },
        name: format!("faultline: {} ({})", view.clock.event, unit.note),
        active_profile_index: active,
        exporter: concat!("faultline ", env!("CARGO_PKG_VERSION")),
        profiles,
    };
    serde_json::to_vec(&file).expect("serialising plain data cannot fail")
}
