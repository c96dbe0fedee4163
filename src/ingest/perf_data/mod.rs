//! perf.data files read directly, without `perf script`.
//!
//! The records are read with `linux-perf-data` (in time order, zstd-compressed ones
//! included), thread names and memory maps are tracked as perf tracks them, and every
//! sample becomes the same [`Sample`] the text parser produces: frames named
//! `symbol+offset (dso)` exactly as `perf script` prints them, comms, events, times,
//! periods and tracepoint payloads. [`Profile::from_samples`] then builds the profile,
//! so folding, flame graphs, phases, IRQ sites and markers work unchanged.
//!
//! Choices where perf's output has options:
//! - no inline frames: `perf script` adds them only with `--inline` and DWARF;
//! - callchains cut at 127 frames, perf script's default `--max-stack`;
//! - tracepoint samples weigh 1 and print no period, as in `perf script`.

pub mod header;
mod pick;
mod records;
pub mod resolve;
pub mod symbols;
pub mod tracing;

use std::io::Cursor;
use std::path::Path;

use linux_perf_data::linux_perf_event_reader::{CpuMode, EventRecord, Mmap2FileId, SampleRecord};
use linux_perf_data::{DsoKey, PerfFileReader, PerfFileRecord};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::ingest::memo::LineId;
use crate::ingest::profile::{BuildOptions, Profile};
use crate::ingest::script::{EventLine, Header, RawFrame, Sample};
use crate::units::Nanos;
pub use resolve::SymbolSources;
use resolve::{MAX_STACK, MapRecord, Resolver, StrId};

/// Whether `data` is a perf.data file (either byte order, file or pipe mode).
pub fn is_perf_data(data: &[u8]) -> bool {
    data.starts_with(b"PERFILE2") || data.starts_with(b"2ELIFREP")
}

/// A perf.data file read into a profile.
#[derive(Debug)]
pub struct Loaded {
    /// The profile, as the text path would have built it.
    pub profile: Profile,
    /// Things the user should know: missing symbols, lost or unreadable records.
    pub warnings: Vec<String>,
    /// Counts of what was read.
    pub stats: ReadStats,
}

/// Counts of records read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records read.
    pub records: u64,
    /// Samples turned into the profile.
    pub samples: u64,
    /// Samples the kernel reported lost (LOST records).
    pub lost: u64,
    /// Records of types this reader does not use and does not know.
    pub unknown_records: u64,
    /// Records that could not be parsed.
    pub bad_records: u64,
    /// Why reading stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Reads a perf.data file's bytes with the machine's symbols.
pub fn load(data: &[u8], path: &Path, opts: BuildOptions) -> Result<Loaded> {
    load_with(data, path, opts, &SymbolSources::default())
}

fn err(path: &Path, message: impl Into<String>) -> Error {
    Error::PerfDataRead {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a perf.data file's bytes, looking for symbols in `sources`.
pub fn load_with(
    data: &[u8],
    path: &Path,
    opts: BuildOptions,
    sources: &SymbolSources,
) -> Result<Loaded> {
    if !is_perf_data(data) {
        return Err(err(path, "not a perf.data file (no PERFILE2 magic)"));
    }
    if data.starts_with(b"2ELIFREP") {
        return Err(err(path, "big-endian perf.data files are not supported"));
    }
    let header_size = read_u64(data, 8).unwrap_or(0);
    let pipe = header_size == 16;
    let mut warnings = Vec::new();
    let patched;
    let bytes: &[u8] = match (!pipe).then(|| complete_part(data)).flatten() {
        Some((fixed, why)) => {
            warnings.push(format!(
                "{why}: reading the {} complete records; event names, build ids and \
                 tracepoint formats may be missing",
                fixed.records
            ));
            patched = fixed.bytes;
            &patched
        }
        None => data,
    };
    // The reader is defensive, but a recording is untrusted input: a panic in it must
    // not take the whole command down.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_records(bytes, path, pipe, sources, opts)
    }))
    .map_err(|_| {
        err(
            path,
            "the perf.data reader failed on this file (internal panic)",
        )
    })??;
    let Collected {
        header,
        resolver,
        samples,
        chains,
        event_names,
        mut stats,
        warnings: more,
    } = read;
    warnings.extend(more);
    if stats.samples == 0 {
        return Err(err(
            path,
            format!(
                "no samples in {} records{}",
                stats.records,
                stats
                    .stopped
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let mut header = header;
    header.captured_on = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(header::ctime);
    let profile = build_profile(header, opts, &resolver, &samples, &chains, &event_names);
    stats.samples = samples.len() as u64;
    report_stats(&stats, &mut warnings);
    Ok(Loaded {
        profile,
        warnings,
        stats,
    })
}

fn report_stats(stats: &ReadStats, warnings: &mut Vec<String>) {
    if let Some(why) = &stats.stopped {
        warnings.push(format!(
            "stopped reading after {} records ({} samples): {why}",
            stats.records, stats.samples
        ));
    }
    if stats.lost > 0 {
        warnings.push(format!(
            "the kernel lost {} samples while recording",
            stats.lost
        ));
    }
    if stats.unknown_records > 0 {
        warnings.push(format!(
            "skipped {} records of types this reader does not know",
            stats.unknown_records
        ));
    }
    if stats.bad_records > 0 {
        warnings.push(format!(
            "skipped {} records that could not be parsed",
            stats.bad_records
        ));
    }
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The readable part of a file that does not end where its header says.
struct Repaired {
    bytes: Vec<u8>,
    records: u64,
}

/// For a recording that was killed (data size 0 in the header) or cut short (shorter
/// than its header says): a copy whose header claims the complete records after the
/// data offset, and no feature sections (they are missing or cut). `None` for an
/// intact file.
fn complete_part(data: &[u8]) -> Option<(Repaired, &'static str)> {
    const HEADER: usize = 104;
    let offset = usize::try_from(read_u64(data, 40)?).ok()?;
    let size = usize::try_from(read_u64(data, 48)?).ok()?;
    let why = if size == 0 {
        "the recording was not finished (perf was killed?)"
    } else if offset.saturating_add(size) > data.len() {
        "the file is shorter than its header says (cut short?)"
    } else {
        return None;
    };
    if data.len() < HEADER || offset < HEADER || offset > data.len() {
        return None;
    }
    // Walk the record headers (u32 type, u16 misc, u16 size) to the last whole record.
    let (mut end, mut records) = (offset, 0u64);
    while let Some(h) = data.get(end..end + 8) {
        let len = usize::from(u16::from_le_bytes([h[6], h[7]]));
        if len < 8 || end + len > data.len() {
            break;
        }
        end += len;
        records += 1;
    }
    let mut bytes = data[..end].to_vec();
    bytes[48..56].copy_from_slice(&((end - offset) as u64).to_le_bytes());
    bytes[72..HEADER].fill(0);
    Some((Repaired { bytes, records }, why))
}

/// A sample waiting for the strings to be final.
struct PendingSample {
    event: u32,
    comm: StrId,
    pid: i32,
    tid: i32,
    cpu: Option<u32>,
    time: Option<u64>,
    period: Option<u64>,
    payload: Option<StrId>,
    chain: (u32, u32),
}

/// Everything read from the records.
struct Collected {
    header: Header,
    resolver: Resolver,
    samples: Vec<PendingSample>,
    chains: Vec<u32>,
    event_names: Vec<StrId>,
    stats: ReadStats,
    warnings: Vec<String>,
}

/// What a sample needs to know about its event.
struct EventInfo {
    name: StrId,
    tracepoint: bool,
    /// perf's period for samples that do not carry one: the attr's period (or frequency).
    default_period: u64,
    format: Option<tracing::EventFormat>,
}

fn read_records(
    data: &[u8],
    path: &Path,
    pipe: bool,
    sources: &SymbolSources,
    opts: BuildOptions,
) -> Result<Collected> {
    let PerfFileReader {
        mut perf_file,
        mut record_iter,
    } = open_reader(data, path, pipe)?;
    let attrs = header::raw_attrs(&perf_file);
    if pipe && attrs.iter().any(|a| a.type_ == 2) {
        return Err(err(
            path,
            "pipe-mode recordings with tracepoints are not supported (their tracing data \
             is inline); record to a file with `perf record -o FILE`",
        ));
    }
    let formats = perf_file
        .feature_section_data(linux_perf_data::Feature::TRACING_DATA)
        .and_then(tracing::parse_tracing_data)
        .unwrap_or_default();
    let (build_ids, kernel_build_id) = build_ids(&perf_file);
    let mut resolver = Resolver::new(build_ids, kernel_build_id, sources.clone());
    resolver.unknown_addresses = opts.include_addrs;
    resolver.threads = opts.threads;
    let mut warnings = Vec::new();
    let events = event_infos(&attrs, &formats, &mut resolver);
    if events.iter().any(|e| e.tracepoint && e.format.is_none()) {
        warnings
            .push("no tracepoint formats in the file: tracepoint payloads are empty".to_string());
    }
    let mut state = State {
        resolver,
        threads: FxHashMap::default(),
        events,
        samples: Vec::new(),
        chains: Vec::new(),
        stats: ReadStats::default(),
        swapper: 0,
        scratch: Vec::new(),
    };
    state.swapper = state.resolver.strings.id(b"swapper");
    if let Some(in_place) = (!pipe)
        .then(|| records::in_place(data, &perf_file))
        .flatten()
    {
        for record in in_place.records() {
            state.stats.records += 1;
            state.record(record);
        }
    } else {
        read_all(&mut state, &mut perf_file, &mut record_iter);
    }
    let header = header::header(&perf_file, &attrs);
    let event_names = state.events.iter().map(|e| e.name).collect();
    state.resolver.resolve();
    warnings.extend(state.resolver.finish_warnings());
    Ok(Collected {
        header,
        resolver: state.resolver,
        samples: state.samples,
        chains: state.chains,
        event_names,
        stats: state.stats,
        warnings,
    })
}

/// Reads the records with linux-perf-data, up to the end or the first unreadable one.
fn read_all(
    state: &mut State,
    perf_file: &mut linux_perf_data::PerfFile,
    record_iter: &mut linux_perf_data::PerfRecordIter<Cursor<&[u8]>>,
) {
    loop {
        match record_iter.next_record(perf_file) {
            Ok(Some(record)) => {
                state.stats.records += 1;
                state.record(record);
            }
            Ok(None) => break,
            Err(e) => {
                state.stats.stopped = Some(format!("{e} (the file may be truncated)"));
                break;
            }
        }
    }
}

/// Opens the file (or pipe-mode stream) for reading its records.
fn open_reader<'a>(
    data: &'a [u8],
    path: &Path,
    pipe: bool,
) -> Result<PerfFileReader<Cursor<&'a [u8]>>> {
    let cursor = Cursor::new(data);
    let parsed = if pipe {
        PerfFileReader::parse_pipe(cursor)
    } else {
        PerfFileReader::parse_file(cursor)
    };
    parsed.map_err(|e| {
        err(
            path,
            format!(
                "not a readable perf.data file ({e}); if perf reads it, convert it with \
                 `perf script --header -i {}`",
                path.display()
            ),
        )
    })
}

/// Build ids by the path of the file they identify.
type BuildIds = FxHashMap<Vec<u8>, Vec<u8>>;

/// The build ids the file recorded, by path, and the kernel's.
fn build_ids(perf_file: &linux_perf_data::PerfFile) -> (BuildIds, Option<Vec<u8>>) {
    let mut build_ids = FxHashMap::default();
    let mut kernel_build_id = None;
    if let Ok(ids) = perf_file.build_ids() {
        for (key, info) in ids {
            if key == DsoKey::Kernel {
                kernel_build_id = Some(info.build_id.clone());
            }
            build_ids.insert(info.path.clone(), info.build_id.clone());
        }
    }
    (build_ids, kernel_build_id)
}

/// What the reader needs of each event: its name, whether it is a tracepoint (and its
/// payload format), and the period of samples that carry none.
fn event_infos(
    attrs: &[header::RawAttr],
    formats: &tracing::Formats,
    resolver: &mut Resolver,
) -> Vec<EventInfo> {
    attrs
        .iter()
        .map(|a| {
            let format = (a.type_ == 2)
                .then(|| formats.get(&a.config).cloned())
                .flatten();
            EventInfo {
                name: resolver.strings.id(a.name.as_bytes()),
                tracepoint: a.type_ == 2,
                default_period: a.period_or_freq,
                format,
            }
        })
        .collect()
}

/// The reader's running state: threads' names, maps, and the samples so far.
struct State {
    resolver: Resolver,
    /// tid → comm.
    threads: FxHashMap<i32, StrId>,
    events: Vec<EventInfo>,
    samples: Vec<PendingSample>,
    chains: Vec<u32>,
    stats: ReadStats,
    swapper: StrId,
    scratch: Vec<u32>,
}

const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;
const PERF_CONTEXT_KERNEL: u64 = -128i64 as u64;
const PERF_CONTEXT_USER: u64 = -512i64 as u64;
const PERF_CONTEXT_HV: u64 = -32i64 as u64;
const KERNEL_START: u64 = 0xffff_8000_0000_0000;

impl State {
    fn record(&mut self, record: PerfFileRecord<'_>) {
        match record {
            PerfFileRecord::EventRecord { attr_index, record } => match record.parse() {
                Ok(r) => self.event_record(attr_index, r),
                Err(_) => self.stats.bad_records += 1,
            },
            PerfFileRecord::UserRecord(u) => {
                // perf's own record types run from HEADER_ATTR (64) to COMPRESSED2 (83):
                // attributes, build ids, rounds, maps, stats, time conversion, none of
                // which the profile needs.
                if !(64..=83).contains(&u.record_type.record_type().0) {
                    self.stats.unknown_records += 1;
                }
            }
        }
    }

    fn event_record(&mut self, attr_index: usize, r: EventRecord<'_>) {
        match r {
            EventRecord::Sample(s) => self.sample(attr_index, &s),
            EventRecord::Comm(c) => {
                let id = self.resolver.strings.id(&c.name.as_slice());
                self.threads.insert(c.tid, id);
            }
            EventRecord::Fork(f) => {
                if let Some(&comm) = self.threads.get(&f.ptid) {
                    self.threads.insert(f.tid, comm);
                }
                self.resolver.fork(f.pid, f.ppid);
            }
            EventRecord::Mmap(m) => {
                let path = m.path.as_slice();
                let rec = MapRecord {
                    pid: m.pid,
                    start: m.address,
                    len: m.length,
                    pgoff: m.page_offset,
                    path: &path,
                    build_id: None,
                };
                self.mmap(&rec, m.is_executable);
            }
            EventRecord::Mmap2(m) => {
                let build_id = match &m.file_id {
                    Mmap2FileId::BuildId(b) => Some(b.as_slice()),
                    _ => None,
                };
                const PROT_EXEC: u32 = 4;
                let path = m.path.as_slice();
                let rec = MapRecord {
                    pid: m.pid,
                    start: m.address,
                    len: m.length,
                    pgoff: m.page_offset,
                    path: &path,
                    build_id,
                };
                self.mmap(&rec, m.protection & PROT_EXEC != 0);
            }
            EventRecord::Lost(l) => self.stats.lost += l.count,
            EventRecord::Exit(_)
            | EventRecord::Throttle(_)
            | EventRecord::Unthrottle(_)
            | EventRecord::ContextSwitch(_) => {}
            EventRecord::Raw(raw) => {
                // KSYMBOL, BPF_EVENT, CGROUP, TEXT_POKE, NAMESPACES, LOST_SAMPLES and
                // the like carry nothing the profile uses.
                if raw.record_type.0 > 21 {
                    self.stats.unknown_records += 1;
                }
            }
            _ => self.stats.unknown_records += 1,
        }
    }

    fn mmap(&mut self, m: &MapRecord<'_>, exec: bool) {
        if m.pid == -1 {
            self.resolver.kernel_mmap(m.path, m.pgoff);
        } else if exec {
            self.resolver.mmap(m);
        }
    }

    fn sample(&mut self, attr_index: usize, s: &SampleRecord<'_>) {
        let Some(event) = self.events.get(attr_index) else {
            self.stats.bad_records += 1;
            return;
        };
        let pid = s.pid.unwrap_or(-1);
        let tid = s.tid.unwrap_or(-1);
        let comm = match self.threads.get(&tid) {
            Some(&c) => c,
            None if tid == 0 => self.swapper,
            None => self.resolver.strings.id(format!(":{tid}").as_bytes()),
        };
        let period = if event.tracepoint {
            None
        } else {
            Some(s.period.unwrap_or(event.default_period))
        };
        let payload = match (&event.format, &s.raw) {
            (Some(f), Some(raw)) => {
                let text = f.payload(&raw.as_slice());
                Some(self.resolver.strings.id(text.as_bytes()))
            }
            _ => None,
        };
        let event_idx = attr_index as u32;
        self.callchain(pid, s);
        // A callchain like the last sample's (an idle CPU's, a loop's) is stored once.
        let chain = match self.samples.last() {
            Some(last) if self.chain_of(last) == self.scratch.as_slice() => last.chain,
            _ => {
                let start = self.chains.len() as u32;
                self.chains.extend_from_slice(&self.scratch);
                (start, self.scratch.len() as u32)
            }
        };
        self.samples.push(PendingSample {
            event: event_idx,
            comm,
            pid,
            tid,
            cpu: s.cpu,
            time: s.timestamp,
            period,
            payload,
            chain,
        });
        self.stats.samples += 1;
    }

    fn chain_of(&self, p: &PendingSample) -> &[u32] {
        &self.chains[p.chain.0 as usize..(p.chain.0 + p.chain.1) as usize]
    }

    /// Resolves the sample's callchain (or its ip when it has none) into `scratch`,
    /// leaf first, skipping perf's context markers.
    fn callchain(&mut self, pid: i32, s: &SampleRecord<'_>) {
        self.scratch.clear();
        let Some(chain) = &s.callchain else {
            if let Some(ip) = s.ip {
                let kernel = matches!(s.cpu_mode, CpuMode::Kernel | CpuMode::GuestKernel);
                let f = self.frame(pid, ip, Some(kernel));
                self.scratch.push(f);
            }
            return;
        };
        let mut mode: Option<bool> = None;
        for i in 0..chain.len() {
            let Some(ip) = chain.get(i) else { break };
            if ip >= PERF_CONTEXT_MAX {
                mode = match ip {
                    PERF_CONTEXT_KERNEL => Some(true),
                    PERF_CONTEXT_USER | PERF_CONTEXT_HV => Some(false),
                    // perf script takes any other marker (-1 in a corrupted chain,
                    // guest contexts) as a broken callchain and prints no frames.
                    _ => {
                        self.scratch.clear();
                        return;
                    }
                };
                continue;
            }
            if self.scratch.len() >= MAX_STACK {
                break;
            }
            let f = self.frame(pid, ip, mode);
            self.scratch.push(f);
        }
    }

    fn frame(&mut self, pid: i32, ip: u64, kernel: Option<bool>) -> u32 {
        if kernel.unwrap_or(ip >= KERNEL_START) {
            self.resolver.kernel(ip)
        } else {
            self.resolver.user(pid, ip)
        }
    }
}

/// Appends hex digits without `0x`, as perf prints addresses and offsets, and returns
/// where they are in `out`.
fn push_hex(out: &mut Vec<u8>, v: u64) -> std::ops::Range<usize> {
    let start = out.len();
    // By hand: a recording has tens of thousands of frames, and `write!` costs more
    // per number than the rest of a frame's handling.
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[(v >> (4 * i) & 0xf) as usize]);
    }
    start..out.len()
}

/// Per frame, the line id the profile builder knows it by: the same for frames that
/// intern alike. The builder keeps what a line interns to by its id, as for a
/// callchain line of `perf script` seen before; what that is depends on the symbol and
/// DSO, on the offset only for the samples' leaves (`keep_samples`), and not on the
/// address (used only for unknown symbols with `include_addrs`, which it never keeps).
/// Broken callchains give a frame per garbage address, all `[unknown]`: one line id
/// saves interning each of them anew.
fn line_ids(resolver: &Resolver, opts: BuildOptions) -> Vec<LineId> {
    let mut first: FxHashMap<(StrId, StrId, Option<u64>), u32> = FxHashMap::default();
    (0..)
        .zip(&resolver.frames)
        .map(|(i, f)| {
            let offset = f.offset.filter(|_| opts.keep_samples);
            LineId(*first.entry((f.symbol, f.dso, offset)).or_insert(i))
        })
        .collect()
}

/// Feeds the collected samples, now borrowing final strings, to the profile builder.
fn build_profile(
    header: Header,
    opts: BuildOptions,
    resolver: &Resolver,
    samples: &[PendingSample],
    chains: &[u32],
    event_names: &[StrId],
) -> Profile {
    // Address and offset texts, in one buffer that lives for as long as the frames
    // borrow it.
    let mut hex = Vec::with_capacity(resolver.frames.len() * 16);
    let at: Vec<_> = resolver
        .frames
        .iter()
        .map(|f| {
            (
                push_hex(&mut hex, f.addr),
                f.offset.map(|o| push_hex(&mut hex, o)),
            )
        })
        .collect();
    let s = |id: StrId| resolver.strings.get(id);
    let frames: Vec<RawFrame<'_>> = resolver
        .frames
        .iter()
        .zip(at)
        .map(|(f, (addr, off))| RawFrame {
            addr: &hex[addr],
            symbol: s(f.symbol),
            offset: off.map_or(&[][..], |o| &hex[o]),
            dso: s(f.dso),
        })
        .collect();
    let lines = line_ids(resolver, opts);
    Profile::from_samples(header, opts, |sink| {
        let mut sample = Sample {
            head: EventLine::default(),
            frames: Vec::new(),
            lines: Vec::new(),
            line: 0,
        };
        for (i, p) in samples.iter().enumerate() {
            sample.head = EventLine {
                comm: s(p.comm),
                pid: Some(p.pid),
                tid: p.tid,
                cpu: p.cpu,
                time: p.time.map(Nanos),
                period: p.period,
                event: s(event_names[p.event as usize]),
                payload: p.payload.map_or(&[][..], s),
                frame: None,
            };
            // Samples with the last one's callchain share its stored copy.
            if i == 0 || p.chain != samples[i - 1].chain {
                sample.frames.clear();
                sample.lines.clear();
                let (start, len) = (p.chain.0 as usize, p.chain.1 as usize);
                sample.lines.extend(
                    chains[start..start + len]
                        .iter()
                        .map(|&f| lines[f as usize]),
                );
                sample.frames.extend(
                    chains[start..start + len]
                        .iter()
                        .map(|&f| frames[f as usize]),
                );
            }
            sample.line = i as u64 + 1;
            sink(&sample);
        }
    })
}
