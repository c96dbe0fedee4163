//! Random samples rendered the way perf prints them (`perf_sample__fprintf_start`,
//! `process_event` and `sample__fprintf_callchain` in tools/perf/builtin-script.c, with their
//! widths and paddings), in every field combination, then parsed back: the same samples,
//! comms, pids, events, times, periods and frames must come out, with no guesses.

use faultline::ingest::script::{self, Diagnostics, Header};
use proptest::prelude::*;

/// Which fields a rendering prints (one `-F` set, plus perf's version-dependent widths).
#[derive(Debug, Clone, Copy)]
struct Fields {
    /// 0: tid alone (the default), 1: pid/tid, 2: pid alone, 3: neither.
    ids: u8,
    cpu: bool,
    /// 0: no time, 1: µs, 2: ns (`--ns`).
    time: u8,
    period: bool,
    dso: bool,
    symoff: bool,
    callchain: bool,
    /// 5 before perf 6.5, 7 since.
    pid_width: usize,
    /// Android simpleperf's tab-separated text.
    simpleperf: bool,
}

#[derive(Debug, Clone)]
struct Frame {
    addr: u64,
    symbol: String,
    offset: u32,
    dso: String,
}

#[derive(Debug, Clone)]
struct Sample {
    comm: String,
    pid: i32,
    tid: i32,
    cpu: u32,
    time_ns: u64,
    period: u64,
    event: String,
    payload: String,
    frames: Vec<Frame>,
}

const EVENTS: &[&str] = &[
    "cycles",
    "cycles:u",
    "cycles:uppp",
    "cpu-clock",
    "task-clock:ppp",
    "cpu_core/cycles/P",
    "cpu/event=0x3c,umask=0x0/u",
    "r003c",
    "sched:sched_switch",
    "exceptions:page_fault_user",
];

const SYMBOLS: &[&str] = &[
    "(anonymous namespace)::Foo::bar(int, char const*)",
    "std::vector<int, std::allocator<int> >::push_back(int const&)",
    "std::function<void ()>::operator()() const",
    "operator new(unsigned long)",
    "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop",
    "core::ptr::drop_in_place<std::io::error::Error>",
    "_ZN4core3fmt5write17h0123456789abcdefE",
    "Ljava/lang/Thread;::run",
    "java.util.HashMap.get",
    "Interpreter",
    "entry_SYSCALL_64_after_hwframe",
    "asm_exc_page_fault",
    "[unknown]",
    "main",
];

const DSOS: &[&str] = &[
    "[kernel.kallsyms]",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/tmp/perf-4242.map",
    "[unknown]",
    "/opt/app/bin/server (deleted)",
    "[heap]",
];

fn is_tracepoint(event: &str) -> bool {
    event.starts_with("sched:") || event.starts_with("exceptions:")
}

/// A comm as the kernel keeps it: at most 15 bytes, from a wide alphabet, without
/// leading or trailing spaces, and without a word shaped like a time (`1.5:`), which the
/// parser's rules reserve.
fn comm() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 /:._-]{1,15}"
        // Runs of spaces are left out: `a   000` then a time reads as comm `a`, pid 0.
        .prop_map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .prop_filter("non-empty, no time-shaped word", |s| {
            !s.is_empty()
                && !s.split(" ").any(|w| {
                    (w.starts_with("[") && w.ends_with("]")) || {
                        w.strip_suffix(':').is_some_and(|w| {
                            w.split_once('.').is_some_and(|(a, b)| {
                                !a.is_empty()
                                    && !b.is_empty()
                                    && a.bytes().all(|c| c.is_ascii_digit())
                                    && b.bytes().all(|c| c.is_ascii_digit())
                            })
                        })
                    }
                })
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        prop_oneof![
            0x1000u64..0x7fff_ffff_ffff,
            0xffff_ffff_8000_0000u64..u64::MAX
        ],
        0..SYMBOLS.len(),
        0u32..0x4000,
        0..DSOS.len(),
    )
        .prop_map(|(addr, s, offset, d)| Frame {
            addr,
            symbol: SYMBOLS[s].to_string(),
            offset,
            dso: DSOS[d].to_string(),
        })
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        comm(),
        (-1i32..4_194_304, -1i32..4_194_304),
        0u32..512,
        0u64..10_000_000_000_000,
        1u64..100_000_000_000,
        0..EVENTS.len(),
        proptest::collection::vec(frame(), 1..6),
    )
        .prop_map(|(comm, (pid, tid), cpu, time_ns, period, e, frames)| {
            let event = EVENTS[e].to_string();
            let payload = if is_tracepoint(&event) {
                format!("prev_comm={comm} prev_pid={tid} prev_prio=120 prev_state=S")
            } else {
                String::new()
            };
            Sample {
                comm,
                pid,
                tid,
                cpu,
                time_ns,
                period,
                event,
                payload,
                frames,
            }
        })
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        0u8..4,
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(5usize), Just(7usize)],
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(ids, cpu, time, period, dso, symoff, callchain, pid_width, simpleperf)| Fields {
                // Without a pid or tid, perf's line needs a cpu or time to be read.
                // simpleperf prints one layout: `comm<TAB>tid [cpu] time:<TAB><TAB>period event:`.
                time: if simpleperf || (ids == 3 && !cpu && time == 0) {
                    1
                } else {
                    time
                },
                ids: if simpleperf { 0 } else { ids },
                cpu: cpu || simpleperf,
                period: period || simpleperf,
                dso,
                symoff,
                callchain,
                pid_width,
                simpleperf,
            },
        )
}

/// One frame as `sample__fprintf_sym` prints it, after the address.
fn frame_text(f: &Frame, fl: &Fields) -> String {
    let mut s = f.symbol.clone();
    if fl.symoff {
        s.push_str(&format!("+0x{:x}", f.offset));
    }
    if fl.dso {
        s.push_str(&format!(" ({})", f.dso));
    }
    s
}

/// The event line's fields up to and including the event name.
fn start(s: &Sample, fl: &Fields, name_width: usize) -> String {
    let w = fl.pid_width;
    let mut out = if fl.simpleperf {
        format!("{}\t", s.comm)
    } else if fl.callchain {
        format!("{} ", s.comm)
    } else {
        format!("{:>16} ", s.comm)
    };
    match fl.ids {
        0 => out.push_str(&format!("{:>w$} ", s.tid)),
        1 => out.push_str(&format!("{:>w$}/{:<w$} ", s.pid, s.tid)),
        2 => out.push_str(&format!("{:>w$} ", s.pid)),
        _ => {}
    }
    if fl.cpu {
        out.push_str(&format!("[{:03}] ", s.cpu));
    }
    let (secs, ns) = (s.time_ns / 1_000_000_000, s.time_ns % 1_000_000_000);
    match fl.time {
        1 => out.push_str(&format!("{:>12}: ", format!("{secs}.{:06}", ns / 1000))),
        2 => out.push_str(&format!("{secs:>5}.{ns:09}: ")),
        _ => {}
    }
    let sep = if fl.simpleperf { "\t\t" } else { "" };
    if fl.period && !is_tracepoint(&s.event) {
        out.push_str(&format!("{sep}{:>10} ", s.period));
    }
    out.push_str(&format!("{:>name_width$}: ", s.event));
    out
}

fn render(samples: &[Sample], fl: &Fields) -> String {
    let name_width = samples.iter().map(|s| s.event.len()).max().unwrap_or(0);
    let mut out = String::new();
    for s in samples {
        out.push_str(&start(s, fl, name_width));
        out.push_str(&s.payload);
        if fl.callchain {
            out.push('\n');
            for f in &s.frames {
                if fl.simpleperf {
                    out.push_str(&format!("        {:x}\t{}\n", f.addr, frame_text(f, fl)));
                } else {
                    out.push_str(&format!("\t{:>16x} {}\n", f.addr, frame_text(f, fl)));
                }
            }
            out.push('\n');
        } else {
            let f = &s.frames[0];
            out.push_str(&format!(" {:>16x} {}\n", f.addr, frame_text(f, fl)));
        }
    }
    out
}

/// What the parser must give back for a sample, in the parser's own terms.
fn expected(s: &Sample, fl: &Fields) -> String {
    let (pid, tid) = match fl.ids {
        0 => (None, s.tid),
        1 => (Some(s.pid), s.tid),
        2 => (None, s.pid),
        _ => (None, -1),
    };
    let time = match fl.time {
        1 => Some(s.time_ns / 1000 * 1000),
        2 => Some(s.time_ns),
        _ => None,
    };
    let period = (fl.period && !is_tracepoint(&s.event)).then_some(s.period);
    let frames: Vec<_> = if fl.callchain {
        &s.frames[..]
    } else {
        &s.frames[..1]
    }
    .iter()
    .map(|f| {
        let offset = if fl.symoff {
            format!("{:x}", f.offset)
        } else {
            String::new()
        };
        let dso = if fl.dso { f.dso.as_str() } else { "" };
        format!("{:x}|{}|{offset}|{dso}", f.addr, f.symbol)
    })
    .collect();
    format!(
        "{:?} {pid:?} {tid} {:?} {time:?} {period:?} {:?} {:?} {frames:?}",
        s.comm,
        fl.cpu.then_some(s.cpu),
        s.event,
        s.payload,
    )
}

fn parsed(text: &str) -> (Vec<String>, Diagnostics) {
    let mut out = Vec::new();
    let mut diag = Diagnostics::default();
    script::parse(text.as_bytes(), &mut Header::default(), &mut diag, |s| {
        let h = &s.head;
        let frames: Vec<_> = s
            .frames
            .iter()
            .map(|f| {
                let addr = u64::from_str_radix(&String::from_utf8_lossy(f.addr), 16).unwrap_or(0);
                format!(
                    "{addr:x}|{}|{}|{}",
                    String::from_utf8_lossy(f.symbol),
                    String::from_utf8_lossy(f.offset),
                    String::from_utf8_lossy(f.dso)
                )
            })
            .collect();
        out.push(format!(
            "{:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {frames:?}",
            String::from_utf8_lossy(h.comm),
            h.pid,
            h.tid,
            h.cpu,
            h.time.map(|t| t.0),
            h.period,
            String::from_utf8_lossy(h.event),
            String::from_utf8_lossy(h.payload),
        ));
    });
    (out, diag)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn perf_printed_samples_parse_back(
        samples in proptest::collection::vec(sample(), 1..8),
        fl in fields(),
    ) {
        // `-F comm,time` with a numeric comm prints what `-F pid,time` prints: truly
        // ambiguous, read as a pid and counted as a guess (unit tests cover that).
        let mut samples = samples;
        if fl.ids == 3 {
            for s in &mut samples {
                let c: String = format!("t{}", s.comm).chars().take(15).collect();
                s.comm = c.trim_end().to_string();
            }
        }
        let text = render(&samples, &fl);
        let (got, diag) = parsed(&text);
        let want: Vec<String> = samples.iter().map(|s| expected(s, &fl)).collect();
        prop_assert_eq!(&got, &want, "text:\n{}", text);
        prop_assert_eq!(diag.total_skipped(), 0, "{:?}\n{}", diag, text);
        prop_assert_eq!(diag.guessed, 0, "{:?}\n{}", diag, text);
    }
}

/// A one-megabyte line (a tracepoint payload with a frame at its end, as perf prints for
/// events without callchains) parses in well under a second, and so does a file of CR
/// line ends. The bound is generous: this guards against quadratic time, not speed.
#[test]
fn a_megabyte_line_parses_quickly() {
    let mut line = String::from("  pf  3327 [000]    84.071353: exceptions:page_fault_user: ");
    while line.len() < 1 << 20 {
        line.push_str("address=0x7fcf87765e06 ip=0x7fcf8774d7ad (x) ");
    }
    line.push_str("ffffffff821f5340 exc_page_fault+0x2f0 ([kernel.kallsyms])\n");
    let t = std::time::Instant::now();
    let (got, diag) = parsed(&line);
    assert!(t.elapsed().as_secs_f64() < 1.0, "{:?}", t.elapsed());
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("exc_page_fault|2f0|[kernel.kallsyms]"));
    assert_eq!(diag.total_skipped(), 0);

    let sample = "pf  3327 [000]    84.072112:    1001001 cpu-clock: \r\t ffffffff8157bab0 f+0x160 ([kernel.kallsyms])\r\r";
    let text = sample.repeat((1 << 20) / sample.len());
    let t = std::time::Instant::now();
    let (got, diag) = parsed(&text);
    assert!(t.elapsed().as_secs_f64() < 1.0, "{:?}", t.elapsed());
    assert_eq!(got.len(), (1 << 20) / sample.len());
    assert_eq!(diag.total_skipped(), 0);
    // CRLF too.
    let (got, diag) = parsed(&text.replace('\r', "\r\n"));
    assert_eq!(got.len(), (1 << 20) / sample.len());
    assert_eq!(diag.total_skipped(), 0);
}
