//! Parsers for single lines of `perf script` output.

use nom::{
    IResult,
    bytes::complete::{take_while, take_while1},
    character::complete::char,
    sequence::{delimited, terminated},
};

use crate::units::Nanos;

/// The first line of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventLine<'a> {
    /// The task's command name, which may contain spaces.
    pub comm: &'a [u8],
    /// The process id, when perf printed `pid/tid`; perf's default prints only the tid.
    pub pid: Option<i32>,
    /// The thread id (`-1` for samples perf could not tie to a task).
    pub tid: i32,
    /// The CPU from `[002]`, printed for system-wide recordings.
    pub cpu: Option<u32>,
    /// The sample time, absent in very old perf output.
    pub time: Option<Nanos>,
    /// The sample period, printed for sampled (not tracepoint) events.
    pub period: Option<u64>,
    /// The event name without its trailing colon (`cpu-clock`, `cycles:uppp`,
    /// `exceptions:page_fault_user`).
    pub event: &'a [u8],
    /// A tracepoint's payload (`address=0x7f… ip=0x7f… error_code=0x6`), else empty.
    pub payload: &'a [u8],
    /// The ip and symbol perf prints on the same line for events without callchains.
    pub frame: Option<RawFrame<'a>>,
}

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

fn trim(s: &[u8]) -> &[u8] {
    trim_end(s.trim_ascii_start())
}

/// Parses a sample's first line. Accepts, among others:
///
/// ```text
/// java 25607 4794564.109216: cycles:
/// V8 WorkerThread 24636/25607 [000] 94564.109216: cycles:
/// vote   913    72.176760:     257597 cycles:uppp:
/// func_ab 15294 cpu-clock:
///               pf  3327    84.072112:    1001001                  cpu-clock:
///               pf  3327 [000]    84.955179:   sched:sched_process_exit: comm=pf pid=3327 prio=120 group_dead=true
///               pf  3327 [000]    84.071353: exceptions:page_fault_user: address=0x7fcf87765e06 ip=0x7fcf8774d7ad error_code=0x6 ffffffff821f5340 exc_page_fault+0x2f0 ([kernel.kallsyms])
/// false 64414 20110.539270:      34467 cycles:u:  ffffffff9aa3c8de [unknown] ([unknown])
///             :-1    -1 [001]  1234.567890123:     250000 cpu-clock:
/// ```
///
/// The pid field is found as inferno finds it (the first space-terminated word
/// of digits, optionally `pid/tid`), so comms with spaces work; `-1` is accepted too.
pub fn parse_event_line(line: &[u8]) -> Option<EventLine<'_>> {
    let (comm, pid, tid, rest) = split_comm_pid(line)?;
    let (rest, cpu) = opt(rest, cpu)?;
    let (rest, time) = opt(rest, timestamp)?;
    let (rest, period) = opt(rest, period)?;
    let (rest, event) = event_name(rest).ok()?;
    let rest = trim(rest);
    let (payload, frame) = split_payload(rest);
    Some(EventLine {
        comm,
        pid,
        tid,
        cpu,
        time,
        period,
        event,
        payload,
        frame,
    })
}

/// Runs an optional field parser, then skips the spaces after the field.
fn opt<'a, T>(
    input: &'a [u8],
    parser: fn(&'a [u8]) -> IResult<&'a [u8], T>,
) -> Option<(&'a [u8], Option<T>)> {
    let input = input.trim_ascii_start();
    Some(match parser(input) {
        Ok((rest, v)) => (rest.trim_ascii_start(), Some(v)),
        Err(_) => (input, None),
    })
}

/// `[002]`
fn cpu(input: &[u8]) -> IResult<&[u8], u32> {
    let (rest, digits) = delimited(char('['), take_while1(is_digit), char(']'))(input)?;
    Ok((rest, parse_u64(digits).unwrap_or(0) as u32))
}

/// `84.071346:` (µs) or `84.071346947:` (ns, `--ns`).
fn timestamp(input: &[u8]) -> IResult<&[u8], Nanos> {
    let (rest, secs) = take_while1(is_digit)(input)?;
    let (rest, _) = char('.')(rest)?;
    let (rest, frac) = terminated(take_while1(is_digit), char(':'))(rest)?;
    let secs = parse_u64(secs).unwrap_or(0);
    let mut nanos = 0u64;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    Ok((
        rest,
        Nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos)),
    ))
}

/// `1001001 ` (the period, always followed by the event name).
fn period(input: &[u8]) -> IResult<&[u8], u64> {
    let (rest, digits) = terminated(take_while1(is_digit), char(' '))(input)?;
    match parse_u64(digits) {
        Some(p) => Ok((rest, p)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// `cpu-clock:`, `cycles:uppp:`, `sched:sched_switch:` — a word ending in a colon.
fn event_name(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let (rest, word) = take_while1(|b: u8| b != b' ' && b != b'\t')(input)?;
    match word.strip_suffix(b":") {
        Some(name) if !name.is_empty() => Ok((rest, name)),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Char,
        ))),
    }
}

fn is_hex(word: &[u8]) -> bool {
    !word.is_empty() && word.iter().all(u8::is_ascii_hexdigit)
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

fn parse_i32(s: &[u8]) -> Option<i32> {
    match s.strip_prefix(b"-") {
        Some(digits) => i32::try_from(parse_u64(digits)?).ok().map(|v| -v),
        None => i32::try_from(parse_u64(s)?).ok(),
    }
}

/// (comm, pid, tid, the rest of the line).
type CommPid<'a> = (&'a [u8], Option<i32>, i32, &'a [u8]);

/// Finds the comm and the pid word: the first word of digits (or `pid/tid`, or `-1`)
/// that follows a space and is followed by one.
fn split_comm_pid(line: &[u8]) -> Option<CommPid<'_>> {
    // The text before the first space always belongs to the comm.
    let mut space = memchr::memchr(b' ', line)?;
    loop {
        let start = space + 1;
        let end = start + memchr::memchr(b' ', &line[start..])?;
        if let Some((pid, tid)) = pid_word(&line[start..end]) {
            return Some((trim(&line[..space]), pid, tid, &line[end + 1..]));
        }
        space = end;
    }
}

/// `3327` (a tid), `24636/25607` (pid/tid) or `-1`.
fn pid_word(word: &[u8]) -> Option<(Option<i32>, i32)> {
    if !word
        .first()
        .is_some_and(|&b| b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    match memchr::memchr(b'/', word) {
        Some(s) => Some((Some(parse_i32(&word[..s])?), parse_i32(&word[s + 1..])?)),
        None => Some((None, parse_i32(word)?)),
    }
}

/// Separates a tracepoint payload from a same-line frame (`… error_code=0x6 ffffffff821f5340
/// exc_page_fault+0x2f0 ([kernel.kallsyms])`). Text that is one whole frame is a frame.
fn split_payload(rest: &[u8]) -> (&[u8], Option<RawFrame<'_>>) {
    if rest.is_empty() {
        return (rest, None);
    }
    if let Some(frame) = parse_stack_line(rest)
        && is_hex(frame.addr)
    {
        return (b"", Some(frame));
    }
    if rest.last() != Some(&b')') {
        return (rest, None);
    }
    // The frame's address is the first all-hex word after which the rest is a frame.
    let mut i = 0;
    while let Some(sp) = memchr::memchr(b' ', &rest[i..]) {
        let start = i + sp + 1;
        let word_end = memchr::memchr(b' ', &rest[start..]).map_or(rest.len(), |e| start + e);
        let word = &rest[start..word_end];
        if is_hex(word)
            && let Some(frame) = parse_stack_line(&rest[start..])
        {
            return (trim(&rest[..start]), Some(frame));
        }
        i = start;
    }
    (rest, None)
}

/// Parses one callchain line. Accepts:
///
/// ```text
///     ffffffff8103ce3b native_safe_halt ([kernel.kallsyms])
///     7f533952bc77 _dl_check_map_versions+0x597 (/usr/lib/ld-2.28.so)
///     7f1e2215d058  (/lib/x86_64-linux-gnu/libc-2.15.so)
///     7f722d142778 Ljava/io/PrintStream;::print (/tmp/perf-19982.map)
///     7f0a1c2d3e4f helper+0x10 (/tmp/libfoo.so (deleted))
///                0 [unknown] ([unknown])
/// ```
///
/// The symbol is everything between the address and the final parenthesised DSO,
/// trimmed; an empty symbol becomes `" "`, as in stackcollapse-perf.pl.
pub fn parse_stack_line(line: &[u8]) -> Option<RawFrame<'_>> {
    if line.last() != Some(&b')') {
        return None;
    }
    let s = line.trim_ascii_start();
    let (rest, addr) = take_while::<_, _, nom::error::Error<&[u8]>>(|b: u8| b != b' ')(s).ok()?;
    let rest = rest.strip_prefix(b" ")?;
    let (func, dso) = split_dso(rest)?;
    let func = trim(func);
    let func: &[u8] = if func.is_empty() { b" " } else { func };
    let (symbol, offset) = split_offset(func);
    Some(RawFrame {
        addr,
        symbol,
        offset,
        dso,
    })
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

/// Parses a callchain line that has no DSO, as `perf script -F +srcline --inline`
/// prints inlined frames (the `(inlined)` marker moves to the srcline after it):
///
/// ```text
/// <TAB>            1184 mix_inline+0x3b
/// ```
pub fn parse_bare_frame(line: &[u8]) -> Option<RawFrame<'_>> {
    if !line.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let s = line.trim_ascii_start();
    let sp = memchr::memchr(b' ', s)?;
    let addr = &s[..sp];
    let func = trim(&s[sp + 1..]);
    if !is_hex(addr) || func.is_empty() {
        return None;
    }
    let (symbol, offset) = split_offset(func);
    Some(RawFrame {
        addr,
        symbol,
        offset,
        dso: b"",
    })
}

/// A `-F +srcline` source location line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Srcline<'a> {
    /// `file:line`, or `??:0` when unknown.
    pub location: &'a [u8],
    /// Whether perf marked the frame before it as inlined (`spin.c:19 (inlined)`).
    pub inlined: bool,
}

/// Parses a `-F +srcline` line: indented `file:line`, optionally followed by `(inlined)`.
///
/// ```text
///   spin.c:28
///   ??:0
///   spin.c:19 (inlined)
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
    let colon = memchr::memrchr(b':', location)?;
    let digits = &location[colon + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || location.contains(&b' ') {
        return None;
    }
    Some(Srcline { location, inlined })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> EventLine<'_> {
        parse_event_line(line.as_bytes()).unwrap_or_else(|| panic!("no parse: {line}"))
    }

    #[test]
    fn comm_with_spaces_and_pid_tid_and_cpu() {
        let e = ev("V8 WorkerThread 24636/25607 [000] 94564.109216: cycles:");
        assert_eq!(e.comm, b"V8 WorkerThread");
        assert_eq!((e.pid, e.tid, e.cpu), (Some(24636), 25607, Some(0)));
        assert_eq!(e.time, Some(Nanos(94_564_109_216_000)));
        assert_eq!(e.event, b"cycles");
        assert_eq!(e.period, None);
    }

    #[test]
    fn period_and_modifiers() {
        let e = ev("vote   913    72.176760:     257597 cycles:uppp:");
        assert_eq!((e.pid, e.tid, e.period), (None, 913, Some(257597)));
        assert_eq!(e.event, b"cycles:uppp");
        assert_eq!(e.frame, None);
    }

    #[test]
    fn nanosecond_timestamps() {
        let e = ev("pf  3327 [000]    84.071346947: cpu-clock:");
        assert_eq!(e.time, Some(Nanos(84_071_346_947)));
    }

    #[test]
    fn old_format_without_time() {
        let e = ev("func_ab 15294 cpu-clock: ");
        assert_eq!(e.event, b"cpu-clock");
        assert_eq!(e.time, None);
    }

    #[test]
    fn pid_minus_one() {
        let e = ev("            :-1    -1 [001]  1234.567890: 250000 cpu-clock:");
        assert_eq!(e.comm, b":-1");
        assert_eq!(e.tid, -1);
        let e = ev(":-1 -1/-1 1.5: cpu-clock:");
        assert_eq!((e.pid, e.tid), (Some(-1), -1));
    }

    #[test]
    fn event_with_config() {
        let e = ev("pf 12 [001] 5.000001: 1000 cpu-clock/freq=1999/: ");
        assert_eq!(e.event, b"cpu-clock/freq=1999/");
        assert_eq!(e.period, Some(1000));
    }

    #[test]
    fn tracepoint_payload_with_callchain() {
        let e = ev(
            "pf  3327 [000]    84.955179:   sched:sched_process_exit: comm=pf pid=3327 prio=120 group_dead=true",
        );
        assert_eq!(e.event, b"sched:sched_process_exit");
        assert_eq!(e.payload, b"comm=pf pid=3327 prio=120 group_dead=true");
        assert_eq!(e.frame, None);
    }

    #[test]
    fn tracepoint_payload_with_same_line_frame() {
        let e = ev(
            "             pf  3327 [000]    84.071353: exceptions:page_fault_user: address=0x7fcf87765e06 ip=0x7fcf8774d7ad error_code=0x6 ffffffff821f5340 exc_page_fault+0x2f0 ([kernel.kallsyms])",
        );
        assert_eq!(e.event, b"exceptions:page_fault_user");
        assert_eq!(
            e.payload,
            b"address=0x7fcf87765e06 ip=0x7fcf8774d7ad error_code=0x6"
        );
        let f = e.frame.unwrap();
        assert_eq!(f.addr, b"ffffffff821f5340");
        assert_eq!(f.symbol, b"exc_page_fault");
        assert_eq!(f.offset, b"2f0");
        assert_eq!(f.dso, b"[kernel.kallsyms]");
    }

    #[test]
    fn same_line_frame_without_payload() {
        let e = ev(
            "false 64414 20110.539270:      34467 cycles:u:  ffffffff9aa3c8de [unknown] ([unknown])",
        );
        assert_eq!(e.payload, b"");
        assert_eq!(e.frame.unwrap().symbol, b"[unknown]");
    }

    #[test]
    fn not_event_lines() {
        for l in [
            "\t          401b97 main+0x1f (./inline-counter)",
            "\t          THIS_IS_A_WEIRD_LINE",
            "",
            "no pid here: cycles:",
            "comm 12 34.5: ",
        ] {
            assert!(parse_event_line(l.as_bytes()).is_none(), "{l:?}");
        }
    }

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
        assert!(parse_stack_line(b"  401b97 main").is_none());
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
    fn bare_frames() {
        let f = parse_bare_frame(b"\t            1184 mix_inline+0x3b").unwrap();
        assert_eq!(
            (f.addr, f.symbol, f.dso),
            (&b"1184"[..], &b"mix_inline"[..], &b""[..])
        );
        assert!(parse_bare_frame(b"\t          THIS_IS_A_WEIRD_LINE").is_none());
        assert!(parse_bare_frame(b"x 1184 main").is_none());
    }
}
