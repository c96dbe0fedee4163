//! Symbol tables as `perf script` builds them: kernel symbols from kallsyms, user
//! symbols from ELF `.symtab`/`.dynsym`, JIT symbols from `/tmp/perf-PID.map`.
//!
//! perf's choices are copied where they change a printed name: which symbol wins when
//! several start at one address (`choose_best_symbol`), where a symbol without a size
//! ends (`symbols__fixup_end`), which ELF symbols count (functions and objects in
//! sections whose name contains `text` or `data`), and how names are demangled (C++
//! without parameters or return type, Rust without the hash).

use std::cell::RefCell;
use std::path::Path;

use rustc_hash::FxHashMap;

use super::pick::Picker;

use object::read::elf::{
    ElfFile, ElfFile32, ElfFile64, FileHeader, Sym, SymbolTable as ElfSymbolTable,
};
use object::{Endianness, Object, ObjectSection, ObjectSegment, ObjectSymbol, ObjectSymbolTable};

/// How a symbol is bound, in perf's order of preference for aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `STB_GLOBAL` or an upper-case kallsyms type.
    Global,
    /// `STB_WEAK` or `W`/`w`.
    Weak,
    /// `STB_LOCAL` or a lower-case type.
    Local,
}

/// A symbol as stored: its name is a range of the table's text, so that a library
/// of half a million symbols costs a few allocations, not half a million.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u64,
    end: u64,
    name: u32,
    name_len: u32,
    /// Index into the table's modules; 0 is the kernel itself (or no module).
    module: u32,
    mangled: bool,
    binding: Binding,
}

/// A symbol found in a table: `[start, end)` in the DSO's address space (ELF virtual
/// addresses, or kernel addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'t> {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The name as stored; still mangled when `mangled` (see [`Symbol::display_name`]).
    pub name: &'t str,
    /// Whether `name` is mangled: names are demangled only when shown, since a large
    /// library has hundreds of thousands and a profile hits a few.
    pub mangled: bool,
    /// For kallsyms: the module (`nf_tables`), empty for the kernel itself.
    pub module: &'t str,
    binding: Binding,
}

impl Symbol<'_> {
    /// The name as perf prints it.
    pub fn display_name(&self) -> std::borrow::Cow<'_, str> {
        if self.mangled {
            demangle(self.name.as_bytes()).into()
        } else {
            std::borrow::Cow::Borrowed(self.name)
        }
    }
}

/// A sorted symbol table with perf's lookup rules.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    syms: Vec<Entry>,
    /// `syms[i].start`, searched instead of `syms`: a library's table is tens of MB,
    /// its start addresses a quarter of that, so a lookup misses the cache less.
    starts: Vec<u64>,
    text: String,
    modules: Vec<Box<str>>,
    /// First index of an alias group → the alias perf keeps. Groups can be hundreds
    /// strong (identical code folded under many names) and choosing demangles them.
    chosen: RefCell<FxHashMap<usize, usize>>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        SymbolTable {
            syms: Vec::new(),
            starts: Vec::new(),
            text: String::new(),
            modules: vec!["".into()],
            chosen: RefCell::default(),
        }
    }
}

impl SymbolTable {
    /// Adds a symbol of `size` bytes (0: unknown); call [`SymbolTable::finish`]
    /// before looking anything up.
    pub fn push(&mut self, start: u64, size: u64, name: &str, mangled: bool, binding: Binding) {
        self.push_in(start, size, name, mangled, binding, 0);
    }

    fn push_in(
        &mut self,
        start: u64,
        size: u64,
        name: &str,
        mangled: bool,
        binding: Binding,
        module: u32,
    ) {
        let at = self.text.len() as u32;
        self.text.push_str(name);
        self.syms.push(Entry {
            start,
            end: start.saturating_add(size),
            name: at,
            name_len: name.len() as u32,
            module,
            mangled,
            binding,
        });
    }

    fn module_id(&mut self, module: &str) -> u32 {
        match self.modules.iter().position(|m| &**m == module) {
            Some(i) => i as u32,
            None => {
                self.modules.push(module.into());
                (self.modules.len() - 1) as u32
            }
        }
    }

    fn view(&self, e: &Entry) -> Symbol<'_> {
        let name = self
            .text
            .get(e.name as usize..(e.name + e.name_len) as usize)
            .unwrap_or("");
        Symbol {
            start: e.start,
            end: e.end,
            name,
            mangled: e.mangled,
            module: &self.modules[e.module as usize],
            binding: e.binding,
        }
    }

    /// Makes room for `symbols` more symbols with `text` bytes of names: a large
    /// library's table grown by doubling would copy and zero tens of MB more.
    pub fn reserve(&mut self, symbols: usize, text: usize) {
        self.syms.reserve(symbols);
        self.text.reserve(text);
    }

    /// Number of symbols, aliases included.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Sorts and gives sizeless symbols an end, as perf's `symbols__fixup_end` does.
    /// Aliases are kept and decided when looked up ([`SymbolTable::find`]): as the end
    /// fixup runs first, of several sizeless aliases only the last gets a size, and so
    /// wins (`__x64_sys_getppid` over `__ia32_sys_getppid`).
    pub fn finish(&mut self, kallsyms: bool) {
        // Stable: aliases stay in file order, as perf's tree keeps them.
        self.syms.sort_by_key(|s| s.start);
        self.chosen.borrow_mut().clear();
        let n = self.syms.len();
        for i in 0..n {
            if self.syms[i].end != self.syms[i].start {
                continue;
            }
            self.syms[i].end = if i + 1 < n {
                let next = &self.syms[i + 1];
                if kallsyms && (self.syms[i].module == 0) != (next.module == 0) {
                    round_up_page(self.syms[i].end + 4096)
                } else {
                    next.start
                }
            } else {
                round_up_page(self.syms[i].start) + 4096
            };
        }
        self.index();
    }

    fn index(&mut self) {
        self.starts.clear();
        self.starts.extend(self.syms.iter().map(|s| s.start));
    }

    /// Adds symbols with sizes after [`SymbolTable::finish`], keeping the order (after
    /// existing symbols at the same address). One merge, not one shift per symbol.
    pub fn insert_sized(&mut self, syms: &[(u64, u64, String)]) {
        for (start, size, name) in syms {
            self.push(*start, *size, name, false, Binding::Global);
        }
        // Stable, and linear on two sorted runs.
        self.syms.sort_by_key(|s| s.start);
        self.chosen.borrow_mut().clear();
        self.index();
    }

    /// The symbol containing `addr`: of the aliases at the nearest start below it, the
    /// one perf's `symbols__fixup_duplicate` keeps.
    pub fn find(&self, addr: u64) -> Option<Symbol<'_>> {
        let last = self.starts.partition_point(|&s| s <= addr).checked_sub(1)?;
        let start = self.starts[last];
        // Aliases are few and adjacent: a walk back, not a second search.
        let first = last
            - self.starts[..last]
                .iter()
                .rev()
                .take_while(|&&s| s == start)
                .count();
        let best = if first == last {
            last
        } else {
            *self
                .chosen
                .borrow_mut()
                .entry(first)
                .or_insert_with(|| self.choose(first, last))
        };
        let best = self.view(&self.syms[best]);
        (addr < best.end || (best.end == best.start && addr == best.start)).then_some(best)
    }

    /// perf's choice among the aliases `first..=last`, each demangled at most once
    /// (groups can be hundreds strong).
    fn choose(&self, first: usize, last: usize) -> usize {
        let mut names: Vec<Option<String>> = vec![None; last + 1 - first];
        (first + 1..=last).fold(first, |best, i| {
            let (b, other) = (self.view(&self.syms[best]), self.view(&self.syms[i]));
            let better = first_is_better_unnamed(&b, &other).unwrap_or_else(|| {
                for (j, s) in [(best, &b), (i, &other)] {
                    names[j - first].get_or_insert_with(|| s.display_name().into_owned());
                }
                let name = |j: usize| names[j - first].as_deref().unwrap_or_default();
                first_name_is_better(name(best), name(i))
            });
            if better { best } else { i }
        })
    }

    /// The symbol with this exact name.
    pub fn by_name(&self, name: &str) -> Option<Symbol<'_>> {
        self.syms
            .iter()
            .map(|e| self.view(e))
            .find(|s| s.name == name)
    }

    /// Moves every symbol by `delta` (a kernel relocated by KASLR since kallsyms was saved).
    pub fn shift(&mut self, delta: i64) {
        for s in &mut self.syms {
            s.start = s.start.wrapping_add_signed(delta);
            s.end = s.end.wrapping_add_signed(delta);
        }
        self.index();
    }
}

fn round_up_page(a: u64) -> u64 {
    a.div_ceil(4096).saturating_mul(4096)
}

/// perf's `choose_best_symbol`: whether `a` beats `b` at the same address, when sizes
/// or bindings decide; `None` when their names must.
fn first_is_better_unnamed(a: &Symbol<'_>, b: &Symbol<'_>) -> Option<bool> {
    let (sa, sb) = (a.end - a.start, b.end - b.start);
    if sb == 0 && sa > 0 {
        return Some(true);
    }
    if sa == 0 && sb > 0 {
        return Some(false);
    }
    let (wa, wb) = (a.binding == Binding::Weak, b.binding == Binding::Weak);
    if wa != wb {
        return Some(wb);
    }
    let (ga, gb) = (a.binding == Binding::Global, b.binding == Binding::Global);
    if ga != gb {
        return Some(ga);
    }
    None
}

/// The rest of `choose_best_symbol`: of two demangled names (perf compares those), the
/// one with fewer leading underscores, else the longer (the first on a tie).
fn first_name_is_better(na: &str, nb: &str) -> bool {
    let under = |s: &str| s.bytes().take_while(|&c| c == b'_').count();
    let (ua, ub) = (under(na), under(nb));
    if ua != ub {
        return ua < ub;
    }
    na.len() >= nb.len()
}

/// `/proc/kallsyms` text split into the lines of the symbols perf keeps (text, weak,
/// data and bss, modules included): a kernel lists some 200,000, so lines are split
/// with memchr and names are read only for the symbols a table keeps.
pub struct Kallsyms<'t> {
    text: &'t [u8],
    /// (start, line offset) of each kept symbol, in file order.
    lines: Vec<(u64, usize)>,
    /// The line of `_text` as a name lookup in the whole table finds it: of the least
    /// address, the first.
    text_line: Option<usize>,
}

impl<'t> Kallsyms<'t> {
    /// Splits kallsyms text into its symbols' lines.
    pub fn scan(text: &'t [u8]) -> Self {
        // Lines are some 45 bytes.
        let mut lines: Vec<(u64, usize)> = Vec::with_capacity(text.len() / 40);
        let mut text_line: Option<usize> = None;
        let mut offset = 0;
        let ends = memchr::memchr_iter(b'\n', text).chain([text.len()]);
        for end in ends {
            let line = &text[offset.min(end)..end];
            let line_offset = offset;
            offset = end + 1;
            let Some((start, kind, name)) = kallsyms_start(line) else {
                continue;
            };
            if !matches!(kind.to_ascii_uppercase(), b'T' | b'W' | b'D' | b'B') {
                continue;
            }
            let is_text = name.starts_with(b"_text")
                && kallsyms_line(line).is_some_and(|(_, _, name, _)| name == b"_text");
            if is_text && text_line.is_none_or(|i| start < lines[i].0) {
                text_line = Some(lines.len());
            }
            lines.push((start, line_offset));
        }
        Kallsyms {
            text,
            lines,
            text_line,
        }
    }

    /// Where `_text` is, as listed.
    pub fn text_start(&self) -> Option<u64> {
        self.text_line.map(|i| self.lines[i].0)
    }

    /// The least and greatest listed address.
    pub fn bounds(&self) -> Option<(u64, u64)> {
        let starts = self.lines.iter().map(|l| l.0);
        Some((starts.clone().min()?, starts.max()?))
    }

    /// The symbol table, with only the symbols lookups of `hits` (sorted, deduplicated)
    /// need ([`super::pick`]) and `_text`; `None`: all of them.
    pub fn table(&self, hits: Option<&[u64]>) -> SymbolTable {
        let keep: Vec<u32> = match hits {
            Some(hits) => {
                let mut picker = Picker::new(hits);
                for (i, &(start, _)) in self.lines.iter().enumerate() {
                    picker.offer(i as u32, start);
                }
                let mut keep = picker.picked();
                if let Some(t) = self.text_line
                    && let Err(at) = keep.binary_search(&(t as u32))
                {
                    keep.insert(at, t as u32);
                }
                keep
            }
            None => (0..self.lines.len() as u32).collect(),
        };
        let mut table = SymbolTable::default();
        // Lines of one module come together: look its id up once per run of them.
        let mut last_module: (&[u8], u32) = (b"", 0);
        for i in keep {
            let line = line_at(self.text, self.lines[i as usize].1);
            let Some((start, kind, name, module)) = kallsyms_line(line) else {
                continue;
            };
            let binding = match kind {
                b'W' | b'w' => Binding::Weak,
                c if c.is_ascii_uppercase() => Binding::Global,
                _ => Binding::Local,
            };
            if module != last_module.0 {
                let id = table.module_id(&String::from_utf8_lossy(module));
                last_module = (module, id);
            }
            let name = String::from_utf8_lossy(name);
            table.push_in(start, 0, &name, false, binding, last_module.1);
        }
        table.finish(true);
        table
    }
}

/// The line starting at `offset`, without its newline.
fn line_at(text: &[u8], offset: usize) -> &[u8] {
    let rest = &text[offset..];
    &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())]
}

/// Parses `/proc/kallsyms` text into a table of all the symbols perf keeps.
pub fn parse_kallsyms(text: &[u8]) -> SymbolTable {
    Kallsyms::scan(text).table(None)
}

/// Each byte's value as a hex digit; 0x80 for bytes that are not one.
const HEX_DIGITS: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A kallsyms line's address, type and the rest, as [`kallsyms_line`] reads them
/// (`None` when it rejects the line); the usual 64-bit line without its checks.
fn kallsyms_start(line: &[u8]) -> Option<(u64, u8, &[u8])> {
    const DIGITS: usize = 16;
    if let Some(head) = line.get(..DIGITS + 4)
        && head[DIGITS] == b' '
        && head[DIGITS + 2] == b' '
        && !head[DIGITS + 3].is_ascii_whitespace()
    {
        let mut start = 0u64;
        let mut bad = 0;
        for &c in &head[..DIGITS] {
            let digit = HEX_DIGITS[usize::from(c)];
            bad |= digit;
            start = start << 4 | u64::from(digit & 0xf);
        }
        if bad & 0x80 == 0 {
            return Some((start, head[DIGITS + 1], &line[DIGITS + 3..]));
        }
    }
    kallsyms_line(line).map(|(s, k, n, _)| (s, k, n))
}

/// One kallsyms line: `ADDR TYPE NAME[\t[MODULE]]` → (address, type, name, module).
fn kallsyms_line(line: &[u8]) -> Option<(u64, u8, &[u8], &[u8])> {
    let sp = memchr::memchr(b' ', line)?;
    let start = u64::from_str_radix(std::str::from_utf8(&line[..sp]).ok()?, 16).ok()?;
    let rest = &line[sp + 1..];
    let (&kind, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    let (name, module) = match memchr::memchr(b'\t', rest) {
        Some(t) => (&rest[..t], rest[t + 1..].trim_ascii()),
        None => (rest.trim_ascii_end(), &b""[..]),
    };
    let module = module
        .strip_prefix(b"[")
        .and_then(|m| m.strip_suffix(b"]"))
        .unwrap_or(module);
    (!name.is_empty()).then_some((start, kind, name, module))
}

/// Parses a `/tmp/perf-PID.map` (`START SIZE name`, hex, one per line).
pub fn parse_perf_map(text: &str) -> SymbolTable {
    let mut table = SymbolTable::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(start), Some(size), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
        let (Some(start), Some(size)) = (hex(start), hex(size)) else {
            continue;
        };
        table.push(start, size, name.trim_end(), false, Binding::Global);
    }
    table.finish(false);
    table
}

/// An ELF file opened for its symbols: how file offsets map to addresses, and its
/// symbol tables, read only as far as the sampled addresses need.
pub struct ElfImage<'d> {
    data: &'d [u8],
    file: object::File<'d>,
    /// Loadable segments: (file offset, file size, virtual address).
    pub segments: Vec<(u64, u64, u64)>,
    /// Whether it has a full `.symtab` (not just `.dynsym`).
    pub has_symtab: bool,
    /// The GNU build id, when the file has one.
    pub build_id: Option<Vec<u8>>,
}

/// The virtual address of a file offset, through the segment that maps it.
pub fn address_of(segments: &[(u64, u64, u64)], file_offset: u64) -> u64 {
    segments
        .iter()
        .find(|&&(off, size, _)| file_offset >= off && file_offset - off < size)
        .map_or(file_offset, |&(off, _, vaddr)| vaddr + (file_offset - off))
}

/// Reads an ELF file's build id only (cheap: no symbol parsing).
pub fn elf_build_id(data: &[u8]) -> Option<Vec<u8>> {
    let file = object::File::parse(data).ok()?;
    file.build_id().ok().flatten().map(<[u8]>::to_vec)
}

impl<'d> ElfImage<'d> {
    /// Opens an ELF file: its header, segments and build id.
    pub fn parse(data: &'d [u8]) -> Result<Self, String> {
        let file = object::File::parse(data).map_err(|e| e.to_string())?;
        let segments = file
            .segments()
            .map(|seg| (seg.file_range(), seg.address()))
            .filter(|&((_, size), _)| size > 0)
            .map(|((off, size), addr)| (off, size, addr))
            .collect();
        Ok(ElfImage {
            data,
            build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
            has_symtab: file.symbols().next().is_some(),
            segments,
            file,
        })
    }

    /// The symbols perf would read (`.symtab` when present, else `.dynsym`; functions,
    /// objects and GNU ifuncs, and labels in `text`/`data` sections) and its PLT
    /// symbols, as far as lookups of `hits` (virtual addresses, sorted, deduplicated)
    /// need them: see [`super::pick`]. Empty only when the file has none at all.
    pub fn symbols(&self, hits: &[u64]) -> SymbolTable {
        let mut out = SymbolTable::default();
        let sections = section_is_text_or_data(&self.file);
        let dynamic = !self.has_symtab;
        // The symbol table walked as the raw ELF entries: a quarter of a million
        // symbols through `object`'s file-independent interface cost several times more.
        match object::FileKind::parse(self.data) {
            Ok(object::FileKind::Elf64) => {
                if let Ok(f) = ElfFile64::<Endianness>::parse(self.data) {
                    pick_elf_symbols(&f, dynamic, &sections, hits, &mut out);
                }
            }
            Ok(object::FileKind::Elf32) => {
                if let Ok(f) = ElfFile32::<Endianness>::parse(self.data) {
                    pick_elf_symbols(&f, dynamic, &sections, hits, &mut out);
                }
            }
            _ => {}
        }
        out.finish(false);
        out.insert_sized(&self.plt(hits));
        out
    }

    /// perf's `dso__synthesize_plt_symbols` for x86-64: one `name@plt` symbol per
    /// `.rela.plt` entry, 16 bytes each after the 16-byte `.plt` header (`@plt` alone
    /// for relocations without a symbol, such as IFUNC ones). Only the entries that are
    /// the nearest at or below one of `hits` are named (and demangled): the others
    /// cannot be what a lookup of a hit finds.
    pub fn plt(&self, hits: &[u64]) -> Vec<(u64, u64, String)> {
        let Some((first, entries)) = self.plt_entries() else {
            return Vec::new();
        };
        let Some(last) = entries.len().checked_sub(1) else {
            return Vec::new();
        };
        // The entry at or below a hit; past the end, the last one.
        let mut wanted: Vec<usize> = hits
            .iter()
            .filter(|&&h| h >= first)
            .map(|&h| ((h - first) / PLT_ENTRY).min(last as u64) as usize)
            .collect();
        wanted.dedup();
        let dynsym = self.file.dynamic_symbol_table();
        wanted
            .into_iter()
            .map(|k| {
                let r = entries[k];
                let info = u64::from_le_bytes(r[8..16].try_into().unwrap_or_default());
                let name = match (&dynsym, (info >> 32) as usize) {
                    (_, 0) | (None, _) => String::new(),
                    (Some(t), i) => t
                        .symbol_by_index(object::SymbolIndex(i))
                        .ok()
                        .and_then(|s| s.name_bytes().ok().map(demangle))
                        .unwrap_or_default(),
                };
                (
                    first + k as u64 * PLT_ENTRY,
                    PLT_ENTRY,
                    format!("{name}@plt"),
                )
            })
            .collect()
    }

    /// Whether perf would make up PLT symbols for this file.
    pub fn has_plt(&self) -> bool {
        self.plt_entries().is_some_and(|(_, e)| !e.is_empty())
    }

    /// The first PLT symbol's address and the `.rela.plt` entries, one per symbol.
    fn plt_entries(&self) -> Option<(u64, Vec<&'d [u8]>)> {
        const RELA_SIZE: usize = 24;
        let file = &self.file;
        if file.architecture() != object::Architecture::X86_64 {
            return None;
        }
        let plt = file.section_by_name(".plt")?;
        let relocs = file.section_by_name(".rela.plt")?.data().ok()?;
        // perf 6.1 places them by the section's file offset, not its address; in the
        // usual layout the two are equal, and where they are not perf misses them too.
        let first = plt.file_range().map_or(plt.address(), |(off, _)| off) + PLT_ENTRY;
        Some((first, relocs.chunks_exact(RELA_SIZE).collect()))
    }
}

/// Bytes per PLT entry (and of the PLT's header) on x86-64.
const PLT_ENTRY: u64 = 16;

/// Per section index: whether its name says text or data.
fn section_is_text_or_data(file: &object::File<'_>) -> Vec<bool> {
    let mut out = Vec::new();
    for s in file.sections() {
        let i = s.index().0;
        if out.len() <= i {
            out.resize(i + 1, false);
        }
        out[i] = s
            .name()
            .is_ok_and(|n| n.contains("text") || n.contains("data"));
    }
    out
}

/// Adds to `out` the symbols of `file`'s `.symtab` (`.dynsym` when `dynamic`) that
/// lookups of `hits` need ([`super::pick`]), names still mangled.
fn pick_elf_symbols<Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'_, Elf>,
    dynamic: bool,
    text_or_data: &[bool],
    hits: &[u64],
    out: &mut SymbolTable,
) {
    let endian = file.endian();
    let table = if dynamic {
        file.elf_dynamic_symbol_table()
    } else {
        file.elf_symbol_table()
    };
    let syms = table.symbols();
    let name = |i: u32| {
        let sym = syms.get(i as usize)?;
        sym.name(endian, table.strings()).ok()
    };
    // Names that turn out empty (or unreadable) make perf skip the symbol: pick again
    // without them. ELF files name every symbol they type as a function, object or
    // label, so this is the exception.
    let mut skipped: Vec<u32> = Vec::new();
    let picked = loop {
        let mut picker = Picker::new(hits);
        // Index 0 is the null symbol.
        for (i, sym) in syms.iter().enumerate().skip(1) {
            let i = i as u32;
            if perf_reads(table, i, sym, endian, text_or_data) && !skipped.contains(&i) {
                picker.offer(i, address(sym, endian));
            }
        }
        let picked = picker.picked();
        let before = skipped.len();
        skipped.extend(
            picked
                .iter()
                .filter(|&&i| name(i).is_none_or(<[u8]>::is_empty)),
        );
        if skipped.len() == before {
            break picked;
        }
    };
    for i in picked {
        let (Some(sym), Some(raw)) = (syms.get(i as usize), name(i)) else {
            continue;
        };
        let binding = match sym.st_bind() {
            object::elf::STB_WEAK => Binding::Weak,
            object::elf::STB_LOCAL => Binding::Local,
            _ => Binding::Global,
        };
        // Valid UTF-8 in practice: the fast check, a lossy copy only when not.
        let name = std::str::from_utf8(raw)
            .map_or_else(|_| String::from_utf8_lossy(raw), std::borrow::Cow::Borrowed);
        out.push(
            address(sym, endian),
            sym.st_size(endian).into(),
            &name,
            true,
            binding,
        );
    }
}

/// A symbol's address; 0 for a common one, whose value is its alignment.
fn address<S: Sym<Endian = Endianness>>(sym: &S, endian: Endianness) -> u64 {
    if sym.st_type() == object::elf::STT_COMMON {
        0
    } else {
        sym.st_value(endian).into()
    }
}

/// Whether perf reads symbol `i`, its name aside (an empty one is skipped too):
/// defined functions, objects and GNU ifuncs from any section, and labels (untyped,
/// default visibility) only from sections whose name says text or data.
fn perf_reads<Elf: FileHeader<Endian = Endianness>>(
    table: &ElfSymbolTable<'_, Elf>,
    i: u32,
    sym: &Elf::Sym,
    endian: Endianness,
    text_or_data: &[bool],
) -> bool {
    use object::elf::{
        SHN_ABS, SHN_COMMON, SHN_UNDEF, SHN_XINDEX, STT_COMMON, STT_FUNC, STT_GNU_IFUNC,
        STT_NOTYPE, STT_OBJECT, STV_DEFAULT,
    };
    let kind = sym.st_type();
    let typed = matches!(kind, STT_FUNC | STT_GNU_IFUNC | STT_OBJECT | STT_COMMON);
    let section = match sym.st_shndx(endian) {
        SHN_UNDEF | SHN_ABS | SHN_COMMON => None,
        SHN_XINDEX => table
            .shndx(endian, object::SymbolIndex(i as usize))
            .filter(|&s| s != 0)
            .map(|s| s as usize),
        s => s.index().map(usize::from),
    };
    let Some(section) = section else {
        // Undefined, absolute or common: not a symbol with a place in a section.
        return false;
    };
    if typed {
        return true;
    }
    kind == STT_NOTYPE
        && sym.st_visibility() == STV_DEFAULT
        && text_or_data.get(section).copied().unwrap_or(false)
}

/// Demangles as perf 6.1 prints names: C++ without parameters or return type
/// (libiberty without `DMGL_PARAMS`), Rust legacy and v0 names without their hash;
/// anything else unchanged.
pub fn demangle(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if let Some(rust) = rust_core(&text)
        && let Ok(d) = rustc_demangle::try_demangle(rust)
    {
        // `{:#}` leaves out the `::h<hash>` suffix, as perf's Rust demangler does.
        return format!("{d:#}");
    }
    if text.starts_with("_Z") {
        let opts = cpp_demangle::DemangleOptions::new()
            .no_params()
            .no_return_type();
        if let Ok(sym) = cpp_demangle::Symbol::new(raw)
            && let Ok(s) = sym.demangle_with_options(&opts)
        {
            return libiberty_literals(&s).replace(", >", ">");
        }
    }
    text.into_owned()
}

/// The mangled part of a Rust symbol, without compiler suffixes (`.cold`,
/// `.llvm.123`), which libiberty's Rust demangler drops: `None` for other symbols.
fn rust_core(s: &str) -> Option<&str> {
    if s.starts_with("_R") {
        return Some(s.split('.').next().unwrap_or(s));
    }
    // Legacy: `_ZN…17h<16 hex digits>E`, perhaps followed by a suffix.
    let b = s.as_bytes();
    let end = (20..=b.len()).rev().find(|&e| {
        b[e - 1] == b'E'
            && b[e - 20..e - 17] == *b"17h"
            && b[e - 17..e - 1].iter().all(u8::is_ascii_hexdigit)
            && (e == b.len() || b[e] == b'.')
    })?;
    s.starts_with("_ZN").then(|| &s[..end])
}

/// Rewrites template literals the way libiberty prints them: `(unsigned int)2` → `2u`,
/// `(long)-1` → `-1l`, `(bool)1` → `true` (cpp_demangle writes them as casts).
fn libiberty_literals(s: &str) -> String {
    const SUFFIXES: [(&str, &str); 5] = [
        ("(unsigned long long)", "ull"),
        ("(unsigned long)", "ul"),
        ("(unsigned int)", "u"),
        ("(long long)", "ll"),
        ("(long)", "l"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'scan: while let Some(i) = rest.find('(') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let number_len = |t: &str| {
            let neg = usize::from(t.starts_with('-'));
            let digits = t[neg..].bytes().take_while(u8::is_ascii_digit).count();
            (digits > 0).then_some(neg + digits)
        };
        for (cast, suffix) in SUFFIXES {
            if let Some(after) = tail.strip_prefix(cast)
                && let Some(n) = number_len(after)
            {
                out.push_str(&after[..n]);
                out.push_str(suffix);
                rest = &after[n..];
                continue 'scan;
            }
        }
        if let Some(after) = tail.strip_prefix("(bool)")
            && let Some(n) = number_len(after)
        {
            out.push_str(if &after[..n] == "0" { "false" } else { "true" });
            rest = &after[n..];
            continue 'scan;
        }
        out.push('(');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// The running kernel's build id, from `/sys/kernel/notes`.
pub fn running_kernel_build_id() -> Option<Vec<u8>> {
    let data = std::fs::read("/sys/kernel/notes").ok()?;
    gnu_build_id_note(&data)
}

/// Finds the `NT_GNU_BUILD_ID` note in a sequence of ELF notes.
pub fn gnu_build_id_note(mut data: &[u8]) -> Option<Vec<u8>> {
    let word = |d: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_ne_bytes(d.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    while data.len() >= 12 {
        let (namesz, descsz, kind) = (word(data, 0)?, word(data, 4)?, word(data, 8)?);
        let name_end = 12 + namesz.div_ceil(4) * 4;
        let desc_end = name_end.checked_add(descsz.div_ceil(4) * 4)?;
        let name = data.get(12..12 + namesz)?;
        if kind == 3 && name.starts_with(b"GNU") {
            return data.get(name_end..name_end + descsz).map(<[u8]>::to_vec);
        }
        data = data.get(desc_end..)?;
    }
    None
}

/// Lower-case hex of a build id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// perf's build-id cache entry for an ELF file: `~/.debug/.build-id/ab/cdef…/elf`.
pub fn build_id_cache_path(home: &Path, build_id: &[u8]) -> Option<std::path::PathBuf> {
    let h = hex(build_id);
    if h.len() < 3 {
        return None;
    }
    Some(
        home.join(".debug/.build-id")
            .join(&h[..2])
            .join(&h[2..])
            .join("elf"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_aliases_ends_and_modules() {
        let t = parse_kallsyms(
            b"ffffffff81000000 T _stext\n\
             ffffffff81000000 T startup_64\n\
             ffffffff81000100 t helper\n\
             ffffffff81000100 W __helper\n\
             ffffffff81000200 r not_text\n\
             ffffffff81000300 T last_kernel\n\
             ffffffffc0000000 t mod_fn\t[nf_tables]\n",
        );
        // Of sizeless aliases the last one gets the size, and so wins.
        assert_eq!(t.find(0xffffffff81000010).unwrap().name, "startup_64");
        assert_eq!(t.find(0xffffffff81000150).unwrap().name, "__helper");
        // `r` is skipped, so `helper` runs up to `last_kernel`.
        assert_eq!(t.find(0xffffffff81000250).unwrap().end, 0xffffffff81000300);
        // The last kernel symbol before the modules ends at a page boundary.
        assert_eq!(t.find(0xffffffff81002500).map(|s| s.name), None);
        assert_eq!(t.find(0xffffffff81001fff).unwrap().name, "last_kernel");
        assert_eq!(t.find(0xffffffffc0000010).unwrap().module, "nf_tables");
    }

    /// The fast reading of a kallsyms line agrees with the full one, on the usual
    /// lines and the odd ones it hands over.
    #[test]
    fn kallsyms_start_reads_as_kallsyms_line() {
        for line in [
            &b"ffffffff81000000 T _text"[..],
            b"FFFFFFFFC0000000 t mod_fn\t[nf_tables]",
            b"ffffffff8100000g T bad_digit",
            b"ffffffff81000000 T  spaced",
            b"81000000 T short_address",
            b"ffffffff81000000 T",
            b"",
        ] {
            let full = kallsyms_line(line).map(|(s, k, n, _)| (s, k, n.len()));
            let fast = kallsyms_start(line).map(|(s, k, _)| (s, k));
            assert_eq!(
                fast,
                full.map(|(s, k, _)| (s, k)),
                "{}",
                line.escape_ascii()
            );
        }
    }

    #[test]
    fn demangling_matches_perf() {
        assert_eq!(
            demangle(b"_ZN7fixture3mixImEET_S1_i"),
            "fixture::mix<unsigned long>"
        );
        assert_eq!(
            demangle(b"_ZN12_GLOBAL__N_16Worker3runEv"),
            "(anonymous namespace)::Worker::run"
        );
        assert_eq!(
            demangle(b"_ZN3std2rt10lang_start17h0123456789abcdefE"),
            "std::rt::lang_start"
        );
        assert_eq!(
            demangle(b"clock_gettime@@GLIBC_2.17"),
            "clock_gettime@@GLIBC_2.17"
        );
        assert_eq!(demangle(b"main"), "main");
        assert_eq!(
            demangle(b"_ZN3std2rt10lang_start17h0123456789abcdefE.llvm.42"),
            "std::rt::lang_start"
        );
        // Template literals as libiberty prints them, not as casts.
        assert_eq!(demangle(b"_ZN2wi3fooILj1EEEvv"), "wi::foo<1u>");
        assert_eq!(
            libiberty_literals(
                "f<(long)-1, (bool)0, (unsigned long long)7, (anonymous namespace)::X>"
            ),
            "f<-1l, false, 7ull, (anonymous namespace)::X>"
        );
    }

    #[test]
    fn perf_map_lines() {
        let t = parse_perf_map("7f0000001000 20 Lfoo;::bar\nbad line\n7f0000002000 10 baz\n");
        assert_eq!(t.find(0x7f0000001010).unwrap().name, "Lfoo;::bar");
        assert!(t.find(0x7f0000001030).is_none());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn build_id_note() {
        let mut note = Vec::new();
        note.extend_from_slice(&4u32.to_ne_bytes());
        note.extend_from_slice(&3u32.to_ne_bytes());
        note.extend_from_slice(&3u32.to_ne_bytes());
        note.extend_from_slice(b"GNU\0");
        note.extend_from_slice(&[0xab, 0xcd, 0xef, 0]);
        assert_eq!(gnu_build_id_note(&note), Some(vec![0xab, 0xcd, 0xef]));
        assert_eq!(gnu_build_id_note(&note[..10]), None);
    }
}
