//! The first line of a sample: `comm pid/tid [cpu] time: period event: …`.
//!
//! perf prints it field by field (`perf_sample__fprintf_start` and `process_event` in
//! `tools/perf/builtin-script.c`), each field only when the event's `-F` set has it:
//!
//! | field | format | notes |
//! |---|---|---|
//! | comm | `%16s ` (`%s ` when a callchain follows) | up to 15 bytes; may hold spaces, digits, `/`, `:` |
//! | pid/tid | `%5d/%-5d `, `%5d ` (`%7d` since perf 6.5) | `-1` for samples without a task |
//! | cpu | `[%03d] ` | |
//! | time | `%12s: ` (µs) or `%5lu.%09llu: ` (`--ns`) | |
//! | period | `%10lu ` | |
//! | event | `%*s: ` | right-aligned to the longest name: `cycles:uppp`, `cpu/event=0x3c/`, `sched:sched_switch` |
//! | rest | tracepoint payload, then ` %16x sym+off (dso)` for events without callchains | |
//!
//! Android simpleperf separates the fields with tabs instead.
//!
//! # How a line is read, and the rules where the text is ambiguous
//!
//! The line is cut into words at spaces and tabs. A reading is a choice of where the comm
//! ends: the comm is the words before it, then an optional pid word (`123`, `-1`,
//! `123/456`), then in perf's order an optional `[cpu]`, an optional `sec.frac:` time, an
//! optional period, and a word ending in `:` (the event; or `PERF_RECORD_…`, a side-band
//! record). Only fields in perf's order are accepted, so `worker 2/3  1234/1235 [000] …`
//! has one reading (`2/3` is followed by a pid, not by a cpu, time, period or event).
//! No comm runs past the first word shaped like a time (`84.071346:`) or a cpu (`[002]`),
//! the firmest anchors.
//! When several readings fit, these rules decide, in order:
//!
//! 1. **Padding.** perf right-aligns the pid in 5 columns (7 since perf 6.5) and the period
//!    in 10, and pads the comm only on its left, so a pid word preceded by fewer spaces than
//!    `%5d` needs or more than `%7d` gives, or a period word preceded by fewer than `%10`
//!    needs, was not printed as one: in `GC Thread 1  5.000001: cycles:` (`-F
//!    comm,time,event`) the `1` follows one space and is part of the comm; in
//!    `A     0          1 cycles:` the `1` follows ten spaces and is a period. In lines
//!    with tabs (simpleperf: `comm<TAB>tid [cpu] time:<TAB><TAB>period event:`) a pid
//!    word after a tab is padded too.
//! 2. **A pid when one fits**, then **a pid of at most 7 digits** (Linux's PID_MAX_LIMIT
//!    is 4194304: in `0     0 1000000000 cycles:` the long number is a period), then **a
//!    comm when one fits** (`-F` sets without a comm are rare).
//! 3. **The shortest comm.** Among readings still left, the one whose comm ends first.
//!    Lines decided by this rule are counted as guesses
//!    ([`Diagnostics::guessed`](super::Diagnostics::guessed)), and so are lines read as a
//!    pid without a comm when a comm without a pid fits too (`00000     0.000000: cycles:`).
//!
//! So `FS Broker 5906  12345      10000 cycles:` (no time, no cpu) is comm
//! `FS Broker 5906`, pid 12345, period 10000: read as comm `FS Broker 5906 12345` and pid
//! 10000, the pid would follow more spaces than `%7d` pads.
//!
//! What stays ambiguous: a comm ending in a run of spaces and a number reads as comm and
//! pid (`a   000     0.000000:` is comm `a`, pid 0, even if `-F` had no pid); a numeric
//! comm with no pid field reads as a comm-less pid (counted as a guess).
//!
//! A line whose time perf did not pad (hand-written text such as `x 1 1.0: 1 cycles:`, or
//! other tools' output) skips rule 1: there `x` is the comm and 1 the pid. A line whose
//! padding fits no reading is read with rules 2 and 3 and counted as a guess.
//!
//! A pid or tid beyond `i32` makes the line unreadable ([`EventRead::PidOutOfRange`]),
//! never part of the comm.

use super::line::{RawFrame, parse_stack_line as parse_frame_text, trim};
use crate::units::Nanos;

/// The first line of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventLine<'a> {
    /// The task's command name, which may contain spaces.
    pub comm: &'a [u8],
    /// The process id, when perf printed `pid/tid`; perf's default prints only the tid.
    pub pid: Option<i32>,
    /// The thread id (`-1` for samples perf could not tie to a task, and when perf printed
    /// no pid or tid at all).
    pub tid: i32,
    /// The CPU from `[002]`, printed for system-wide recordings.
    pub cpu: Option<u32>,
    /// The sample time, absent in very old perf output and with `-F` sets without time.
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

/// A side-band record printed by `--show-task-events`, `--show-mmap-events` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sideband<'a> {
    /// The record type after `PERF_RECORD_`: `COMM`, `MMAP2`, `FORK`, `EXIT`, …
    pub kind: &'a [u8],
    /// For `COMM` records, the thread and its new name.
    pub rename: Option<(i32, &'a [u8])>,
}

/// What an event line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRead<'a> {
    /// A sample's first line; `guessed` when the ambiguity rules had to guess.
    Sample {
        /// The line.
        line: EventLine<'a>,
        /// Whether rule 3 (or an unpadded line) decided where the comm ends.
        guessed: bool,
        /// The text after the event name, trimmed: payload and same-line frame together.
        rest: &'a [u8],
    },
    /// A side-band record.
    Sideband(Sideband<'a>),
    /// A pid or tid too large for `i32`.
    PidOutOfRange,
    /// Not an event line.
    Unreadable,
}

/// Words looked at before giving up on a line: a comm of at most 15 bytes and the fields
/// after it need far fewer. Bounds the work on long lines.
const MAX_WORDS: usize = 40;

/// Parses a sample's first line; `None` for anything else (side-band records included).
/// See [`read_event_line`].
pub fn parse_event_line(line: &[u8]) -> Option<EventLine<'_>> {
    match read_event_line(line) {
        EventRead::Sample { line, .. } => Some(line),
        _ => None,
    }
}

/// One reading of a line's fields (indices into the word table).
#[derive(Debug, Clone, Copy)]
struct Reading {
    /// Words `0..comm_end` are the comm.
    comm_end: usize,
    pid: bool,
    cpu: bool,
    time: bool,
    period: bool,
    /// The event (or `PERF_RECORD_…`) word.
    event: usize,
    /// Whether its pid and period words carry perf's padding.
    padded: bool,
    /// Whether its pid has at most 7 digits, as Linux pids do.
    plausible: bool,
}

/// How strongly perf's format supports a reading (rules 1 and 2); higher wins, and among
/// equals the shortest comm (rule 3).
fn rank(r: &Reading) -> (bool, bool, bool, bool) {
    (r.padded, r.pid, r.plausible, r.comm_end > 0)
}

/// Reads a non-indented line: a sample's first line, a side-band record, or neither.
/// Linear in the line's length.
pub fn read_event_line(line: &[u8]) -> EventRead<'_> {
    if let Some(body) = line.strip_prefix(b"PERF_RECORD_") {
        let end = body.iter().position(|&b| is_sep(b)).unwrap_or(body.len());
        return EventRead::Sideband(sideband(&body[..end], &body[end..]));
    }
    let mut words = [(0usize, 0usize); MAX_WORDS];
    let n = split_words(line, &mut words);
    let words = &words[..n];
    let tabs = memchr::memchr(b'\t', &line[..words.last().map_or(0, |w| w.1)]).is_some();
    let word = |i: usize| &line[words[i].0..words[i].1];
    let spaces_before = |i: usize| {
        let end = words[i].0;
        let start = if i == 0 { 0 } else { words[i - 1].1 };
        end - start
    };
    let tab_before = |i: usize| {
        let start = if i == 0 { 0 } else { words[i - 1].1 };
        line[start..words[i].0].contains(&b'\t')
    };
    // The time and the cpu are the firmest anchors: no comm runs past them.
    let last_comm_end = (0..n)
        .find(|&i| is_time(word(i)) || is_cpu(word(i)))
        .unwrap_or(n);
    // Text whose time perf did not pad was not printed by perf (hand-written tests, other
    // tools): padding says nothing there.
    let hand_written = (0..n)
        .find(|&i| is_time(word(i)))
        .is_some_and(|t| !tabs && spaces_before(t) < time_padding(word(t), t));
    let mut best: Option<Reading> = None;
    let mut rivals = 0;
    let mut comm_rival = false;
    // Every reading, pid-bearing first, each by where the comm ends.
    for pid in [true, false] {
        // Readings without a pid rank below a padded one with a pid and a comm.
        if !pid && best.is_some_and(|b| b.padded && b.plausible && b.comm_end > 0) {
            break;
        }
        for comm_end in 0..=last_comm_end.min(n.saturating_sub(1)) {
            if !pid && comm_end == 0 {
                continue;
            }
            let Some(mut r) = reading(&word, n, comm_end, pid) else {
                continue;
            };
            (r.padded, r.plausible) = padded(&r, &word, &spaces_before);
            // simpleperf: `comm<TAB>tid [cpu] time:<TAB><TAB>period event:`.
            r.padded |= hand_written || tabs && r.pid && r.comm_end > 0 && tab_before(r.comm_end);
            comm_rival |= r.padded && r.comm_end > 0;
            match best {
                Some(b) if rank(&b) > rank(&r) => {}
                Some(b) if rank(&b) == rank(&r) => rivals += 1,
                _ => {
                    best = Some(r);
                    rivals = 0;
                }
            }
        }
    }
    let Some(r) = best else {
        return EventRead::Unreadable;
    };
    // `00000     0.000000: cycles:` is a pid without a comm or a numeric comm without a pid.
    let guessed = rivals > 0 || !r.padded || (r.comm_end == 0 && comm_rival);
    build(line, words, &r, guessed)
}

/// Spaces perf puts before a time word at word index `i`: `%12s` for µs, `%5lu.%09llu` for
/// ns, and one separator unless it starts the line; more than any line has for other forms.
fn time_padding(w: &[u8], i: usize) -> usize {
    let text = &w[..w.len() - 1];
    let dot = memchr::memchr(b'.', text).unwrap_or(0);
    let pad = match text.len() - dot - 1 {
        6 => 12usize.saturating_sub(text.len()),
        9 => 5usize.saturating_sub(dot),
        _ => return usize::MAX,
    };
    pad + usize::from(i > 0)
}

/// Whether the fields after a comm of `comm_end` words fit perf's order, and where the
/// event word is.
fn reading<'a>(
    word: &impl Fn(usize) -> &'a [u8],
    n: usize,
    comm_end: usize,
    pid: bool,
) -> Option<Reading> {
    let mut k = comm_end;
    if pid {
        if k >= n || !is_pid(word(k)) {
            return None;
        }
        k += 1;
    }
    let take = |k: &mut usize, f: fn(&[u8]) -> bool| {
        let hit = *k < n && f(word(*k));
        *k += usize::from(hit);
        hit
    };
    let cpu = take(&mut k, is_cpu);
    let time = take(&mut k, is_time);
    let period = take(&mut k, is_digits);
    // Without a pid, only a cpu or a time anchors the comm's end.
    if k >= n || !is_event(word(k)) || !(pid || cpu || time) {
        return None;
    }
    Some(Reading {
        comm_end,
        pid,
        cpu,
        time,
        period,
        event: k,
        padded: false,
        plausible: true,
    })
}

/// Whether the pid and period words are right-aligned as perf prints them, and whether
/// the pid has a Linux pid's length.
fn padded<'a>(
    r: &Reading,
    word: &impl Fn(usize) -> &'a [u8],
    spaces_before: &impl Fn(usize) -> usize,
) -> (bool, bool) {
    // Spaces a field of `len` bytes right-aligned to `width` has before it: its padding,
    // and one separator unless it starts the line.
    let pad = |i: usize, width: usize, len: usize| width.saturating_sub(len) + usize::from(i > 0);
    let fits = |i: usize, width: usize, len: usize| spaces_before(i) >= pad(i, width, len);
    let mut plausible = true;
    let pid_ok = !r.pid || {
        let i = r.comm_end;
        let w = word(i);
        let pid_len = memchr::memchr(b'/', w).unwrap_or(w.len());
        // Linux pids have at most 7 digits (PID_MAX_LIMIT is 4194304).
        plausible = pid_len <= 8;
        // At least `%5d`'s padding, at most `%7d`'s: the comm before it has none after it.
        fits(i, 5, pid_len) && spaces_before(i) <= pad(i, 7, pid_len)
    };
    let period_ok = !r.period || fits(r.event - 1, 10, word(r.event - 1).len());
    (pid_ok && period_ok, plausible)
}

/// Builds the event line (or side-band record) from the chosen reading.
fn build<'a>(
    line: &'a [u8],
    words: &[(usize, usize)],
    r: &Reading,
    guessed: bool,
) -> EventRead<'a> {
    let word = |i: usize| &line[words[i].0..words[i].1];
    let comm = if r.comm_end == 0 {
        &b""[..]
    } else {
        &line[words[0].0..words[r.comm_end - 1].1]
    };
    let (pid, tid) = if r.pid {
        match parse_pid_word(word(r.comm_end)) {
            Some(p) => p,
            None => return EventRead::PidOutOfRange,
        }
    } else {
        (None, -1)
    };
    let mut k = r.comm_end + usize::from(r.pid);
    let mut next = |present: bool| {
        let w = present.then(|| word(k));
        k += usize::from(present);
        w
    };
    let cpu = next(r.cpu).map(|w| parse_u64(&w[1..w.len() - 1]).unwrap_or(0) as u32);
    let time = next(r.time).map(parse_time);
    let period = next(r.period).and_then(parse_u64);
    let ev = word(r.event);
    let rest = &line[words[r.event].1..];
    if let Some(kind) = ev.strip_prefix(b"PERF_RECORD_") {
        return EventRead::Sideband(sideband(kind, rest));
    }
    let event = &ev[..ev.len() - 1];
    let rest = trim(rest);
    let (payload, frame) = split_payload(event, rest);
    EventRead::Sample {
        rest,
        line: EventLine {
            comm,
            pid,
            tid,
            cpu,
            time,
            period,
            event,
            payload,
            frame,
        },
        guessed,
    }
}

/// Cuts up to [`MAX_WORDS`] words separated by spaces and tabs; returns how many.
fn split_words(line: &[u8], out: &mut [(usize, usize); MAX_WORDS]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while n < MAX_WORDS {
        while i < line.len() && is_sep(line[i]) {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let start = i;
        i = memchr::memchr2(b' ', b'\t', &line[i..]).map_or(line.len(), |e| i + e);
        out[n] = (start, i);
        n += 1;
        // Stop at the first event-shaped word past a time (and a period): the fields end
        // there, and the payload after it can be long.
        if n >= 3 && line[i - 1] == b':' && is_event(&line[start..i]) {
            let prev = &line[out[n - 2].0..out[n - 2].1];
            let before = &line[out[n - 3].0..out[n - 3].1];
            if is_time(prev) || is_digits(prev) && is_time(before) {
                break;
            }
        }
    }
    n
}

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `123`, `-1`, `123/456`, `-1/-1`.
fn is_pid(w: &[u8]) -> bool {
    let one = |s: &[u8]| is_digits(s.strip_prefix(b"-").unwrap_or(s));
    match memchr::memchr(b'/', w) {
        Some(i) => one(&w[..i]) && one(&w[i + 1..]),
        None => one(w),
    }
}

/// `[002]`.
fn is_cpu(w: &[u8]) -> bool {
    w.len() >= 3 && w[0] == b'[' && w[w.len() - 1] == b']' && is_digits(&w[1..w.len() - 1])
}

/// `84.071346:` or `84.071346947:`.
fn is_time(w: &[u8]) -> bool {
    let Some(w) = w.strip_suffix(b":") else {
        return false;
    };
    match memchr::memchr(b'.', w) {
        Some(i) => is_digits(&w[..i]) && is_digits(&w[i + 1..]),
        None => false,
    }
}

/// A word ending in `:` that starts like an event name (`cycles:uppp:`,
/// `sched:sched_switch:`), or a side-band record's `PERF_RECORD_…`.
fn is_event(w: &[u8]) -> bool {
    if w.starts_with(b"PERF_RECORD_") {
        return true;
    }
    // Event names start with a letter (`cycles`, `r003c`, `cpu/…/`, `sched:…`), or are
    // perf's `[unknown]`.
    w.len() >= 2
        && w[w.len() - 1] == b':'
        && (w[0].is_ascii_alphabetic() || w[0] == b'_' || w[0] == b'[')
}

fn is_digits(w: &[u8]) -> bool {
    !w.is_empty() && w.iter().all(u8::is_ascii_digit)
}

pub(super) fn is_hex(w: &[u8]) -> bool {
    !w.is_empty() && w.iter().all(u8::is_ascii_hexdigit)
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

/// `3327` (the tid alone), `24636/25607` (pid/tid); `None` when out of range.
fn parse_pid_word(w: &[u8]) -> Option<(Option<i32>, i32)> {
    match memchr::memchr(b'/', w) {
        Some(s) => Some((Some(parse_i32(&w[..s])?), parse_i32(&w[s + 1..])?)),
        None => Some((None, parse_i32(w)?)),
    }
}

/// `84.071346:` (µs) or `84.071346947:` (ns).
fn parse_time(w: &[u8]) -> Nanos {
    let w = &w[..w.len() - 1];
    let dot = memchr::memchr(b'.', w).unwrap_or(w.len());
    let secs = parse_u64(&w[..dot]).unwrap_or(0);
    let frac = w.get(dot + 1..).unwrap_or(b"");
    let mut nanos = 0u64;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    Nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// Reads a side-band record's body (`word` is `PERF_RECORD_…`, perhaps with its colon);
/// `COMM` records name their thread: `PERF_RECORD_COMM exec: pf:3327/3327`,
/// `PERF_RECORD_COMM: worker 2/3:3327/3330`.
fn sideband<'a>(word: &'a [u8], rest: &'a [u8]) -> Sideband<'a> {
    let (kind, colon_taken) = match word.strip_suffix(b":") {
        Some(k) => (k, true),
        None => (word, false),
    };
    let rename = (kind == b"COMM")
        .then(|| {
            let mut body = trim(rest);
            if !colon_taken {
                body = body.strip_prefix(b"exec").unwrap_or(body);
                body = trim(body.strip_prefix(b":")?);
            }
            let colon = memchr::memrchr(b':', body)?;
            let (_, tid) = parse_pid_word(&body[colon + 1..])?;
            Some((tid, &body[..colon]))
        })
        .flatten();
    Sideband { kind, rename }
}

/// Separates a tracepoint payload from the frame perf prints after it for events without
/// callchains (`… error_code=0x6 ffffffff821f5340 exc_page_fault+0x2f0 ([kernel.kallsyms])`).
///
/// The frame is ` %16x sym (dso)` at the end: for events other than tracepoints the text
/// is the whole frame when it starts with a hex word; otherwise the frame starts at the
/// first hex word (before the final `(dso)`, if any) that carries `%16x`'s padding, or,
/// when a DSO ends the text, failing that at the first hex word. One pass over the words.
fn split_payload<'a>(event: &[u8], rest: &'a [u8]) -> (&'a [u8], Option<RawFrame<'a>>) {
    if rest.is_empty() {
        return (rest, None);
    }
    let first_end = rest.iter().position(|&b| is_sep(b)).unwrap_or(rest.len());
    let tracepoint = is_tracepoint(event);
    if is_hex(&rest[..first_end]) && !tracepoint {
        return (b"", parse_frame_text(rest));
    }
    let end = if rest.last() == Some(&b')') {
        super::line::dso_start(rest)
    } else {
        None
    };
    let limit = end.unwrap_or(rest.len());
    let (mut padded, mut any) = (None, None);
    let mut i = if tracepoint { 0 } else { first_end };
    while i < limit && padded.is_none() {
        let gap = i;
        while i < limit && is_sep(rest[i]) {
            i += 1;
        }
        let start = i;
        while i < limit && !is_sep(rest[i]) {
            i += 1;
        }
        if start < i && is_hex(&rest[start..i]) {
            any = any.or(Some(start));
            if start > 0 && start - gap > 16usize.saturating_sub(i - start) {
                padded = Some(start);
            }
        }
    }
    match padded.or(any.filter(|_| end.is_some())) {
        Some(start) => (trim(&rest[..start]), parse_frame_text(&rest[start..])),
        None => (rest, None),
    }
}

/// `sched:sched_switch` rather than `cycles:uppp`: text after a colon that is not a
/// modifier list (the bytes version of [`super::header::looks_like_tracepoint`]).
fn is_tracepoint(event: &[u8]) -> bool {
    match memchr::memchr(b':', event) {
        Some(i) => {
            let mods = &event[i + 1..];
            mods.is_empty() || !mods.iter().all(|b| b"ukhIGHpPSDWebR".contains(b))
        }
        None => false,
    }
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
        let e = ev(":-1    -1/-1    1.5: cpu-clock:");
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

    fn read(line: &str) -> (EventLine<'_>, bool) {
        match read_event_line(line.as_bytes()) {
            EventRead::Sample { line, guessed, .. } => (line, guessed),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn comms_with_digits_spaces_and_slashes() {
        for (text, comm, pid, tid) in [
            (
                "FS Broker 5906  7564/7570  2574592.839818:          1 cycles:uppp: ",
                "FS Broker 5906",
                Some(7564),
                7570,
            ),
            (
                "worker 2/3    77/78    [001]  5.000001:     250000 cpu-clock: ",
                "worker 2/3",
                Some(77),
                78,
            ),
            (
                "     GC Thread 1    12 [000]     1.500000:         10 cpu-clock:",
                "GC Thread 1",
                None,
                12,
            ),
            (
                "kworker/0:1-events    12 [000]     1.500000: cpu-clock:",
                "kworker/0:1-events",
                None,
                12,
            ),
            (
                "a: b:    -1 [000]     1.500000: cpu-clock:",
                "a: b:",
                None,
                -1,
            ),
        ] {
            let (e, guessed) = read(text);
            assert_eq!(
                (e.comm, e.pid, e.tid),
                (comm.as_bytes(), pid, tid),
                "{text}"
            );
            assert!(!guessed, "{text}");
        }
    }

    #[test]
    fn fields_left_out_by_dash_f() {
        // -F comm,time,event,ip,sym: no pid, and a comm ending in a number.
        let (e, g) = read("     GC Thread 1     5.000001: cycles:  401b97 main+0x1f");
        assert_eq!(
            (e.comm, e.pid, e.tid, e.period),
            (&b"GC Thread 1"[..], None, -1, None)
        );
        assert_eq!(e.frame.unwrap().symbol, b"main");
        assert!(!g);
        // -F comm,tid,event,ip,sym,dso: no time, no period.
        let (e, g) = read("worker 2/3    78 cycles:       401b97 main+0x1f (/bin/x)");
        assert_eq!((e.comm, e.tid, e.time), (&b"worker 2/3"[..], 78, None));
        assert!(!g);
    }

    #[test]
    fn ambiguity_is_counted() {
        // Padding decides: a pid has at most `%7d`'s spaces before it.
        let (e, g) = read("FS Broker 5906  12345      10000 cycles:");
        assert_eq!(
            (e.comm, e.tid, e.period),
            (&b"FS Broker 5906"[..], 12345, Some(10000))
        );
        assert!(!g);
        let (e, g) = read("FS Broker 5906  12345 cycles:");
        assert_eq!(
            (e.comm, e.tid, e.period),
            (&b"FS Broker 5906"[..], 12345, None)
        );
        assert!(!g);
        // A pid without a comm, or a numeric comm without a pid.
        let (e, g) = read("00000     0.000000: cycles:");
        assert_eq!((e.comm, e.tid), (&b""[..], 0));
        assert!(g);
        // Hand-written (the time is not padded): padding says nothing, a pid is preferred.
        let (e, g) = read("x 1 1.0: 1 cpu-clock:");
        assert_eq!((e.comm, e.tid), (&b"x"[..], 1));
        assert!(!g);
    }

    #[test]
    fn simpleperf_tabs() {
        let (e, g) = read("Gecko\t25122 [007] 115539.936601:\t\t1000000 task-clock:u:");
        assert_eq!(
            (e.comm, e.tid, e.cpu, e.period),
            (&b"Gecko"[..], 25122, Some(7), Some(1000000))
        );
        assert_eq!(e.event, b"task-clock:u");
        assert!(!g);
    }

    #[test]
    fn pmu_events_and_flags() {
        let (e, _) = read("pf 1234/1234 [001] 5.000001:     100000 cpu_core/cycles/P: ");
        assert_eq!(e.event, b"cpu_core/cycles/P");
        let (e, _) = read("pf  1234 [001] 5.000001:     100000 cpu/event=0x3c,umask=0x0/u: ");
        assert_eq!(e.event, b"cpu/event=0x3c,umask=0x0/u");
    }

    #[test]
    fn pids_beyond_i32_are_not_comms() {
        assert_eq!(
            read_event_line(b"pf 99999999999 [000] 1.000000: cpu-clock:"),
            EventRead::PidOutOfRange
        );
    }

    #[test]
    fn sideband_records() {
        let EventRead::Sideband(s) = read_event_line(
            b"            pf    3327 [000]     0.000000: PERF_RECORD_COMM exec: pf:3327/3327",
        ) else {
            panic!()
        };
        assert_eq!(s.rename, Some((3327, &b"pf"[..])));
        let EventRead::Sideband(s) = read_event_line(
            b"worker 2/3  3327/3330 [000] 1.000000: PERF_RECORD_COMM: worker 2/3:3327/3330",
        ) else {
            panic!()
        };
        assert_eq!(s.rename, Some((3330, &b"worker 2/3"[..])));
        let EventRead::Sideband(s) = read_event_line(
            b"pf  3327 [000] 1.0: PERF_RECORD_MMAP2 3327/3327: [0x55d(0x1000) @ 0 08:01 12 0]: r-xp /bin/pf",
        ) else {
            panic!()
        };
        assert_eq!(s.kind, b"MMAP2");
        assert!(matches!(
            read_event_line(b"PERF_RECORD_FINISHED_ROUND"),
            EventRead::Sideband(_)
        ));
    }

    #[test]
    fn long_lines_take_linear_time() {
        let mut line = b"pf  3327 [000]  1.000000: sched:sched_switch: ".to_vec();
        for _ in 0..100_000 {
            line.extend_from_slice(b"ab1 (x) ");
        }
        line.extend_from_slice(b"ffffffff821f5340 f (d)");
        let t = std::time::Instant::now();
        let (e, _) = read(std::str::from_utf8(&line).unwrap());
        assert!(e.frame.unwrap().symbol == b"f");
        assert!(t.elapsed().as_secs_f64() < 1.0);
    }
}
