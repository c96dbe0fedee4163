//! Parsers for callchain lines of `perf script` output (event lines: [`super::event`]).

pub use super::event::{EventLine, parse_event_line};

/// One frame of a callchain, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawFrame<'a> {
    /// The address as printed (hex, no `0x`).
    pub addr: &'a [u8],
    /// The symbol without its `+0x…` offset; `[unknown]` when perf could not resolve it.
    pub symbol: &'a [u8],
    /// The hex digits of the `+0x…` offset, empty when none was printed.
    pub offset: &'a [u8],
    /// The DSO without its parentheses: `[kernel.kallsyms]`, `/usr/lib/libc.so.6`,
    /// `/tmp/x.so (deleted)`, `inlined`; empty when perf printed none.
    pub dso: &'a [u8],
}

impl RawFrame<'_> {
    /// Whether perf marked this frame as inlined into the next (calling) frame.
    pub fn is_inlined(&self) -> bool {
        self.dso == b"inlined"
    }
}

/// Whether a line has nothing but whitespace.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Strips trailing ASCII whitespace (including the `\r` of CRLF files).
pub fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..end]
}

pub(super) fn trim(s: &[u8]) -> &[u8] {
    trim_end(s.trim_ascii_start())
}

/// Parses one callchain line. Accepts:
///
/// ```text
///     ffffffff8103ce3b native_safe_halt ([kernel.kallsyms])
///     7f533952bc77 _dl_check_map_versions+0x597 (/usr/lib/ld-2.28.so)
///     7f1e2215d058  (/lib/x86_64-linux-gnu/libc-2.15.so)
///     7f722d142778 Ljava/io/PrintStream;::print (/tmp/perf-19982.map)
///     7f0a1c2d3e4f helper+0x10 (/tmp/libfoo.so (deleted))
///     7f0a1c2d3e4f (anonymous namespace)::Foo::bar() (/usr/bin/app)
///                0 [unknown] ([unknown])
///         b3cea6c4<TAB>Lock::unlock() (/system/lib/libc.so)      (simpleperf)
///     401b97 main+0x1f                                            (-F without dso)
///     ffffffff810427cd start_secondary ([kernel.kallsyms])/libpthread-2.19.so)
///     7fa4c73bc184 start_thread (/lib/x86_64-linux-gnu            (cut short)
/// ```
///
/// The symbol is everything between the address and the final parenthesised DSO,
/// trimmed; an empty symbol becomes `" "`, as in stackcollapse-perf.pl. A line with a hex
/// address whose DSO is missing or malformed keeps its symbol: the DSO is what follows
/// the last ` (` when that looks like a path or `[…]`, else empty. Linear in the length.
pub fn parse_stack_line(line: &[u8]) -> Option<RawFrame<'_>> {
    let s = line.trim_ascii_start();
    let addr_end = s.iter().position(|&b| is_sep(b)).unwrap_or(s.len());
    let addr = &s[..addr_end];
    // One separator belongs to the format; more belong to an empty symbol's padding.
    let rest = s.get(addr_end + 1..).unwrap_or(b"");
    if s.last() == Some(&b')')
        && addr_end < s.len()
        && let Some((func, dso)) = split_dso(rest)
    {
        return Some(frame(addr, func, dso));
    }
    if !super::event::is_hex(addr) {
        return None;
    }
    let rest = trim(rest);
    if let Some(open) = memchr::memmem::rfind(rest, b" (")
        && matches!(rest.get(open + 2), Some(b'/' | b'['))
    {
        let dso = &rest[open + 2..];
        let dso = dso.strip_suffix(b")").unwrap_or(dso);
        return Some(frame(addr, &rest[..open], dso));
    }
    if rest.is_empty() {
        return Some(RawFrame {
            addr,
            symbol: b"[unknown]",
            offset: b"",
            dso: b"",
        });
    }
    Some(frame(addr, rest, b""))
}

fn frame<'a>(addr: &'a [u8], func: &'a [u8], dso: &'a [u8]) -> RawFrame<'a> {
    let func = trim(func);
    let func: &[u8] = if func.is_empty() { b" " } else { func };
    let (symbol, offset) = split_offset(func);
    RawFrame {
        addr,
        symbol,
        offset,
        dso,
    }
}

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where the final parenthesised DSO of `text` starts (its `(`).
pub(super) fn dso_start(text: &[u8]) -> Option<usize> {
    let (func, _) = split_dso(text)?;
    Some(func.len() + 1)
}

/// Splits `symbol (dso)` at the DSO's opening parenthesis, which must follow a space.
fn split_dso(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    if rest.last() != Some(&b')') {
        return None;
    }
    // The common case, `sym (dso)` with no space or parenthesis inside the DSO: one
    // short backward scan instead of searches.
    for i in (0..rest.len() - 1).rev() {
        match rest[i] {
            b'(' if i > 0 && rest[i - 1] == b' ' => {
                return Some((&rest[..i - 1], &rest[i + 1..rest.len() - 1]));
            }
            b'(' | b')' | b' ' => break,
            _ => {}
        }
    }
    let last_space = memchr::memrchr(b' ', rest)?;
    let token = &rest[last_space + 1..];
    if token.first() == Some(&b'(') && balanced(token) {
        return Some((&rest[..last_space], &token[1..token.len() - 1]));
    }
    // A DSO with spaces inside, such as `(/tmp/x.so (deleted))`.
    let mut depth = 0i32;
    for i in (0..rest.len()).rev() {
        match rest[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    if i == 0 || rest[i - 1] != b' ' {
                        return None;
                    }
                    return Some((&rest[..i - 1], &rest[i + 1..rest.len() - 1]));
                }
            }
            _ => {}
        }
    }
    None
}

fn balanced(token: &[u8]) -> bool {
    // The common case: `(dso)` with no parentheses inside.
    if memchr::memchr2(b'(', b')', &token[1..token.len() - 1]).is_none() {
        return true;
    }
    let mut depth = 0i32;
    for (i, &b) in token.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 && i + 1 != token.len() {
                    return false;
                }
            }
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// `main+0x1f` → (`main`, `1f`). A `+0x` whose tail is not hex is part of the name.
fn split_offset(func: &[u8]) -> (&[u8], &[u8]) {
    // Scan back over hex digits; only then can `+0x` precede them.
    let mut i = func.len();
    while i > 0 && func[i - 1].is_ascii_hexdigit() {
        i -= 1;
    }
    if i >= 3 && &func[i - 3..i] == b"+0x" {
        return (&func[..i - 3], &func[i..]);
    }
    (func, b"")
}

/// A `-F +srcline` source location line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Srcline<'a> {
    /// `file:line`, or `??:0` when unknown.
    pub location: &'a [u8],
    /// Whether perf marked the frame before it as inlined (`spin.c:19 (inlined)`).
    pub inlined: bool,
}

/// Parses a `-F +srcline` line: indented `file:line`, optionally followed by `(inlined)`,
/// or `dso[address]` where perf found no source (`get_srcline`'s fallback).
///
/// ```text
///   spin.c:28
///   ??:0
///   spin.c:19 (inlined)
///   [kernel.kallsyms][ffffffff821f2fa7]
/// ```
pub fn parse_srcline(line: &[u8]) -> Option<Srcline<'_>> {
    if !line.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let s = trim(line);
    let (location, inlined) = match s.strip_suffix(b" (inlined)") {
        Some(loc) => (trim(loc), true),
        None => (s, false),
    };
    if location.contains(&b' ') || location.contains(&b'\t') {
        return None;
    }
    if let Some(body) = location.strip_suffix(b"]")
        && let Some(open) = memchr::memrchr(b'[', body)
        && open > 0
        && super::event::is_hex(&body[open + 1..])
    {
        return Some(Srcline { location, inlined });
    }
    let colon = memchr::memrchr(b':', location)?;
    let digits = &location[colon + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(Srcline { location, inlined })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_lines() {
        let f = parse_stack_line(
            b"\t    7f533952bc77 _dl_check_map_versions+0x597 (/usr/lib/ld-2.28.so)",
        )
        .unwrap();
        assert_eq!(
            (f.addr, f.symbol, f.offset, f.dso),
            (
                &b"7f533952bc77"[..],
                &b"_dl_check_map_versions"[..],
                &b"597"[..],
                &b"/usr/lib/ld-2.28.so"[..]
            )
        );
        let f = parse_stack_line(b"  7f1e2215d058  (/lib/libc-2.15.so)").unwrap();
        assert_eq!(f.symbol, b" ");
        let f = parse_stack_line(b"  7f0a1c2d3e4f helper+0x10 (/tmp/libfoo.so (deleted))").unwrap();
        assert_eq!(f.symbol, b"helper");
        assert_eq!(f.dso, b"/tmp/libfoo.so (deleted)");
        let f = parse_stack_line(
            b"  401b97 StealTask::do_it(GCTaskManager*, unsigned int) (/lib/libjvm.so)",
        )
        .unwrap();
        assert_eq!(f.symbol, b"StealTask::do_it(GCTaskManager*, unsigned int)");
        assert!(parse_stack_line(b"\t          THIS_IS_A_WEIRD_LINE").is_none());
        assert!(parse_stack_line(b"  401b97 main").is_some());
        assert!(parse_stack_line(b"  main").is_none());
    }

    #[test]
    fn srclines() {
        assert_eq!(parse_srcline(b"  pf.c:12").map(|s| s.inlined), Some(false));
        assert_eq!(
            parse_srcline(b"  ??:0").map(|s| s.location),
            Some(&b"??:0"[..])
        );
        let s = parse_srcline(b"  spin.c:19 (inlined)").unwrap();
        assert_eq!((s.location, s.inlined), (&b"spin.c:19"[..], true));
        assert!(parse_srcline(b"  401b97 main+0x1f (./x)").is_none());
        assert!(parse_srcline(b"pf.c:12").is_none());
    }

    #[test]
    fn frames_without_or_with_broken_dsos() {
        let f = parse_stack_line(b"\t            1184 mix_inline+0x3b").unwrap();
        assert_eq!(
            (f.addr, f.symbol, f.offset, f.dso),
            (&b"1184"[..], &b"mix_inline"[..], &b"3b"[..], &b""[..])
        );
        let f = parse_stack_line(
            b"\tffffffff810427cd start_secondary ([kernel.kallsyms])/libpthread-2.19.so)",
        )
        .unwrap();
        assert_eq!(f.symbol, b"start_secondary");
        assert_eq!(f.dso, b"[kernel.kallsyms])/libpthread-2.19.so");
        let f =
            parse_stack_line(b"\t    7fa4c73bc184 start_thread (/lib/x86_64-linux-gnu").unwrap();
        assert_eq!(
            (f.symbol, f.dso),
            (&b"start_thread"[..], &b"/lib/x86_64-linux-gnu"[..])
        );
        let f =
            parse_stack_line(b"        b3cea6c4\tLock::unlock() (/system/lib/libc.so)").unwrap();
        assert_eq!(
            (f.addr, f.symbol),
            (&b"b3cea6c4"[..], &b"Lock::unlock()"[..])
        );
        let f =
            parse_stack_line(b"\t  7f00 (anonymous namespace)::Foo::bar() (/usr/bin/app)").unwrap();
        assert_eq!(f.symbol, b"(anonymous namespace)::Foo::bar()");
        let f = parse_stack_line(b"\t  7f00 std::function<void ()>::operator()").unwrap();
        assert_eq!(
            (f.symbol, f.dso),
            (&b"std::function<void ()>::operator()"[..], &b""[..])
        );
        assert!(parse_stack_line(b"\t          THIS_IS_A_WEIRD_LINE").is_none());
        assert!(parse_stack_line(b"  spin.c:19 (inlined)").is_none());
        assert!(parse_stack_line(b"  [kernel.kallsyms][ffffffff821f2fa7]").is_none());
    }

    #[test]
    fn srcline_fallbacks() {
        let s = parse_srcline(b"  [kernel.kallsyms][ffffffff821f2fa7]").unwrap();
        assert_eq!(s.location, b"[kernel.kallsyms][ffffffff821f2fa7]");
        assert!(parse_srcline(b"  [ffff]").is_none());
    }
}
