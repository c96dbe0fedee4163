//! The perf-script variants corpus (`../shared/corpus/perf-script-variants`): real
//! `perf script` text published by other projects, each with counts from an independent
//! reference reader. For every file and event, faultline's samples and weights must equal
//! the reference, comms must be read whole, and every frame line perf printed must end up
//! in a sample.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline::fold::collapse::{self, FoldOptions};
use faultline::ingest::profile::{BuildOptions, Profile};
use faultline::ingest::script::{self, Diagnostics, Header};

fn variants_dir() -> Option<PathBuf> {
    let dir = common::root().join("../shared/corpus/perf-script-variants");
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: {} not found", dir.display());
        None
    }
}

/// What the reference reader reports for one file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    samples: BTreeMap<String, u64>,
    period_sum: BTreeMap<String, u64>,
    framed_period_sum: BTreeMap<String, u64>,
    comms: BTreeMap<String, u64>,
}

fn expected(path: &Path) -> Counts {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let map = |k: &str| -> BTreeMap<String, u64> {
        v[k].as_object()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect()
    };
    Counts {
        samples: map("samples"),
        period_sum: map("period_sum"),
        framed_period_sum: map("framed_period_sum"),
        comms: map("comms"),
    }
}

/// faultline's counts, straight from the parser, and the number of frames it kept.
fn actual(data: &[u8]) -> (Counts, u64, Diagnostics) {
    let mut c = Counts::default();
    let mut frames = 0u64;
    let mut diag = Diagnostics::default();
    script::parse(data, &mut Header::default(), &mut diag, |s| {
        let ev = String::from_utf8_lossy(s.head.event).into_owned();
        let period = s.head.period.unwrap_or(1);
        *c.samples.entry(ev.clone()).or_default() += 1;
        *c.period_sum.entry(ev.clone()).or_default() += period;
        if !s.frames.is_empty() {
            *c.framed_period_sum.entry(ev).or_default() += period;
        }
        *c.comms
            .entry(String::from_utf8_lossy(s.head.comm).into_owned())
            .or_default() += 1;
        // Callchain frames only: a frame printed on the event line is in the framed sums.
        frames += s.frames.len() as u64 - u64::from(s.head.frame.is_some());
    });
    (c, frames, diag)
}

/// Frames perf printed, counted without the parser: tab-indented lines, and indented
/// lines whose first word is a hex address (simpleperf indents with spaces). `-F +srcline`
/// source lines are indented with two spaces and start with a path, `??` or `dso[addr]`.
/// (Events recorded without callchains, whose frame is on the event line, have no frame
/// lines; the reference's framed sums check those.)
fn printed_frames(data: &[u8]) -> u64 {
    data.split(|&b| b == b'\n')
        .filter(|l| {
            let first = l
                .trim_ascii_start()
                .split(|&b| b == b' ' || b == b'\t')
                .next();
            l.first() == Some(&b'\t')
                || l.first() == Some(&b' ')
                    && first.is_some_and(|w| !w.is_empty() && w.iter().all(u8::is_ascii_hexdigit))
        })
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count() as u64
}

#[test]
fn every_variant_matches_the_reference() {
    let Some(dir) = variants_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("inputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 13, "the corpus has 13 files");
    let failures = check_files(&files, &dir.join("expected"), |p| {
        p.file_stem().unwrap().to_string_lossy().into_owned()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// This machine's recordings (`fixtures/variants/`, commands in `fixtures/README.md`): a
/// C++ program with `(anonymous namespace)` frames and threads named `FS Broker 5906`,
/// `worker 2/3` and `GC Thread 1`, printed with many field sets; `expected/` comes from
/// the independent oracle in `tests/common/oracle.rs`.
#[test]
fn every_recording_matches_its_oracle() {
    let dir = common::root().join("fixtures/variants");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".perf.txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "{} recordings", files.len());
    let failures = check_files(&files, &dir.join("expected"), |p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.trim_end_matches(".perf.txt").to_string()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Checks each file against `expected/NAME.json`; returns what differs.
fn check_files(
    files: &[PathBuf],
    expected_dir: &Path,
    name: impl Fn(&Path) -> String,
) -> Vec<String> {
    let mut failures = Vec::new();
    for path in files {
        let name = name(path);
        let data = std::fs::read(path).unwrap();
        let want = expected(&expected_dir.join(format!("{name}.json")));
        let (got, frames, diag) = actual(&data);
        if got != want {
            failures.push(format!("{name}: expected {want:?}\n got {got:?}"));
        }
        if frames != printed_frames(&data) {
            failures.push(format!(
                "{name}: kept {frames} frames of {} printed",
                printed_frames(&data)
            ));
        }
        if diag.total_skipped() != 0 || diag.guessed != 0 {
            failures.push(format!("{name}: {diag:?}"));
        }
        // The profile agrees with the parser, on one thread and on several.
        for threads in [1, 3] {
            let p = Profile::build(
                &data,
                BuildOptions {
                    threads,
                    ..Default::default()
                },
                &|_| {},
            );
            for e in &p.events {
                if want.samples.get(&e.name) != Some(&e.samples)
                    || want.period_sum.get(&e.name) != Some(&e.weight)
                {
                    failures.push(format!("{name}: profile event {e:?}"));
                }
            }
        }
    }
    failures
}

/// Where inferno-collapse-perf 0.12.8 is right on a variant, the folded output equals its
/// output byte for byte (goldens in tests/golden/variants, made by inferno; see README
/// there). Where it is not, the golden is faultline's, and README's compatibility table
/// lists why.
#[test]
fn folded_variants_match_their_goldens() {
    let Some(dir) = variants_dir() else { return };
    let golden = common::root().join("tests/golden/variants");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("inputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let p = Profile::build(&data, BuildOptions::default(), &|_| {});
        let events = collapse::select_events(&p, None).unwrap();
        let mut out = Vec::new();
        collapse::fold(&p, &events, &FoldOptions::default())
            .write_to(&mut out)
            .unwrap();
        common::check_golden(&golden.join(format!("{name}.folded")), &out);
    }
}
