//! Tracepoint payloads: the event formats from a perf.data file's tracing data, and
//! the text `perf script` prints for a tracepoint sample's raw data.
//!
//! The print format (`"pid=%d comm=%s", REC->pid, __get_str(comm)`) is interpreted
//! for the argument shapes the kernel's memory and scheduler tracepoints use: plain
//! fields, casts, `__get_str`, and `cond ? "a" : "b"`. An argument of any other shape
//! prints the whole payload as `field=value` pairs instead, which still carries every
//! number the analysis reads (`pid=`, `pgtables=`).

use rustc_hash::FxHashMap;

/// One field of a tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Byte offset in the raw record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Whether the integer is signed.
    pub signed: bool,
    /// `char x[N]` (a fixed string).
    pub is_char_array: bool,
    /// `__data_loc char[] x` (a string stored after the fixed fields).
    pub is_data_loc: bool,
}

/// The format of one tracepoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFormat {
    /// `subsystem:name`.
    pub name: String,
    /// Fields after the `common_*` ones.
    pub fields: Vec<Field>,
    /// The print format string, when parsed.
    fmt: Option<String>,
    /// The print arguments, as written.
    args: Vec<String>,
}

/// Formats by tracepoint id (the event's `config`).
pub type Formats = FxHashMap<u64, EventFormat>;

/// A little cursor over the tracing data.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.data.get(self.pos..)?;
        let n = memchr::memchr(0, rest)?;
        self.pos += n + 1;
        Some(&rest[..n])
    }
    fn sized(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
}

/// Parses the tracing data that `perf record` saves (the `TRACING_DATA` feature):
/// header, then the ftrace and per-subsystem event format files. Little-endian files
/// only; the rest (kallsyms, printk formats, saved comms) is not needed.
pub fn parse_tracing_data(data: &[u8]) -> Option<Formats> {
    let mut r = Reader { data, pos: 0 };
    if r.take(10)? != b"\x17\x08\x44tracing" {
        return None;
    }
    r.cstr()?; // version
    let big_endian = r.take(1)?[0] != 0;
    if big_endian {
        return None;
    }
    r.take(1)?; // long size
    r.u32()?; // page size
    if r.cstr()? != b"header_page" {
        return None;
    }
    r.sized()?;
    if r.cstr()? != b"header_event" {
        return None;
    }
    r.sized()?;
    let mut formats = Formats::default();
    for _ in 0..r.u32()? {
        r.sized()?; // ftrace's own events
    }
    for _ in 0..r.u32()? {
        let system = String::from_utf8_lossy(r.cstr()?).into_owned();
        for _ in 0..r.u32()? {
            let text = String::from_utf8_lossy(r.sized()?);
            if let Some((id, fmt)) = parse_format(&system, &text) {
                formats.insert(id, fmt);
            }
        }
    }
    Some(formats)
}

/// Parses one `format` file.
pub fn parse_format(system: &str, text: &str) -> Option<(u64, EventFormat)> {
    let mut fmt = EventFormat::default();
    let mut id = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("name:") {
            fmt.name = format!("{system}:{}", name.trim());
        } else if let Some(v) = line.strip_prefix("ID:") {
            id = v.trim().parse().ok();
        } else if line.starts_with("field:") {
            if let Some(f) = parse_field(line).filter(|f| !f.name.starts_with("common_")) {
                fmt.fields.push(f);
            }
        } else if let Some(p) = line.strip_prefix("print fmt:") {
            let (f, args) = split_print_fmt(p.trim())?;
            fmt.fmt = Some(f);
            fmt.args = args;
        }
    }
    Some((id?, fmt))
}

/// `field:unsigned long pgtables; offset:56; size:8; signed:0;` (tab-separated)
fn parse_field(line: &str) -> Option<Field> {
    let mut decl = "";
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in line.split(';') {
        let part = part.trim();
        if let Some(d) = part.strip_prefix("field:") {
            decl = d.trim();
        } else if let Some(v) = part.strip_prefix("offset:") {
            offset = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v == "1";
        }
    }
    let is_data_loc = decl.starts_with("__data_loc");
    let last = decl.rsplit(' ').next()?;
    let (name, is_array) = match last.split_once('[') {
        Some((n, _)) => (n, true),
        None => (last, false),
    };
    Some(Field {
        name: name.trim_start_matches('*').to_string(),
        offset: offset?,
        size: size?,
        signed,
        is_char_array: is_array && decl.contains("char") && !is_data_loc,
        is_data_loc,
    })
}

/// Splits `"fmt", arg, arg` into the unquoted format and the top-level arguments.
fn split_print_fmt(p: &str) -> Option<(String, Vec<String>)> {
    let rest = p.strip_prefix('"')?;
    let mut fmt = String::new();
    let mut chars = rest.char_indices();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => fmt.push('\n'),
                Some((_, 't')) => fmt.push('\t'),
                Some((_, c)) => fmt.push(c),
                None => {}
            },
            '"' => {
                end = Some(i + 1);
                break;
            }
            c => fmt.push(c),
        }
    }
    let tail = rest[end?..].trim_start().trim_start_matches(',');
    let mut args = Vec::new();
    let (mut depth, mut start, mut quoted) = (0i32, 0, false);
    for (i, c) in tail.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if depth == 0 && !quoted => {
                args.push(tail[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !tail[start..].trim().is_empty() {
        args.push(tail[start..].trim().to_string());
    }
    Some((fmt, args))
}

/// A decoded argument.
enum Value {
    Int(i128),
    Str(String),
}

impl EventFormat {
    /// The payload text for a raw record, as `perf script` prints it.
    pub fn payload(&self, raw: &[u8]) -> String {
        self.printed(raw).unwrap_or_else(|| self.pairs(raw))
    }

    /// Every field as `name=value`, for print formats this module does not follow.
    fn pairs(&self, raw: &[u8]) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|f| match self.field_value(f, raw) {
                Some(Value::Int(v)) => format!("{}={v}", f.name),
                Some(Value::Str(s)) => format!("{}={s}", f.name),
                None => format!("{}=?", f.name),
            })
            .collect();
        parts.join(" ")
    }

    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn field_value(&self, f: &Field, raw: &[u8]) -> Option<Value> {
        let bytes = raw.get(f.offset..f.offset.checked_add(f.size)?)?;
        if f.is_char_array {
            return Some(Value::Str(c_string(bytes)));
        }
        if f.is_data_loc {
            let loc = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
            let (off, len) = ((loc & 0xffff) as usize, (loc >> 16) as usize);
            return Some(Value::Str(c_string(raw.get(off..off.checked_add(len)?)?)));
        }
        let mut buf = [0u8; 8];
        let n = bytes.len().min(8);
        buf[..n].copy_from_slice(&bytes[..n]);
        let u = u64::from_le_bytes(buf);
        let v = if f.signed && n > 0 && n < 8 {
            let shift = 64 - 8 * n as u32;
            i128::from(((u << shift) as i64) >> shift)
        } else if f.signed {
            i128::from(u as i64)
        } else {
            i128::from(u)
        };
        Some(Value::Int(v))
    }

    /// Evaluates one print argument.
    fn arg(&self, arg: &str, raw: &[u8]) -> Option<Value> {
        let arg = arg.trim();
        if let Some((cond, rest)) = split_ternary(arg) {
            let (a, b) = rest;
            let truth = match self.arg(cond, raw)? {
                Value::Int(v) => v != 0,
                Value::Str(s) => !s.is_empty(),
            };
            return Some(Value::Str(unquote(if truth { a } else { b })?.to_string()));
        }
        if let Some(inner) = arg
            .strip_prefix("__get_str(")
            .and_then(|s| s.strip_suffix(')'))
        {
            return self.field_value(self.field(inner.trim())?, raw);
        }
        // Casts such as `(void *)REC->address` or `(unsigned long)REC->x`.
        let arg = match arg.strip_prefix('(') {
            Some(rest) if !rest.starts_with("REC") => rest.split_once(')')?.1.trim(),
            _ => arg,
        };
        let name = arg.strip_prefix("REC->")?;
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        self.field_value(self.field(name)?, raw)
    }

    /// Formats with the print format, when every argument is understood.
    fn printed(&self, raw: &[u8]) -> Option<String> {
        let fmt = self.fmt.as_ref()?;
        let mut args = self.args.iter();
        let mut out = String::new();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                out.push('%');
                continue;
            }
            let mut spec = String::new();
            while let Some(&n) = chars.peek() {
                spec.push(n);
                chars.next();
                if n.is_ascii_alphabetic() && !matches!(n, 'l' | 'h' | 'z' | 'j' | 't' | 'q') {
                    break;
                }
            }
            let conv = spec.chars().last()?;
            // `%pS`-style extensions take the next letters as part of the pointer format.
            if conv == 'p' {
                while chars.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    chars.next();
                }
            }
            let value = self.arg(args.next()?, raw)?;
            out.push_str(&render(&spec, conv, value)?);
        }
        Some(out)
    }
}

/// Renders one printf conversion.
fn render(spec: &str, conv: char, value: Value) -> Option<String> {
    let short = spec.contains('h') && !spec.contains("hh");
    Some(match (conv, value) {
        ('s', Value::Str(s)) => s,
        ('s', Value::Int(v)) => v.to_string(),
        ('d' | 'i', Value::Int(v)) if short => (v as i16).to_string(),
        ('d' | 'i', Value::Int(v)) => v.to_string(),
        ('u', Value::Int(v)) => v.to_string(),
        ('x', Value::Int(v)) => format!("{:x}", v as u64),
        ('X', Value::Int(v)) => format!("{:X}", v as u64),
        ('p', Value::Int(v)) => format!("0x{:x}", v as u64),
        ('c', Value::Int(v)) => char::from(v as u8).to_string(),
        _ => return None,
    })
}

/// `cond ? "a" : "b"` → (cond, ("\"a\"", "\"b\"")).
fn split_ternary(arg: &str) -> Option<(&str, (&str, &str))> {
    let q = arg.find('?')?;
    let rest = &arg[q + 1..];
    let c = rest.rfind(':')?;
    Some((arg[..q].trim(), (rest[..c].trim(), rest[c + 1..].trim())))
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('"')?.strip_suffix('"')
}

fn c_string(bytes: &[u8]) -> String {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK_VICTIM: &str = "name: mark_victim\nID: 700\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:int pid;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:__data_loc char[] comm;\toffset:12;\tsize:4;\tsigned:0;\n\
\tfield:unsigned long pgtables;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:short oom_score_adj;\toffset:24;\tsize:2;\tsigned:1;\n\n\
print fmt: \"pid=%d comm=%s pgtables=%lukB oom_score_adj=%hd\", REC->pid, __get_str(comm), REC->pgtables, REC->oom_score_adj\n";

    fn mark_victim_raw() -> Vec<u8> {
        let mut raw = vec![0u8; 32];
        raw[8..12].copy_from_slice(&4242i32.to_le_bytes());
        raw[12..16].copy_from_slice(&((4u32 << 16) | 26).to_le_bytes());
        raw[16..24].copy_from_slice(&2048u64.to_le_bytes());
        raw[24..26].copy_from_slice(&(-1000i16).to_le_bytes());
        raw[26..30].copy_from_slice(b"pf\0\0");
        raw
    }

    #[test]
    fn mark_victim_prints_like_perf() {
        let (id, fmt) = parse_format("oom", MARK_VICTIM).unwrap();
        assert_eq!(id, 700);
        assert_eq!(fmt.name, "oom:mark_victim");
        assert_eq!(
            fmt.payload(&mark_victim_raw()),
            "pid=4242 comm=pf pgtables=2048kB oom_score_adj=-1000"
        );
    }

    #[test]
    fn unknown_argument_shapes_fall_back_to_pairs() {
        let text = MARK_VICTIM.replace("REC->pgtables", "__print_flags(REC->pgtables)");
        let (_, fmt) = parse_format("oom", &text).unwrap();
        assert_eq!(
            fmt.payload(&mark_victim_raw()),
            "pid=4242 comm=pf pgtables=2048 oom_score_adj=-1000"
        );
    }

    #[test]
    fn ternaries_and_char_arrays() {
        let text = "name: sched_process_exit\nID: 5\nformat:\n\
\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n\
\tfield:bool group_dead;\toffset:28;\tsize:1;\tsigned:0;\n\n\
print fmt: \"comm=%s pid=%d group_dead=%s\", REC->comm, REC->pid, REC->group_dead ? \"true\" : \"false\"\n";
        let (_, fmt) = parse_format("sched", text).unwrap();
        let mut raw = vec![0u8; 32];
        raw[8..14].copy_from_slice(b"worker");
        raw[24..28].copy_from_slice(&77i32.to_le_bytes());
        raw[28] = 1;
        assert_eq!(fmt.payload(&raw), "comm=worker pid=77 group_dead=true");
        // A record cut short never panics.
        assert_eq!(fmt.payload(&raw[..20]), "comm=? pid=? group_dead=?");
    }
}
