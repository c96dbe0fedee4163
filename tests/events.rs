//! Mixed events in one real recording (cpu-clock with callchains, a tracepoint without
//! callchains whose payload and ip share the event line, tracepoints with payload and
//! callchain): every sample is counted under its own event with its whole stack.
//! inferno merges these events and turns payload words into frames.

mod common;

use std::collections::BTreeMap;

use faultline::fold::collapse::{self, FoldOptions};
use faultline::ingest::input::Input;
use faultline::ingest::profile::{BuildOptions, Profile};

/// An independent reading of the text: per event name, (samples, callchain lines).
fn count_by_hand(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            current = None;
        } else if line.starts_with('\t') {
            let name = current
                .as_ref()
                .expect("callchain line after an event line");
            out.get_mut(name).unwrap().1 += 1;
        } else {
            // `comm pid [cpu] time: [period] event: [payload]`: the event is the first
            // word ending in ':' after the timestamp.
            let after_time = line.split_once(": ").map(|x| x.1).unwrap_or_else(|| {
                panic!("no timestamp in {line:?}");
            });
            let event = after_time
                .split_whitespace()
                .find(|w| w.ends_with(':'))
                .unwrap()
                .trim_end_matches(':')
                .to_string();
            out.entry(event.clone()).or_default().0 += 1;
            current = Some(event);
        }
    }
    out
}

fn check_complete(file: &str) {
    let path = common::fixture(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let expected = count_by_hand(&text);
    assert!(
        expected.len() >= 3,
        "{file} should mix at least three events"
    );
    let input = Input::open(Some(&path)).unwrap();
    let profile = Profile::build(input.bytes(), BuildOptions::default(), &|_| {});
    assert_eq!(
        profile.diagnostics.total_skipped(),
        0,
        "{file}: nothing skipped"
    );
    for (event, &(samples, chain_lines)) in &expected {
        let stats = profile
            .events
            .iter()
            .find(|e| &e.name == event)
            .unwrap_or_else(|| panic!("{file}: event {event} missing"));
        assert_eq!(stats.samples, samples, "{file}: {event} samples");
        let opts = FoldOptions {
            count_samples: true,
            event: Some(event.clone()),
            ..FoldOptions::default()
        };
        let ids = collapse::select_events(&profile, Some(event)).unwrap();
        let folded = collapse::fold(&profile, &ids, &opts);
        assert_eq!(folded.samples, samples, "{file}: {event} folded samples");
        assert_eq!(folded.empty_samples, 0, "{file}: {event} has empty stacks");
        // Every callchain line is a frame of its sample's stack (the comm adds one more);
        // samples without callchain lines carry exactly their same-line frame.
        let frames: u64 = folded
            .stacks
            .iter()
            .map(|(s, n)| (s.iter().filter(|&&b| b == b';').count() as u64) * n)
            .sum();
        let same_line = expected_same_line(&text, event);
        assert_eq!(frames, chain_lines + same_line, "{file}: {event} frames");
    }
}

/// Samples of `event` whose ip and symbol are on the event line.
fn expected_same_line(text: &str, event: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('\t'))
        .filter(|l| l.contains(&format!(" {event}: ")) && l.trim_end().ends_with(')'))
        .count() as u64
}

#[test]
fn mixed_events_per_process_are_complete() {
    check_complete("mixed-events.perf.txt");
}

#[test]
fn mixed_events_every_fault_is_complete() {
    check_complete("mixed-events-period1.perf.txt");
}

#[test]
fn mixed_events_system_wide_are_complete() {
    check_complete("system-wide.perf.txt");
}

#[test]
fn page_fault_payload_never_becomes_a_frame() {
    let input = Input::open(Some(&common::fixture("mixed-events-period1.perf.txt"))).unwrap();
    let profile = Profile::build(input.bytes(), BuildOptions::default(), &|_| {});
    let ids = collapse::select_events(&profile, Some("exceptions:page_fault_user")).unwrap();
    let folded = collapse::fold(&profile, &ids, &FoldOptions::default());
    // 2 passes × 2048 pages fault in main, plus the loader's and libc's faults.
    assert_eq!(folded.samples, 4150);
    for (stack, _) in &folded.stacks {
        let stack = String::from_utf8_lossy(stack);
        assert!(stack.ends_with(";exc_page_fault"), "{stack}");
        assert!(!stack.contains('='), "payload leaked into {stack}");
    }
}

#[test]
fn default_event_skips_tracepoints_that_come_first() {
    let input = Input::open(Some(&common::fixture("mixed-events.perf.txt"))).unwrap();
    let profile = Profile::build(input.bytes(), BuildOptions::default(), &|_| {});
    // The first sample in the file is a page-fault tracepoint.
    assert_eq!(profile.events[0].name, "exceptions:page_fault_user");
    let ids = collapse::select_events(&profile, None).unwrap();
    assert_eq!(profile.events[ids[0].0 as usize].name, "cpu-clock");
    assert_eq!(ids.len(), 1);
}

#[test]
fn header_is_exposed() {
    let input = Input::open(Some(&common::fixture("mixed-events.perf.txt"))).unwrap();
    let profile = Profile::build(input.bytes(), BuildOptions::default(), &|_| {});
    let h = &profile.header;
    assert_eq!(h.perf_version.as_deref(), Some("6.1.187"));
    assert_eq!(h.events.len(), 4);
    assert_eq!(
        h.event("cpu-clock").unwrap().clock(),
        faultline::ingest::clock::SampleClock::Hrtimer(faultline::ingest::clock::Timer::CpuClock)
    );
    assert_eq!(h.event("cpu-clock").unwrap().sample_freq, Some(999));
    assert_eq!(h.lacks_cpu_pmu(), Some(true));
    assert!(h.cmdline.as_deref().unwrap().contains("-e oom:mark_victim"));
}

#[test]
fn kept_samples_are_in_input_order_whatever_the_thread_count() {
    let input = Input::open(Some(&common::fixture("system-wide.perf.txt"))).unwrap();
    let describe = |threads| {
        let opts = BuildOptions {
            threads,
            keep_samples: true,
            ..BuildOptions::default()
        };
        let p = Profile::build(input.bytes(), opts, &|_| {});
        let samples: Vec<_> = p
            .samples
            .iter()
            .map(|r| {
                let frames: Vec<_> = p
                    .interner
                    .frames_of(r.stack)
                    .into_iter()
                    .map(|f| p.interner.frame_name(f).0.to_vec())
                    .collect();
                (
                    r.line,
                    r.time,
                    p.events[r.event.0 as usize].name.clone(),
                    p.threads[r.thread.0 as usize].tid,
                    r.cpu,
                    frames,
                    p.leaf(r.leaf).map(|(s, o)| (s.to_vec(), o)),
                    r.weight,
                )
            })
            .collect();
        let markers: Vec<_> = p
            .markers
            .iter()
            .map(|m| (p.samples.get(m.sample).unwrap().line, m.payload.clone()))
            .collect();
        (samples, markers)
    };
    let (one, one_markers) = describe(1);
    assert_eq!(one.len(), 629);
    assert!(one.windows(2).all(|w| w[0].0 < w[1].0), "input order");
    // Every tracepoint sample with a payload is a marker: 200 faults + 24 exits.
    assert_eq!(one_markers.len(), 224);
    assert!(
        one_markers[0].1.starts_with("address="),
        "{:?}",
        one_markers[0]
    );
    for threads in [2, 3, 5] {
        assert!(
            describe(threads) == (one.clone(), one_markers.clone()),
            "{threads} threads"
        );
    }
    let exc = one
        .iter()
        .find(|s| s.2 == "exceptions:page_fault_user")
        .unwrap();
    assert_eq!(exc.6, Some((b"exc_page_fault".to_vec(), 0x2f0)));
}
