//! pprof: the gzipped `profile.proto` of google/pprof (`perftools.profiles.Profile`),
//! read by `go tool pprof`, Pyroscope, Parca and most profiling backends.
//!
//! The messages are hand-written `prost` derives rather than code generated from the
//! `.proto` file: the schema is small and frozen (ten messages, field numbers fixed
//! since 2016), and this needs neither `protoc` nor a build script on a 2-core CI box.
//! Field numbers follow
//! <https://github.com/google/pprof/blob/main/proto/profile.proto>; fields faultline
//! never sets are left out (absent and default are the same thing on the wire).

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;
use rustc_hash::FxHashMap;

use crate::analyze::export_view::ExportView;
use crate::export::{SampleUnit, frame_dso, start_end};
use crate::ingest::intern::FrameId;

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    /// What each sample value measures.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// Binaries (here: one per DSO).
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    /// Program locations (here: one per frame name and DSO).
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// Functions (one per frame name).
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Strings; entry 0 is always "".
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// Start of the recording, ns since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// Length of the recording.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// What the period counts.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// Events between samples.
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-form notes (string table indexes).
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// The value shown by default (string table index of its type).
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// `ValueType`: a (type, unit) pair of string indexes.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct ValueType {
    /// Type name (`cpu`, `samples`).
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// Unit (`nanoseconds`, `count`).
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Locations, leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per sample type.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// comm, pid, tid, phase.
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`: a string (`str`) or numeric (`num`) value under `key`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Label {
    /// Key (string index).
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// String value (string index).
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// Numeric value.
    #[prost(int64, tag = "3")]
    pub num: i64,
}

/// `Mapping`.
#[derive(Clone, PartialEq, Message)]
pub struct Mapping {
    /// Non-zero unique id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The DSO's name (string index).
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// Locations of this mapping carry function names.
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
}

/// `Location`.
#[derive(Clone, PartialEq, Message)]
pub struct Location {
    /// Non-zero unique id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its mapping.
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    /// Its function (one line: perf script already split inlined frames).
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Line {
    /// The function.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
}

/// `Function`.
#[derive(Clone, PartialEq, Message)]
pub struct Function {
    /// Non-zero unique id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Display name (string index).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// System name (string index; the same name: perf script prints demangled names).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
}

/// Builds the string table: index 0 is "", each string once.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: FxHashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// Frame → location ids, building functions and mappings as frames are first seen.
#[derive(Default)]
struct Locations {
    by_frame: FxHashMap<FrameId, u64>,
    functions: FxHashMap<String, u64>,
    mappings: FxHashMap<String, u64>,
    out_locations: Vec<Location>,
    out_functions: Vec<Function>,
    out_mappings: Vec<Mapping>,
}

impl Locations {
    fn id(&mut self, view: &ExportView, frame: FrameId, strings: &mut Strings) -> u64 {
        if let Some(&id) = self.by_frame.get(&frame) {
            return id;
        }
        let (name, flags) = view.profile.interner.frame_name(frame);
        let name = String::from_utf8_lossy(name).into_owned();
        let dso = frame_dso(view, frame, flags);
        let next_mapping = self.out_mappings.len() as u64 + 1;
        let mapping_id = *self.mappings.entry(dso.clone()).or_insert(next_mapping);
        if mapping_id == next_mapping {
            self.out_mappings.push(Mapping {
                id: mapping_id,
                filename: strings.get(&dso),
                has_functions: true,
            });
        }
        let next_function = self.out_functions.len() as u64 + 1;
        let function_id = *self.functions.entry(name.clone()).or_insert(next_function);
        if function_id == next_function {
            let n = strings.get(&name);
            self.out_functions.push(Function {
                id: function_id,
                name: n,
                system_name: n,
            });
        }
        let id = self.out_locations.len() as u64 + 1;
        self.out_locations.push(Location {
            id,
            mapping_id,
            line: vec![Line { function_id }],
        });
        self.by_frame.insert(frame, id);
        id
    }
}

/// The profile message for `view`, one pprof sample per (thread, stack, phase).
pub fn profile(view: &ExportView, unit: &SampleUnit, wall_clock_start_ns: Option<i64>) -> Profile {
    let mut strings = Strings::new();
    let mut locs = Locations::default();
    let sample_type = vec![
        ValueType {
            r#type: strings.get("samples"),
            unit: strings.get("count"),
        },
        ValueType {
            r#type: strings.get(&unit.kind),
            unit: strings.get(unit.unit),
        },
    ];
    let sample = samples(view, &mut strings, &mut locs);
    main_binary_first(&mut locs.out_mappings, &locs.out_locations, &strings);
    let (start, end) = start_end(view);
    let comment = vec![strings.get(&format!(
        "faultline export: {} of {} ({}); {}",
        crate::text::count(view.samples.len() as u64, "sample"),
        view.clock.event,
        view.clock.kind,
        unit.note
    ))];
    let period_type = Some(sample_type[1]);
    let default_sample_type = sample_type[1].r#type;
    Profile {
        sample_type,
        sample,
        mapping: locs.out_mappings,
        location: locs.out_locations,
        function: locs.out_functions,
        string_table: strings.table,
        time_nanos: wall_clock_start_ns.unwrap_or(0),
        duration_nanos: end.0.saturating_sub(start.0) as i64,
        period_type,
        period: view.clock.mean_period.round() as i64,
        comment,
        default_sample_type,
    }
}

/// pprof samples: identical (thread, stack, phase) merged, since the reader sums them
/// anyway and a recording has far fewer distinct stacks than samples.
fn samples(view: &ExportView, strings: &mut Strings, locs: &mut Locations) -> Vec<Sample> {
    let mut groups: FxHashMap<_, (u64, u64)> = FxHashMap::default();
    let mut order = Vec::new();
    for s in &view.samples {
        let key = (s.thread, s.stack, s.phase);
        let g = groups.entry(key).or_insert_with(|| {
            order.push(key);
            (0, 0)
        });
        g.0 += 1;
        g.1 += s.weight;
    }
    let [comm, pid, tid, phase_key] = ["comm", "pid", "tid", "phase"].map(|k| strings.get(k));
    let label = |key, str, num| Label { key, str, num };
    order
        .into_iter()
        .map(|key @ (thread, stack, phase)| {
            let (n, weight) = groups[&key];
            let mut location_id: Vec<u64> = view
                .profile
                .interner
                .frames_of(stack)
                .into_iter()
                .map(|f| locs.id(view, f, strings))
                .collect();
            location_id.reverse();
            let t = view.thread(thread);
            Sample {
                location_id,
                value: vec![n as i64, weight as i64],
                label: vec![
                    label(comm, strings.get(&String::from_utf8_lossy(&t.comm)), 0),
                    label(pid, 0, i64::from(t.pid.unwrap_or(t.tid))),
                    label(tid, 0, i64::from(t.tid)),
                    label(phase_key, strings.get(&view.phases[phase as usize]), 0),
                ],
            }
        })
        .collect()
}

/// pprof takes the first mapping for the main binary (`File:` in its reports): put
/// there the program file (not a library, not `[kernel.kallsyms]`) with the most
/// locations. Ids stay as they are; only the order changes.
fn main_binary_first(mappings: &mut [Mapping], locations: &[Location], strings: &Strings) {
    let is_program = |m: &Mapping| {
        let name = &strings.table[m.filename as usize];
        !name.starts_with('[') && !name.contains(".so")
    };
    let uses = |m: &Mapping| locations.iter().filter(|l| l.mapping_id == m.id).count();
    let best = (0..mappings.len())
        .filter(|&i| is_program(&mappings[i]))
        .max_by_key(|&i| (uses(&mappings[i]), std::cmp::Reverse(i)));
    if let Some(i) = best {
        mappings[..=i].rotate_right(1);
    }
}

/// The gzipped encoding of `profile`, as pprof files are stored.
pub fn encode(profile: &Profile) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&profile.encode_to_vec())
        .expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}
