//! Addresses to frames: per-process memory maps from MMAP records, the kernel's
//! symbols, and each mapped file's symbols, loaded when first needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::pick::sorted_hits;
use super::symbols::{self, ElfImage, Kallsyms, SymbolTable};
use crate::ingest::intern::FxIndexSet;

/// Index of an interned string (symbol, DSO, comm, address text).
pub type StrId = u32;

/// Interned strings. Boxes never move, so after reading their bytes can be borrowed
/// for as long as the set lives.
#[derive(Default)]
pub struct Strings {
    set: FxIndexSet<Box<[u8]>>,
}

impl Strings {
    /// The id of `s`, interning it on first sight.
    pub fn id(&mut self, s: &[u8]) -> StrId {
        if let Some(i) = self.set.get_index_of(s) {
            return i as StrId;
        }
        self.set.insert_full(s.into()).0 as StrId
    }

    /// The bytes of an id.
    pub fn get(&self, id: StrId) -> &[u8] {
        &self.set[id as usize]
    }
}

/// Where the symbol files are: the machine's, or another root for tests.
#[derive(Debug, Clone)]
pub struct SymbolSources {
    /// `/proc/kallsyms`.
    pub kallsyms: PathBuf,
    /// `/sys/kernel/notes` (the running kernel's build id).
    pub kernel_notes: PathBuf,
    /// The home directory whose `.debug` holds perf's build-id cache.
    pub home: Option<PathBuf>,
    /// Where distributions install separate debug files (`/usr/lib/debug`).
    pub debug_root: PathBuf,
}

impl Default for SymbolSources {
    fn default() -> Self {
        SymbolSources {
            kallsyms: "/proc/kallsyms".into(),
            kernel_notes: "/sys/kernel/notes".into(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            debug_root: "/usr/lib/debug".into(),
        }
    }
}

/// A printed frame: address text, symbol, offset text (empty: none), DSO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameText {
    /// The address as perf prints it.
    pub addr: u64,
    /// The symbol; `[unknown]` when unresolved.
    pub symbol: StrId,
    /// The offset into the symbol, when resolved.
    pub offset: Option<u64>,
    /// The DSO name.
    pub dso: StrId,
}

/// What an MMAP or MMAP2 record says.
#[derive(Debug, Clone, Copy)]
pub struct MapRecord<'a> {
    /// The process (-1 for the kernel).
    pub pid: i32,
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// File offset of `start`.
    pub pgoff: u64,
    /// The file (or `[vdso]`, `//anon`, `[kernel.kallsyms]_text`).
    pub path: &'a [u8],
    /// The file's build id, when MMAP2 carried it.
    pub build_id: Option<&'a [u8]>,
}

/// A process's executable mappings, and which version of them they are.
#[derive(Default, Clone)]
struct Process {
    maps: BTreeMap<u64, Mapping>,
    /// Unique to these mappings of this process: frames looked up in them are
    /// remembered under it ([`Resolver::recent`]).
    version: u32,
}

/// A slot of [`Resolver::recent`]; version 0 is no process's.
#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    version: u32,
    frame: u32,
    ip: u64,
}

/// log2 of the number of [`Recent`] slots (256 KiB of them).
const RECENT_BITS: u32 = 14;

impl Recent {
    fn slot(version: u32, ip: u64) -> usize {
        let h = (ip ^ u64::from(version).rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - RECENT_BITS)) as usize
    }
}

/// Symbols to read: a mapped file's for its frames' (file offset, address)es, or the
/// kernel's.
enum Job {
    Dso(u32, Vec<(u64, u64)>),
    Kernel,
}

impl Job {
    /// How much reading it is, roughly: its addresses.
    fn size(&self, ips: &[u64]) -> usize {
        match self {
            Job::Dso(_, addrs) => addrs.len(),
            Job::Kernel => ips.len(),
        }
    }
}

/// A job's result.
enum Done {
    Dso(Named),
    Kernel(Result<SymbolTable, String>),
}

/// Per frame of a mapped file: the address perf prints, and the symbol found (its
/// start, printed name, the offset into it); or why the file has no symbols.
type Named = Result<Vec<(u64, Option<(u64, Arc<str>, u64)>)>, String>;

/// One executable mapping of a process.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    end: u64,
    pgoff: u64,
    dso: u32,
}

struct Dso {
    name: StrId,
    path: Vec<u8>,
    build_id: Option<Vec<u8>>,
    /// A JIT's `/tmp/perf-PID.map`: symbols by absolute address.
    perf_map: bool,
}

/// What a frame's address is, until the symbols are read.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Nothing to look up.
    Done,
    Kernel,
    User {
        dso: u32,
        file_off: u64,
        ip: u64,
    },
}

/// Resolves addresses to frames, caching each distinct frame once.
pub struct Resolver {
    /// Every string frames and samples refer to.
    pub strings: Strings,
    /// Each distinct frame once; samples refer to them by index. Named only by
    /// [`Resolver::resolve`]: symbols are read after all the records, for the
    /// addresses the samples hit.
    pub frames: Vec<FrameText>,
    /// Per frame: what to look up.
    targets: Vec<Target>,
    frame_ids: FxHashMap<(u32, u64), u32>,
    /// Frames of perf maps, by (DSO, address, file offset): named by address, or by
    /// file offset when the map is missing.
    map_frame_ids: FxHashMap<(u32, u64, u64), u32>,
    /// (DSO, symbol start) → its printed name.
    symbol_names: FxHashMap<(u32, u64), StrId>,
    maps: FxHashMap<i32, Process>,
    /// Frames of recent (process version, address)es, direct-mapped: most samples
    /// repeat addresses seen shortly before, and one probe is less work than finding
    /// the mapping and then the frame by file offset. Fixed in size, unlike a map of
    /// every address ever seen.
    recent: Vec<Recent>,
    versions: u32,
    dsos: Vec<Dso>,
    dso_ids: FxHashMap<Vec<u8>, u32>,
    /// `_text`'s address from the kernel MMAP record, to undo a KASLR shift.
    kernel_text: Option<u64>,
    /// Build ids from the file's header, by path.
    build_ids: FxHashMap<Vec<u8>, Vec<u8>>,
    kernel_build_id: Option<Vec<u8>>,
    sources: SymbolSources,
    unknown: StrId,
    unknown_dso: StrId,
    kernel_dso: StrId,
    /// What went wrong while loading symbols, for the user.
    pub warnings: Vec<String>,
    /// Threads to read symbol files on; 0: one per core.
    pub threads: usize,
    /// Whether frames of addresses outside any mapping keep their address (for
    /// `--addrs`); else they are all one `[unknown] ([unknown])` frame at 0, which is
    /// all that is printed of them.
    pub unknown_addresses: bool,
    missing_dsos: Vec<String>,
}

const KERNEL_KEY: u32 = u32::MAX;
const UNKNOWN_KEY: u32 = u32::MAX - 1;
/// perf script's default `--max-stack`.
pub const MAX_STACK: usize = 127;

impl Resolver {
    /// A resolver using the file's build ids and the given symbol sources.
    pub fn new(
        build_ids: FxHashMap<Vec<u8>, Vec<u8>>,
        kernel_build_id: Option<Vec<u8>>,
        sources: SymbolSources,
    ) -> Self {
        let mut strings = Strings::default();
        let unknown = strings.id(b"[unknown]");
        let kernel_dso = strings.id(b"[kernel.kallsyms]");
        Resolver {
            strings,
            frames: Vec::new(),
            targets: Vec::new(),
            frame_ids: FxHashMap::default(),
            map_frame_ids: FxHashMap::default(),
            symbol_names: FxHashMap::default(),
            maps: FxHashMap::default(),
            recent: vec![Recent::default(); 1 << RECENT_BITS],
            versions: 0,
            dsos: Vec::new(),
            dso_ids: FxHashMap::default(),
            kernel_text: None,
            build_ids,
            kernel_build_id,
            sources,
            unknown,
            unknown_dso: unknown,
            kernel_dso,
            warnings: Vec::new(),
            unknown_addresses: true,
            threads: 0,
            missing_dsos: Vec::new(),
        }
    }

    /// A kernel MMAP record: remembers where `_text` was loaded.
    pub fn kernel_mmap(&mut self, path: &[u8], pgoff: u64) {
        if path.starts_with(b"[kernel.kallsyms]_text")
            || path.starts_with(b"[kernel.kallsyms]_stext")
        {
            self.kernel_text = Some(pgoff);
        }
    }

    /// A user MMAP/MMAP2 record of an executable mapping.
    pub fn mmap(&mut self, m: &MapRecord<'_>) {
        let MapRecord {
            pid,
            start,
            len,
            pgoff,
            path,
            build_id,
        } = *m;
        let dso = self.dso(pid, path, build_id);
        let end = start.saturating_add(len);
        let version = self.new_version();
        let process = self.maps.entry(pid).or_default();
        process.version = version;
        let maps = &mut process.maps;
        // A new mapping replaces what it overlaps, keeping the parts outside it.
        let overlapping: Vec<(u64, Mapping)> = maps
            .range(..end)
            .rev()
            .take_while(|(_, m)| m.end > start)
            .map(|(&s, &m)| (s, m))
            .collect();
        for (s, m) in overlapping {
            maps.remove(&s);
            if s < start {
                maps.insert(s, Mapping { end: start, ..m });
            }
            if m.end > end {
                let pgoff = m.pgoff + (end - s);
                maps.insert(end, Mapping { pgoff, ..m });
            }
        }
        maps.insert(start, Mapping { end, pgoff, dso });
    }

    /// A FORK record that starts a new process: it starts with its parent's maps.
    pub fn fork(&mut self, pid: i32, ppid: i32) {
        if pid == ppid {
            return;
        }
        let mut child = self.maps.get(&ppid).cloned().unwrap_or_default();
        child.version = self.new_version();
        self.maps.insert(pid, child);
    }

    fn new_version(&mut self) -> u32 {
        // Versions run out after 4 billion mapping changes (never in practice): then
        // the processes are numbered anew and the cache forgotten.
        if self.versions >= KERNEL_KEY - 1 {
            self.versions = 0;
            for p in self.maps.values_mut() {
                self.versions += 1;
                p.version = self.versions;
            }
            self.recent.fill(Recent::default());
        }
        self.versions += 1;
        self.versions
    }

    fn dso(&mut self, pid: i32, path: &[u8], build_id: Option<&[u8]>) -> u32 {
        // perf names anonymous executable memory after the JIT map it may have.
        let path: Vec<u8> = if path == b"//anon"
            || path.starts_with(b"/dev/zero")
            || path.starts_with(b"/anon_hugepage")
        {
            format!("/tmp/perf-{pid}.map").into_bytes()
        } else {
            path.to_vec()
        };
        let mut key = path.clone();
        if let Some(b) = build_id {
            key.push(0);
            key.extend_from_slice(b);
        }
        if let Some(&id) = self.dso_ids.get(&key) {
            return id;
        }
        let id = self.dsos.len() as u32;
        let build_id = build_id
            .map(<[u8]>::to_vec)
            .or_else(|| self.build_ids.get(&path).cloned());
        let text = String::from_utf8_lossy(&path);
        let perf_map = text.starts_with("/tmp/perf-") && text.ends_with(".map");
        self.dsos.push(Dso {
            name: self.strings.id(&path),
            path,
            build_id,
            perf_map,
        });
        self.dso_ids.insert(key, id);
        id
    }

    /// The frame for a user-space address of process `pid`.
    pub fn user(&mut self, pid: i32, ip: u64) -> u32 {
        let Some(process) = self.maps.get(&pid) else {
            return self.unknown_frame(ip);
        };
        let version = process.version;
        let slot = Recent::slot(version, ip);
        let r = self.recent[slot];
        if r.version == version && r.ip == ip {
            return r.frame;
        }
        let found = process.maps.range(..=ip).next_back();
        let found = found.and_then(|(&start, m)| (ip < m.end).then_some((start, *m)));
        let frame = self.user_uncached(ip, found);
        self.recent[slot] = Recent { version, frame, ip };
        frame
    }

    /// The frame for `ip` in the mapping `found` (its start and itself).
    fn user_uncached(&mut self, ip: u64, found: Option<(u64, Mapping)>) -> u32 {
        let Some((start, m)) = found else {
            return self.unknown_frame(ip);
        };
        let file_off = ip - start + m.pgoff;
        let dso = &self.dsos[m.dso as usize];
        // Unnamed until resolved: a missing file's frames stay so.
        let frame = FrameText {
            addr: file_off,
            symbol: self.unknown,
            offset: None,
            dso: dso.name,
        };
        let target = Target::User {
            dso: m.dso,
            file_off,
            ip,
        };
        if dso.perf_map {
            if let Some(&f) = self.map_frame_ids.get(&(m.dso, ip, file_off)) {
                return f;
            }
            let id = self.add_frame(frame, target);
            self.map_frame_ids.insert((m.dso, ip, file_off), id);
            return id;
        }
        if let Some(&f) = self.frame_ids.get(&(m.dso, file_off)) {
            return f;
        }
        let id = self.add_frame(frame, target);
        self.frame_ids.insert((m.dso, file_off), id);
        id
    }

    /// The frame for a kernel address.
    pub fn kernel(&mut self, ip: u64) -> u32 {
        // The kernel's frames are the recent cache's too, under a version no
        // process's mappings reach.
        let slot = Recent::slot(KERNEL_KEY, ip);
        let r = self.recent[slot];
        if r.version == KERNEL_KEY && r.ip == ip {
            return r.frame;
        }
        let frame = self.kernel_uncached(ip);
        self.recent[slot] = Recent {
            version: KERNEL_KEY,
            frame,
            ip,
        };
        frame
    }

    fn kernel_uncached(&mut self, ip: u64) -> u32 {
        self.symbolless_frame(KERNEL_KEY, ip, self.kernel_dso, Target::Kernel)
    }

    /// A frame perf prints as `[unknown] ([unknown])`.
    pub fn unknown_frame(&mut self, ip: u64) -> u32 {
        // Broken callchains (code without frame pointers) give tens of thousands of
        // garbage addresses; printed without addresses, one frame stands for all.
        let ip = if self.unknown_addresses { ip } else { 0 };
        self.symbolless_frame(UNKNOWN_KEY, ip, self.unknown_dso, Target::Done)
    }

    /// The frame of an address with no symbol yet in `dso`, one per (key, address).
    fn symbolless_frame(&mut self, key: u32, ip: u64, dso: StrId, target: Target) -> u32 {
        if let Some(&f) = self.frame_ids.get(&(key, ip)) {
            return f;
        }
        let frame = FrameText {
            addr: ip,
            symbol: self.unknown,
            offset: None,
            dso,
        };
        let id = self.add_frame(frame, target);
        self.frame_ids.insert((key, ip), id);
        id
    }

    fn add_frame(&mut self, frame: FrameText, target: Target) -> u32 {
        let id = self.frames.len() as u32;
        self.frames.push(frame);
        self.targets.push(target);
        id
    }

    /// Names the frames: reads the kernel's and each mapped file's symbols, only as far
    /// as the addresses the samples hit need ([`super::pick`]). Files are read in the
    /// order their first frame was seen, which is the order their warnings list them.
    pub fn resolve(&mut self) {
        let mut kernel = Vec::new();
        let mut by_dso: Vec<Vec<u32>> = vec![Vec::new(); self.dsos.len()];
        let mut order = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            match *t {
                Target::Done => {}
                Target::Kernel => kernel.push(i as u32),
                Target::User { dso, .. } => {
                    if by_dso[dso as usize].is_empty() {
                        order.push(dso);
                    }
                    by_dso[dso as usize].push(i as u32);
                }
            }
        }
        let ips: Vec<u64> = kernel
            .iter()
            .map(|&f| self.frames[f as usize].addr)
            .collect();
        let jobs: Vec<Job> = order
            .iter()
            .map(|&dso| Job::Dso(dso, self.addresses(&by_dso[dso as usize])))
            .chain((!kernel.is_empty()).then_some(Job::Kernel))
            .collect();
        let mut done = self.run_jobs(&jobs, &ips).into_iter();
        for &dso in &order {
            if let Some(Done::Dso(named)) = done.next() {
                self.name_dso_frames(dso, &by_dso[dso as usize], named);
            }
        }
        if let Some(Done::Kernel(table)) = done.next() {
            self.name_kernel_frames(&kernel, &ips, table);
        }
        self.targets.iter_mut().for_each(|t| *t = Target::Done);
    }

    /// (file offset, address) of each of `frames`.
    fn addresses(&self, frames: &[u32]) -> Vec<(u64, u64)> {
        frames
            .iter()
            .map(|&f| match self.targets[f as usize] {
                Target::User { file_off, ip, .. } => (file_off, ip),
                _ => (0, 0),
            })
            .collect()
    }

    /// Reads the symbols of each job, on `threads` threads (0: one per core): mapped
    /// files are independent, and the largest (reading its table, demangling its
    /// names) takes as long as all the rest. Results come in the jobs' order, so
    /// they do not depend on which thread did what.
    fn run_jobs(&self, jobs: &[Job], ips: &[u64]) -> Vec<Done> {
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .clamp(1, jobs.len().max(1));
        let run = |job: &Job| match job {
            Job::Dso(dso, addrs) => Done::Dso(self.read_dso(*dso, addrs)),
            Job::Kernel => Done::Kernel(self.kernel_table(ips)),
        };
        if threads == 1 {
            return jobs.iter().map(run).collect();
        }
        // Largest first, so that the longest job does not start last.
        let mut queue: Vec<usize> = (0..jobs.len()).collect();
        queue.sort_by_key(|&j| std::cmp::Reverse(jobs[j].size(ips)));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(Vec::with_capacity(jobs.len()));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&j) = queue.get(at) else { break };
                        let done = run(&jobs[j]);
                        if let Ok(mut r) = results.lock() {
                            r.push((j, done));
                        }
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        results.sort_by_key(|r| r.0);
        results.into_iter().map(|r| r.1).collect()
    }

    /// A mapped file's symbols for its frames at `addrs` (file offset, address): per
    /// frame the address perf prints and what it found (symbol start, printed name,
    /// offset), each symbol's name demangled once.
    fn read_dso(&self, dso: u32, addrs: &[(u64, u64)]) -> Named {
        let d = &self.dsos[dso as usize];
        let absolute = d.perf_map;
        let (segments, table) = if absolute {
            symbols_of_perf_map(&d.path).map(|t| (Vec::new(), t))?
        } else {
            let offsets: Vec<u64> = addrs.iter().map(|a| a.0).collect();
            load_dso(&d.path, d.build_id.as_deref(), &self.sources, &offsets)?
        };
        let mut names: FxHashMap<u64, Arc<str>> = FxHashMap::default();
        let named = addrs
            .iter()
            .map(|&(file_off, ip)| {
                let (addr, vaddr) = if absolute {
                    (ip, ip)
                } else {
                    (file_off, symbols::address_of(&segments, file_off))
                };
                let found = table.find(vaddr).map(|s| {
                    let name = names
                        .entry(s.start)
                        .or_insert_with(|| s.display_name().into())
                        .clone();
                    (s.start, name, vaddr - s.start)
                });
                (addr, found)
            })
            .collect();
        Ok(named)
    }

    fn name_dso_frames(&mut self, dso: u32, frames: &[u32], named: Named) {
        let named = match named {
            Ok(n) => n,
            Err(why) => {
                let path = String::from_utf8_lossy(&self.dsos[dso as usize].path);
                self.missing_dsos.push(format!("{path}: {why}"));
                return;
            }
        };
        for (&f, (addr, found)) in frames.iter().zip(named) {
            let frame = &mut self.frames[f as usize];
            frame.addr = addr;
            if let Some((start, name, offset)) = found {
                frame.offset = Some(offset);
                let strings = &mut self.strings;
                frame.symbol = *self
                    .symbol_names
                    .entry((dso, start))
                    .or_insert_with(|| strings.id(name.as_bytes()));
            }
        }
    }

    fn name_kernel_frames(
        &mut self,
        frames: &[u32],
        ips: &[u64],
        table: Result<SymbolTable, String>,
    ) {
        let table = match table {
            Ok(t) => Some(t),
            Err(why) => {
                self.warnings
                    .push(format!("kernel frames are shown as addresses: {why}"));
                None
            }
        };
        for (&f, &ip) in frames.iter().zip(ips) {
            self.frames[f as usize] = match &table {
                Some(t) => match t.find(ip) {
                    Some(s) => {
                        let dso = if s.module.is_empty() {
                            self.kernel_dso
                        } else {
                            self.strings.id(format!("[{}]", s.module).as_bytes())
                        };
                        FrameText {
                            addr: ip,
                            symbol: self.strings.id(s.name.as_bytes()),
                            offset: Some(ip - s.start),
                            dso,
                        }
                    }
                    None => self.frames[f as usize],
                },
                // Without symbols each address is its own frame, named by its address.
                None => FrameText {
                    symbol: self.strings.id(format!("{ip:#x}").as_bytes()),
                    ..self.frames[f as usize]
                },
            };
        }
    }

    /// kallsyms for the recorded kernel, with the symbols lookups of `ips` need, moved
    /// to where the recorded kernel was: perf's saved copy in the build-id cache when
    /// there is one, else the running kernel's when the build ids match. The copy is
    /// the same list, taken at record time, and a plain file: reading /proc/kallsyms
    /// makes the kernel format every line anew, which cost more than all the rest of
    /// reading an 11 MB recording.
    fn kernel_table(&self, ips: &[u64]) -> Result<SymbolTable, String> {
        let recorded = self.kernel_build_id.as_deref();
        let mut tried = Vec::new();
        if let (Some(home), Some(id)) = (&self.sources.home, recorded) {
            let cached = home
                .join(".debug/[kernel.kallsyms]")
                .join(symbols::hex(id))
                .join("kallsyms");
            if cached.is_file() {
                match read_kallsyms(&cached, self.kernel_text, ips) {
                    Ok(t) => return Ok(t),
                    Err(e) => tried.push(e),
                }
            }
        }
        let running = std::fs::read(&self.sources.kernel_notes)
            .ok()
            .and_then(|d| symbols::gnu_build_id_note(&d));
        let matches = match (recorded, running.as_deref()) {
            (Some(r), Some(n)) => r == n,
            // Without a recorded build id, trust the running kernel.
            (None, _) => true,
            (Some(_), None) => false,
        };
        if matches {
            match read_kallsyms(&self.sources.kallsyms, self.kernel_text, ips) {
                Ok(t) => return Ok(t),
                Err(e) => tried.push(e),
            }
        } else {
            tried.push(format!(
                "the recording's kernel (build id {}) is not the running one, and perf's \
                 copy of its kallsyms is not in {}",
                recorded.map(symbols::hex).unwrap_or_default(),
                self.sources
                    .home
                    .as_ref()
                    .map_or("~".into(), |h| h.join(".debug").display().to_string())
            ));
        }
        Err(tried.join("; "))
    }

    /// Warnings for the user, the missing files summarised in one.
    pub fn finish_warnings(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.warnings);
        if !self.missing_dsos.is_empty() {
            let n = self.missing_dsos.len();
            let shown: Vec<&str> = self
                .missing_dsos
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            out.push(format!(
                "no symbols for {n} mapped file{} (their frames show as [unknown]): {}{}",
                if n == 1 { "" } else { "s" },
                shown.join("; "),
                if n > 5 { "; …" } else { "" }
            ));
        }
        out
    }
}

/// kallsyms from `path`, with the symbols lookups of `ips` need, moved by the distance
/// between the listed `_text` and where the recording says it was (`text`).
fn read_kallsyms(path: &Path, text: Option<u64>, ips: &[u64]) -> Result<SymbolTable, String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    // perf's copy is a plain file, mapped rather than copied; /proc/kallsyms has no
    // length until read.
    let data = match std::fs::metadata(path).map_err(failed)?.len() {
        0 => Bytes::Owned(std::fs::read(path).map_err(failed)?),
        _ => Bytes::Mapped(map_file(path).map_err(failed)?),
    };
    let k = Kallsyms::scan(&data);
    let delta = match (text, k.text_start()) {
        (Some(text), Some(listed)) => text.wrapping_sub(listed) as i64,
        _ => 0,
    };
    // Lookups happen at listed addresses; where moving them would wrap around the
    // address space, the order changes and only the whole table answers as perf's.
    let wraps = delta != 0
        && k.bounds().is_some_and(|(lo, hi)| {
            lo.checked_add_signed(delta).is_none() || hi.checked_add_signed(delta).is_none()
        });
    let hits = (!wraps).then(|| {
        // Address 0 too: the check for hidden addresses below looks it up.
        let listed = ips.iter().map(|ip| ip.wrapping_sub(delta as u64));
        sorted_hits(listed.chain([0]).collect())
    });
    let mut t = k.table(hits.as_deref());
    // Without privileges kallsyms lists every address as zero.
    if t.is_empty() || t.find(0).is_some_and(|s| s.start == 0 && s.end > 4096) {
        return Err(format!(
            "{}: no usable addresses (run as root or lower kernel.kptr_restrict)",
            path.display()
        ));
    }
    if delta != 0 {
        t.shift(delta);
    }
    Ok(t)
}

/// A JIT's `/tmp/perf-PID.map`.
fn symbols_of_perf_map(path: &[u8]) -> Result<SymbolTable, String> {
    let path = String::from_utf8_lossy(path).into_owned();
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    Ok(symbols::parse_perf_map(&text))
}

/// A symbol file's bytes: mapped, or (the vDSO) copied.
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Segments (file offset, size, address) and the symbols lookups of `offsets` need.
type DsoSymbols = (Vec<(u64, u64, u64)>, SymbolTable);

/// Loads a mapped file's symbols for the file offsets `offsets` (their addresses
/// through the mapped file's segments): the file itself when its build id matches (or
/// is not known), else perf's build-id cache; symbols from a separate debug file with
/// a full `.symtab` when there is one, as perf prefers it.
fn load_dso(
    path: &[u8],
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
    offsets: &[u64],
) -> Result<DsoSymbols, String> {
    let path_str = String::from_utf8_lossy(path).into_owned();
    let mut why = Vec::new();
    let runtime_bytes = runtime_image(&path_str, build_id, sources, &mut why);
    let runtime = match &runtime_bytes {
        Some(b) => Some(ElfImage::parse(b)?),
        None => None,
    };
    let build_id = build_id
        .map(<[u8]>::to_vec)
        .or_else(|| runtime.as_ref().and_then(|r| r.build_id.clone()));
    let runtime_segments = runtime.as_ref().map(|r| r.segments.as_slice());
    let hits_through = |segs: &[(u64, u64, u64)]| {
        sorted_hits(
            offsets
                .iter()
                .map(|&o| symbols::address_of(segs, o))
                .collect(),
        )
    };
    if let Some((segments, mut table)) = debug_symbols(
        &path_str,
        build_id.as_deref(),
        sources,
        runtime_segments,
        offsets,
    ) {
        // Layout and PLT come from the file that was mapped; a debug file has neither.
        if let Some(r) = &runtime {
            table.insert_sized(&r.plt(&hits_through(&segments)));
        }
        return Ok((segments, table));
    }
    match runtime {
        Some(r) => {
            let table = r.symbols(&hits_through(&r.segments));
            Ok((r.segments, table))
        }
        None => Err(why.join("; ")),
    }
}

/// The mapped file's own image: the file at its path if it is still the recorded
/// one, else the copy perf saved in its build-id cache (or this machine's vDSO).
fn runtime_image(
    path: &str,
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
    why: &mut Vec<String>,
) -> Option<Bytes> {
    if path.starts_with('/') {
        let p = Path::new(path.trim_end_matches(" (deleted)"));
        match map_file(p) {
            Ok(data) => match (build_id, symbols::elf_build_id(&data).as_deref()) {
                (Some(want), Some(got)) if want != got => {
                    why.push("changed since the recording (build id differs)".into())
                }
                _ => match ElfImage::parse(&data) {
                    Ok(_) => return Some(Bytes::Mapped(data)),
                    Err(e) => why.push(e),
                },
            },
            Err(e) => why.push(e.to_string()),
        }
    }
    if let (Some(home), Some(id)) = (&sources.home, build_id)
        && let Some(cached) = symbols::build_id_cache_path(home, id)
    {
        match map_file(&cached).map_err(|e| e.to_string()).and_then(|d| {
            ElfImage::parse(&d)?;
            Ok(d)
        }) {
            Ok(d) => return Some(Bytes::Mapped(d)),
            Err(e) => why.push(format!("{}: {e}", cached.display())),
        }
    }
    if path == "[vdso]" {
        if let Some(data) = own_vdso()
            && (build_id.is_none() || symbols::elf_build_id(&data).as_deref() == build_id)
        {
            return ElfImage::parse(&data).is_ok().then_some(Bytes::Owned(data));
        }
        why.push("not in the build-id cache".into());
    }
    None
}

/// Symbols from a separate debug file with a `.symtab`, where perf looks for one, for
/// lookups of `offsets` through the mapped file's segments (`runtime`), or the debug
/// file's own when the mapped file is gone.
fn debug_symbols(
    path: &str,
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
    runtime: Option<&[(u64, u64, u64)]>,
    offsets: &[u64],
) -> Option<DsoSymbols> {
    let mut candidates = Vec::new();
    if let Some(id) = build_id {
        let h = symbols::hex(id);
        if h.len() > 2 {
            if let Some(home) = &sources.home {
                candidates.push(
                    home.join(".debug/.build-id")
                        .join(&h[..2])
                        .join(&h[2..])
                        .join("debug"),
                );
            }
            candidates.push(
                sources
                    .debug_root
                    .join(".build-id")
                    .join(&h[..2])
                    .join(format!("{}.debug", &h[2..])),
            );
        }
    }
    if let Some(rel) = path.strip_prefix('/') {
        candidates.push(sources.debug_root.join(format!("{rel}.debug")));
    }
    candidates.into_iter().find_map(|c| {
        let data = map_file(&c).ok()?;
        if build_id.is_some() && symbols::elf_build_id(&data).as_deref() != build_id {
            return None;
        }
        let image = ElfImage::parse(&data).ok()?;
        if !image.has_symtab {
            return None;
        }
        let segments = runtime.map_or_else(|| image.segments.clone(), <[_]>::to_vec);
        let hits = sorted_hits(
            offsets
                .iter()
                .map(|&o| symbols::address_of(&segments, o))
                .collect(),
        );
        let table = image.symbols(&hits);
        (!table.is_empty() || image.has_plt()).then_some((segments, table))
    })
}

/// Maps a symbol file read-only: large libraries are hundreds of MiB, of which the
/// symbol tables are a small part.
fn map_file(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    // SAFETY: a read-only private map. Truncating the file while it is mapped would
    // make reads past the new end fault; binaries and libraries are replaced by new
    // files (linkers and package managers write a new file and rename it), not
    // rewritten in place, which is what perf assumes when it maps them too.
    unsafe { memmap2::Mmap::map(&file) }
}

/// This process's vDSO image, read through `/proc/self/mem`: the running kernel's,
/// the same one the recorded programs had when the recording was made here.
fn own_vdso() -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
    let range = line.split(' ').next()?;
    let (a, b) = range.split_once('-')?;
    let (a, b) = (
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    );
    let mut mem = std::fs::File::open("/proc/self/mem").ok()?;
    mem.seek(SeekFrom::Start(a)).ok()?;
    let mut buf = vec![0u8; usize::try_from(b.checked_sub(a)?).ok()?];
    mem.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// perf's copy of the recorded kernel's kallsyms is read before /proc/kallsyms,
    /// and a recording of another kernel without one says where it looked.
    #[test]
    fn kernel_symbols_come_from_perfs_copy_first() {
        let root = std::env::temp_dir().join(format!("faultline-ks-{}", std::process::id()));
        let id = vec![0xab, 0xcd];
        let cache = root.join(".debug/[kernel.kallsyms]/abcd");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("kallsyms"), "ffffffff81000000 T from_cache\n").unwrap();
        std::fs::write(root.join("proc"), "ffffffff81000000 T from_proc\n").unwrap();
        let sources = SymbolSources {
            kallsyms: root.join("proc"),
            kernel_notes: root.join("no-notes"),
            home: Some(root.clone()),
            debug_root: root.join("no-debug"),
        };
        let mut r = Resolver::new(FxHashMap::default(), Some(id), sources.clone());
        let f = r.kernel(0xffffffff81000010);
        r.resolve();
        assert_eq!(r.strings.get(r.frames[f as usize].symbol), b"from_cache");
        // Another kernel's recording (its build id not running) and no copy of it.
        let mut r = Resolver::new(FxHashMap::default(), Some(vec![0x12, 0x34]), sources);
        r.kernel(0xffffffff81000010);
        r.resolve();
        let w = r.finish_warnings().join("\n");
        assert!(
            w.contains("not the running one") && w.contains(".debug"),
            "{w}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
