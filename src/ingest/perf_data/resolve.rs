//! Addresses to frames: per-process memory maps from MMAP records, the kernel's
//! symbols, and each mapped file's symbols, loaded when first needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::symbols::{self, ElfSymbols, SymbolTable};
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

/// One executable mapping of a process.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    end: u64,
    pgoff: u64,
    dso: u32,
}

enum Loaded {
    Pending,
    Elf(ElfSymbols),
    /// Absolute addresses (`/tmp/perf-PID.map`).
    Absolute(SymbolTable),
    Missing,
}

struct Dso {
    name: StrId,
    path: Vec<u8>,
    build_id: Option<Vec<u8>>,
    loaded: Loaded,
}

/// The kernel's symbols, or why there are none.
enum Kernel {
    Pending,
    Table(SymbolTable),
    Missing,
}

/// Resolves addresses to frames, caching each distinct frame once.
pub struct Resolver {
    /// Every string frames and samples refer to.
    pub strings: Strings,
    /// Each distinct frame once; samples refer to them by index.
    pub frames: Vec<FrameText>,
    frame_ids: FxHashMap<(u32, u64), u32>,
    /// (DSO, symbol start) → its printed name.
    symbol_names: FxHashMap<(u32, u64), StrId>,
    maps: FxHashMap<i32, BTreeMap<u64, Mapping>>,
    dsos: Vec<Dso>,
    dso_ids: FxHashMap<Vec<u8>, u32>,
    kernel: Kernel,
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
            frame_ids: FxHashMap::default(),
            symbol_names: FxHashMap::default(),
            maps: FxHashMap::default(),
            dsos: Vec::new(),
            dso_ids: FxHashMap::default(),
            kernel: Kernel::Pending,
            kernel_text: None,
            build_ids,
            kernel_build_id,
            sources,
            unknown,
            unknown_dso: unknown,
            kernel_dso,
            warnings: Vec::new(),
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
        let maps = self.maps.entry(pid).or_default();
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
        let parent = self.maps.get(&ppid).cloned().unwrap_or_default();
        self.maps.insert(pid, parent);
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
        self.dsos.push(Dso {
            name: self.strings.id(&path),
            path,
            build_id,
            loaded: Loaded::Pending,
        });
        self.dso_ids.insert(key, id);
        id
    }

    /// The frame for a user-space address of process `pid`.
    pub fn user(&mut self, pid: i32, ip: u64) -> u32 {
        let found = self.maps.get(&pid).and_then(|maps| {
            let (&start, m) = maps.range(..=ip).next_back()?;
            (ip < m.end).then_some((start, *m))
        });
        let Some((start, m)) = found else {
            return self.unknown_frame(ip);
        };
        let file_off = ip - start + m.pgoff;
        let absolute = matches!(self.dsos[m.dso as usize].loaded, Loaded::Absolute(_));
        let key_addr = if absolute { ip } else { file_off };
        if let Some(&f) = self.frame_ids.get(&(m.dso, key_addr)) {
            return f;
        }
        self.load(m.dso);
        let dso = &self.dsos[m.dso as usize];
        let (addr, sym) = match &dso.loaded {
            Loaded::Elf(e) => {
                let vaddr = e.address_of(file_off);
                (file_off, e.table.find(vaddr).map(|s| (s, vaddr - s.start)))
            }
            Loaded::Absolute(t) => (ip, t.find(ip).map(|s| (s, ip - s.start))),
            _ => (file_off, None),
        };
        let name = dso.name;
        // Demangled once per symbol, however many addresses in it are hit.
        let sym = sym.map(|(s, off)| {
            let id = match self.symbol_names.get(&(m.dso, s.start)) {
                Some(&id) => id,
                None => {
                    let id = self.strings.id(s.display_name().as_bytes());
                    self.symbol_names.insert((m.dso, s.start), id);
                    id
                }
            };
            (id, off)
        });
        let key_addr = if matches!(dso.loaded, Loaded::Absolute(_)) {
            ip
        } else {
            file_off
        };
        let frame = match sym {
            Some((symbol, off)) => FrameText {
                addr,
                symbol,
                offset: Some(off),
                dso: name,
            },
            None => FrameText {
                addr,
                symbol: self.unknown,
                offset: None,
                dso: name,
            },
        };
        self.push_frame((m.dso, key_addr), frame)
    }

    /// The frame for a kernel address.
    pub fn kernel(&mut self, ip: u64) -> u32 {
        if let Some(&f) = self.frame_ids.get(&(KERNEL_KEY, ip)) {
            return f;
        }
        if matches!(self.kernel, Kernel::Pending) {
            self.load_kernel();
        }
        let frame = match &self.kernel {
            Kernel::Table(t) => match t.find(ip) {
                Some(s) => {
                    let (name, module, off) =
                        (s.name.to_string(), s.module.to_string(), ip - s.start);
                    let dso = if module.is_empty() {
                        self.kernel_dso
                    } else {
                        self.strings.id(format!("[{module}]").as_bytes())
                    };
                    FrameText {
                        addr: ip,
                        symbol: self.strings.id(name.as_bytes()),
                        offset: Some(off),
                        dso,
                    }
                }
                None => FrameText {
                    addr: ip,
                    symbol: self.unknown,
                    offset: None,
                    dso: self.kernel_dso,
                },
            },
            // Without symbols each address is its own frame, named by its address.
            _ => FrameText {
                addr: ip,
                symbol: self.strings.id(format!("{ip:#x}").as_bytes()),
                offset: None,
                dso: self.kernel_dso,
            },
        };
        self.push_frame((KERNEL_KEY, ip), frame)
    }

    /// A frame perf prints as `[unknown] ([unknown])`.
    pub fn unknown_frame(&mut self, ip: u64) -> u32 {
        if let Some(&f) = self.frame_ids.get(&(UNKNOWN_KEY, ip)) {
            return f;
        }
        let frame = FrameText {
            addr: ip,
            symbol: self.unknown,
            offset: None,
            dso: self.unknown_dso,
        };
        self.push_frame((UNKNOWN_KEY, ip), frame)
    }

    fn push_frame(&mut self, key: (u32, u64), frame: FrameText) -> u32 {
        let id = self.frames.len() as u32;
        self.frames.push(frame);
        self.frame_ids.insert(key, id);
        id
    }

    fn load_kernel(&mut self) {
        self.kernel = match self.kernel_table() {
            Ok(mut t) => {
                if let (Some(text), Some(sym)) = (self.kernel_text, t.by_name("_text")) {
                    let delta = text.wrapping_sub(sym.start) as i64;
                    if delta != 0 {
                        t.shift(delta);
                    }
                }
                Kernel::Table(t)
            }
            Err(why) => {
                self.warnings
                    .push(format!("kernel frames are shown as addresses: {why}"));
                Kernel::Missing
            }
        };
    }

    /// kallsyms for the recorded kernel: perf's saved copy in the build-id cache when
    /// there is one, else the running kernel's when the build ids match. The copy is
    /// the same list, taken at record time, and a plain file: reading /proc/kallsyms
    /// makes the kernel format every line anew, which cost more than all the rest of
    /// reading an 11 MB recording.
    fn kernel_table(&self) -> Result<SymbolTable, String> {
        let recorded = self.kernel_build_id.as_deref();
        let mut tried = Vec::new();
        if let (Some(home), Some(id)) = (&self.sources.home, recorded) {
            let cached = home
                .join(".debug/[kernel.kallsyms]")
                .join(symbols::hex(id))
                .join("kallsyms");
            if cached.is_file() {
                match read_kallsyms(&cached) {
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
            match read_kallsyms(&self.sources.kallsyms) {
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

    fn load(&mut self, dso: u32) {
        if !matches!(self.dsos[dso as usize].loaded, Loaded::Pending) {
            return;
        }
        let d = &self.dsos[dso as usize];
        let loaded = load_dso(&d.path, d.build_id.as_deref(), &self.sources);
        let d = &mut self.dsos[dso as usize];
        d.loaded = match loaded {
            Ok(l) => l,
            Err(why) => {
                self.missing_dsos
                    .push(format!("{}: {why}", String::from_utf8_lossy(&d.path)));
                Loaded::Missing
            }
        };
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

fn read_kallsyms(path: &Path) -> Result<SymbolTable, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = symbols::parse_kallsyms(&text);
    // Without privileges kallsyms lists every address as zero.
    if t.is_empty() || t.find(0).is_some_and(|s| s.start == 0 && s.end > 4096) {
        return Err(format!(
            "{}: no usable addresses (run as root or lower kernel.kptr_restrict)",
            path.display()
        ));
    }
    Ok(t)
}

/// Loads a mapped file's symbols: the file itself when its build id matches (or is
/// not known), else perf's build-id cache; symbols from a separate debug file with a
/// full `.symtab` when there is one, as perf prefers it.
fn load_dso(
    path: &[u8],
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
) -> Result<Loaded, String> {
    let path_str = String::from_utf8_lossy(path).into_owned();
    if path_str.starts_with("/tmp/perf-") && path_str.ends_with(".map") {
        let text = std::fs::read_to_string(&path_str).map_err(|e| e.to_string())?;
        return Ok(Loaded::Absolute(symbols::parse_perf_map(&text)));
    }
    let mut why = Vec::new();
    let runtime = runtime_image(&path_str, build_id, sources, &mut why);
    let build_id = build_id
        .map(<[u8]>::to_vec)
        .or_else(|| runtime.as_ref().and_then(|r| r.build_id.clone()));
    if let Some(mut debug) = debug_symbols(&path_str, build_id.as_deref(), sources) {
        // Layout and PLT come from the file that was mapped; a debug file has neither.
        if let Some(r) = runtime {
            debug.segments = r.segments;
            debug.table.insert_sized(&r.plt);
        }
        return Ok(Loaded::Elf(debug));
    }
    runtime.map(Loaded::Elf).ok_or_else(|| why.join("; "))
}

/// The mapped file's own symbols: the file at its path if it is still the recorded
/// one, else the copy perf saved in its build-id cache (or this machine's vDSO).
fn runtime_image(
    path: &str,
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
    why: &mut Vec<String>,
) -> Option<ElfSymbols> {
    if path.starts_with('/') {
        let p = Path::new(path.trim_end_matches(" (deleted)"));
        match map_file(p) {
            Ok(data) => match (build_id, symbols::elf_build_id(&data).as_deref()) {
                (Some(want), Some(got)) if want != got => {
                    why.push("changed since the recording (build id differs)".into())
                }
                _ => match symbols::read_elf(&data) {
                    Ok(e) => return Some(e),
                    Err(e) => why.push(e),
                },
            },
            Err(e) => why.push(e.to_string()),
        }
    }
    if let (Some(home), Some(id)) = (&sources.home, build_id)
        && let Some(cached) = symbols::build_id_cache_path(home, id)
    {
        match map_file(&cached)
            .map_err(|e| e.to_string())
            .and_then(|d| symbols::read_elf(&d))
        {
            Ok(e) => return Some(e),
            Err(e) => why.push(format!("{}: {e}", cached.display())),
        }
    }
    if path == "[vdso]" {
        if let Some(data) = own_vdso()
            && (build_id.is_none() || symbols::elf_build_id(&data).as_deref() == build_id)
        {
            return symbols::read_elf(&data).ok();
        }
        why.push("not in the build-id cache".into());
    }
    None
}

/// Symbols from a separate debug file with a `.symtab`, where perf looks for one.
fn debug_symbols(
    path: &str,
    build_id: Option<&[u8]>,
    sources: &SymbolSources,
) -> Option<ElfSymbols> {
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
        symbols::read_elf(&data)
            .ok()
            .filter(|e| e.has_symtab && !e.table.is_empty())
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
        assert_eq!(r.strings.get(r.frames[f as usize].symbol), b"from_cache");
        // Another kernel's recording (its build id not running) and no copy of it.
        let mut r = Resolver::new(FxHashMap::default(), Some(vec![0x12, 0x34]), sources);
        r.kernel(0xffffffff81000010);
        let w = r.finish_warnings().join("\n");
        assert!(
            w.contains("not the running one") && w.contains(".debug"),
            "{w}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
