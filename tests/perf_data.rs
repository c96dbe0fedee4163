//! perf.data read directly against `perf script` of the same file, on fresh
//! recordings of fixtures/programs/perfdata.cpp (per process and system-wide).
//!
//! Run under the machine-wide lock: `flock /tmp/faultline-live.lock cargo test --test perf_data`.
//! Skipped, with the reason printed, without root, perf or g++.
//!
//! Samples are matched one to one by (event, tid, time in µs, as perf script prints
//! it) and their folded lines compared. At least 99.5% of the weight must fold the
//! same, and every difference must be one this file explains (see [`explain`]).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use faultline::fold::collapse::{FoldOptions, StackNamer};
use faultline::ingest::perf_data;
use faultline::ingest::profile::{BuildOptions, Profile};

fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["perf", "g++"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// A scratch directory this test creates and removes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("faultline-pd-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // FAULTLINE_KEEP=1 keeps the recordings for a look at a failure.
        if std::env::var_os("FAULTLINE_KEEP").is_some_and(|v| v == "1") {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build_program(dir: &Path) -> PathBuf {
    let exe = dir.join("pd");
    let src = common::fixture("programs/perfdata.cpp");
    let st = Command::new("g++")
        .args(["-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "g++ failed");
    exe
}

/// Records the program, returning the perf.data path and its `perf script --header` text.
fn record(dir: &Path, exe: &Path, system_wide: bool) -> (PathBuf, Vec<u8>) {
    let data = dir.join(if system_wide { "sw.data" } else { "pp.data" });
    let mut cmd = Command::new("perf");
    cmd.args(["record", "-q", "-k", "mono", "-g", "-F", "999"]);
    cmd.args(["-e", "cpu-clock", "-e", "sched:sched_process_exit"]);
    cmd.args(["-e", "page-faults/period=1/"]);
    if system_wide {
        cmd.arg("-a");
    }
    cmd.arg("-o")
        .arg(&data)
        .arg("--")
        .arg(exe)
        .args(["300", "16"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "perf record: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = Command::new("perf")
        .args(["script", "--header", "-i"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(text.status.success(), "perf script failed");
    (data, text.stdout)
}

/// Folded line and weight per sample, keyed by (event, tid, µs, nth such sample).
type PerSample = BTreeMap<(String, i32, u64, u32), (String, u64)>;

fn per_sample(profile: &Profile) -> PerSample {
    let opts = FoldOptions::default();
    let mut namer = StackNamer::new(profile, &opts);
    let mut out = PerSample::new();
    for r in &profile.samples {
        let t = &profile.threads[r.thread.0 as usize];
        let event = profile.events[r.event.0 as usize].name.clone();
        let us = r.time.0 / 1000;
        let line = String::from_utf8_lossy(&namer.line(r.thread, r.stack)).into_owned();
        let mut n = 0;
        while out.contains_key(&(event.clone(), t.tid, us, n)) {
            n += 1;
        }
        out.insert((event, t.tid, us, n), (line, r.weight));
    }
    out
}

/// Files that were rebuilt since the recording (another build on the machine, in a
/// system-wide recording): recorded build id differs from the file's. Named as the
/// folded output names unresolved frames, `[file name]`.
fn changed_files(data: &Path) -> Vec<String> {
    let out = Command::new("perf")
        .args(["buildid-list", "-i"])
        .arg(data)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, path) = l.split_once(' ')?;
            let bytes = std::fs::read(path).ok()?;
            let now = perf_data::symbols::elf_build_id(&bytes)?;
            let name = Path::new(path).file_name()?.to_string_lossy().into_owned();
            (perf_data::symbols::hex(&now) != id).then(|| format!("[{name}]"))
        })
        .collect()
}

/// Why a sample's folded line may differ between the two paths, or `None` when
/// nothing explains it.
fn explain(text: &str, data: &str, changed: &[String]) -> Option<&'static str> {
    let (t, d): (Vec<&str>, Vec<&str>) = (text.split(';').collect(), data.split(';').collect());
    if t.len() == d.len()
        && t.iter()
            .zip(&d)
            .all(|(a, b)| a == b || changed.iter().any(|c| a == c || b == c))
    {
        return Some(
            "the frame is in a file rebuilt since the recording: perf script read the file \
             as it is now, the reader perf's build-id cache copy of the recorded one",
        );
    }
    None
}

/// Whether a folded line is a sample of the test program (its comms are `pd`,
/// `pd alloc` and `pd-spin`; folded lines spell spaces as underscores).
fn is_ours(line: &str) -> bool {
    matches!(line.split(';').next(), Some("pd" | "pd_alloc" | "pd-spin"))
}

/// Compares the two paths on one recording and returns the share of weight that
/// folds the same.
fn compare(name: &str, data: &Path, text: &[u8]) -> f64 {
    let opts = BuildOptions {
        keep_samples: true,
        threads: 1,
        ..BuildOptions::default()
    };
    let from_text = Profile::build(text, opts, &|_| {});
    let bytes = std::fs::read(data).unwrap();
    let loaded = perf_data::load(&bytes, data, opts).unwrap();
    for w in &loaded.warnings {
        eprintln!("{name}: reader warning: {w}");
    }
    let from_data = loaded.profile;
    assert_eq!(
        from_text.samples.len(),
        from_data.samples.len(),
        "{name}: sample counts differ"
    );
    assert_eq!(from_text.header.events.len(), from_data.header.events.len());
    assert_eq!(from_text.header.cmdline, from_data.header.cmdline);
    assert_eq!(from_text.header.os_release, from_data.header.os_release);
    assert_eq!(from_text.header.clockid, from_data.header.clockid);
    for (a, b) in from_text.header.events.iter().zip(&from_data.header.events) {
        assert_eq!(a, b, "{name}: header events differ");
    }
    let (a, b) = (per_sample(&from_text), per_sample(&from_data));
    let changed = changed_files(data);
    let total: u64 = a.values().map(|(_, w)| w).sum();
    let mut same = 0u64;
    let mut unexplained = Vec::new();
    let mut others = Vec::new();
    for (key, (line, w)) in &a {
        match b.get(key) {
            Some((l, w2)) if l == line && w == w2 => same += w,
            Some((l, _)) => match explain(line, l, &changed) {
                Some(why) => eprintln!(
                    "{name}: explained difference ({why}):\n  perf script: {line}\n  perf.data:   {l}"
                ),
                // Another process on this shared machine (a system-wide recording
                // catches other builds): its binaries may be rebuilt or have aliases
                // (identical code folded under several names) that perf breaks ties
                // between differently. Listed, and counted against the 99.5%.
                None if !is_ours(line) => others.push(format!(
                    "{key:?}\n  perf script: {line}\n  perf.data:   {l}"
                )),
                None => unexplained.push(format!(
                    "{key:?}\n  perf script: {line}\n  perf.data:   {l}"
                )),
            },
            None => unexplained.push(format!("{key:?} only in perf script: {line}")),
        }
    }
    for d in others.iter().take(20) {
        eprintln!(
            "{name}: differs in another process's sample:\n{}",
            d.chars().take(800).collect::<String>()
        );
    }
    let shown: Vec<String> = unexplained
        .iter()
        .take(20)
        .map(|d| d.chars().take(1500).collect())
        .collect();
    assert!(
        unexplained.is_empty(),
        "{name}: {} unexplained differences (first 20):\n{}",
        unexplained.len(),
        shown.join("\n")
    );
    // The tracepoint payloads are the same text.
    let payloads =
        |p: &Profile| -> Vec<String> { p.markers.iter().map(|m| m.payload.clone()).collect() };
    assert_eq!(
        payloads(&from_text),
        payloads(&from_data),
        "{name}: payloads"
    );
    same as f64 / total.max(1) as f64
}

#[test]
fn perf_data_folds_like_perf_script() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let scratch = Scratch::new("fold");
    let exe = build_program(&scratch.0);
    for system_wide in [false, true] {
        let name = if system_wide {
            "system-wide"
        } else {
            "per-process"
        };
        let (data, text) = record(&scratch.0, &exe, system_wide);
        let share = compare(name, &data, &text);
        eprintln!("{name}: {:.4}% of the weight folds the same", share * 100.0);
        assert!(
            share >= 0.995,
            "{name}: only {share:.4} of the weight folds the same"
        );
    }
}

// The rest needs no perf: fixtures/perf-data/pd.data is a small recording of the same
// program (fixtures/README.md, "perf.data", has the exact commands).

fn fixture() -> (Vec<u8>, PathBuf) {
    let path = common::fixture("perf-data/pd.data");
    (std::fs::read(&path).unwrap(), path)
}

fn keep() -> BuildOptions {
    BuildOptions {
        keep_samples: true,
        threads: 1,
        ..BuildOptions::default()
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn fixture_has_samples_threads_payloads_and_header() {
    let (bytes, path) = fixture();
    let loaded = perf_data::load(&bytes, &path, keep()).unwrap();
    let p = &loaded.profile;
    let cpu = p.event_id("cpu-clock").expect("cpu-clock");
    let exit = p.event_id("sched:sched_process_exit").expect("exit");
    assert_eq!(p.events[cpu.0 as usize].samples, 30);
    assert_eq!(p.events[exit.0 as usize].samples, 3);
    // Every cpu-clock sample weighs its period, 1/499 s in ns, give or take.
    assert!(
        p.samples
            .iter()
            .filter(|r| r.event == cpu)
            .all(|r| (1_000_000..4_100_000).contains(&r.weight))
    );
    // Payloads decoded with the file's tracepoint format, one per thread exit, with
    // the comms the threads gave themselves.
    let mut payloads: Vec<&str> = p.markers.iter().map(|m| m.payload.as_str()).collect();
    payloads.sort();
    assert_eq!(payloads.len(), 3);
    assert!(
        payloads[0].starts_with("comm=pd alloc pid="),
        "{payloads:?}"
    );
    assert!(payloads[1].starts_with("comm=pd pid="), "{payloads:?}");
    assert!(payloads[2].starts_with("comm=pd-spin pid="), "{payloads:?}");
    let comms: Vec<String> = p
        .threads
        .iter()
        .map(|t| String::from_utf8_lossy(&t.comm).into_owned())
        .collect();
    assert!(comms.iter().any(|c| c == "pd-spin"), "{comms:?}");
    // Header facts, as `perf script --header` prints them.
    let h = &p.header;
    assert!(h.cmdline.as_deref().unwrap().contains("perf record"));
    assert_eq!(h.clockid.as_deref(), Some("monotonic (1)"));
    assert_eq!(
        h.perf_version.as_deref().map(|v| v.starts_with('6')),
        Some(true)
    );
    assert!(h.nrcpus_online.is_some());
    let ev = h.event("cpu-clock").unwrap();
    assert_eq!((ev.sample_freq, ev.config), (Some(499), None));
    assert!(ev.clock().is_hrtimer());
    assert!(
        h.pmu_mappings
            .iter()
            .any(|(n, t)| n == "tracepoint" && *t == 2)
    );
    // Kernel frames, by the recording's own kallsyms or perf's cache of it.
    let kernel = (0..p.interner.frame_count() as u32)
        .map(|i| p.interner.frame_name(faultline::ingest::intern::FrameId(i)))
        .any(|(name, _)| name == b"do_exit");
    assert!(kernel || loaded.warnings.iter().any(|w| w.contains("kernel frames")));
}

#[test]
fn truncated_files_give_partial_results_never_a_panic() {
    let (bytes, path) = fixture();
    let full = perf_data::load(&bytes, &path, keep())
        .unwrap()
        .stats
        .samples;
    let data_end = (u64_at(&bytes, 40) + u64_at(&bytes, 48)) as usize;
    let mut partial = 0;
    for cut in (0..bytes.len())
        .step_by(397)
        .chain([data_end - 1, data_end + 3])
    {
        match perf_data::load(&bytes[..cut], &path, keep()) {
            Ok(l) => {
                assert!(l.stats.samples <= full);
                if l.stats.samples < full {
                    partial += 1;
                    assert!(
                        l.warnings
                            .iter()
                            .any(|w| w.contains("shorter than its header")
                                || w.contains("stopped reading")),
                        "cut at {cut}: {:?}",
                        l.warnings
                    );
                }
            }
            Err(e) => assert!(e.to_string().contains("pd.data"), "cut at {cut}: {e}"),
        }
    }
    assert!(partial > 0, "no cut gave a partial result");
}

#[test]
fn a_killed_recording_is_read_as_far_as_it_goes() {
    let (mut bytes, path) = fixture();
    let (offset, size) = (u64_at(&bytes, 40) as usize, u64_at(&bytes, 48) as usize);
    // What perf leaves when killed: data size 0 in the header, no feature sections.
    bytes.truncate(offset + size * 2 / 3);
    bytes[48..56].fill(0);
    let l = perf_data::load(&bytes, &path, keep()).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.stats.samples > 0 && l.stats.samples < 33, "{:?}", l.stats);
    assert!(
        l.warnings.iter().any(|w| w.contains("not finished")),
        "{:?}",
        l.warnings
    );
    // Without the event names section, events are named from their attributes.
    assert!(l.profile.event_id("cpu-clock").is_some());
}

#[test]
fn unknown_record_types_are_counted_and_skipped() {
    let (mut bytes, path) = fixture();
    let offset = u64_at(&bytes, 40) as usize;
    // The first record is perf's own (an id index); give it a type nobody knows.
    bytes[offset..offset + 4].copy_from_slice(&99u32.to_le_bytes());
    let l = perf_data::load(&bytes, &path, keep()).unwrap();
    assert!(l.stats.unknown_records >= 1, "{:?}", l.stats);
    assert!(l.warnings.iter().any(|w| w.contains("does not know")));
    assert_eq!(l.stats.samples, 33);
}

#[test]
fn collapse_and_flamegraph_take_perf_data() {
    let (_, path) = fixture();
    let out = common::faultline(&["collapse", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let total: u64 = text
        .lines()
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum();
    assert!(total > 30 * 1_000_000, "{text}");
    assert!(text.lines().all(|l| l.starts_with("pd")), "{text}");
    let svg = std::env::temp_dir().join(format!("faultline-pd-{}.svg", std::process::id()));
    let out = common::faultline(&[
        "flamegraph",
        path.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_file(&svg);
    assert!(body.contains("<svg") && body.contains("cpu-clock"));
}
