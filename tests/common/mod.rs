//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// The shared collapse corpus, if this checkout has `../shared` beside it.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus/collapse-perf");
    if dir.join("manifest.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} not found (the corpus lives in ../shared beside the checkout)",
            dir.display()
        );
        None
    }
}

/// Runs the faultline binary.
pub fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

/// Compares `actual` with the golden file, or rewrites it when FAULTLINE_BLESS=1.
pub fn check_golden(path: &Path, actual: &[u8]) {
    if std::env::var_os("FAULTLINE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with FAULTLINE_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let exp = String::from_utf8_lossy(&expected);
        let act = String::from_utf8_lossy(actual);
        let first = exp
            .lines()
            .zip(act.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(exp.lines().count().min(act.lines().count()));
        panic!(
            "{} differs at line {}:\n expected: {:?}\n   actual: {:?}\n(FAULTLINE_BLESS=1 rewrites it)",
            path.display(),
            first + 1,
            exp.lines().nth(first),
            act.lines().nth(first)
        );
    }
}

/// Why recordings cannot run here (not root, no perf, no memory cgroup), if they cannot.
pub fn recording_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let perf = Command::new("perf").arg("version").output();
    if !perf.is_ok_and(|o| o.status.success()) {
        return Some("perf not installed".into());
    }
    if faultline::record::cgroup::Controller::detect().is_err() {
        return Some("no memory cgroup controller".into());
    }
    None
}

/// Runs faultline, asserts success, and parses standard output as JSON.
pub fn faultline_json(args: &[&str]) -> serde_json::Value {
    let out = faultline(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Runs `faultline export --format FORMAT` on the breadth-first-oom run into `out`,
/// asserting success.
pub fn export_fixture(format: &str, out: &Path) {
    let input = root().join("fixtures/runs/breadth-first-oom");
    succeeds(&[
        "export",
        "--format",
        format,
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
}

/// Runs `faultline ARGS`, asserting success (stderr in the message), and returns stdout.
pub fn succeeds(args: &[&str]) -> String {
    let res = faultline(args);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    String::from_utf8(res.stdout).unwrap()
}

/// Runs `faultline analyze` on the breadth-first-oom run with its report directory at
/// `out` (replaced), asserting success; returns the terminal report.
pub fn analyze_oom_fixture(out: &Path) -> String {
    let _ = std::fs::remove_dir_all(out);
    let input = root().join("fixtures/runs/breadth-first-oom");
    succeeds(&[
        "analyze",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
}

/// Folded stacks of `perf script` text, as `faultline collapse` prints them.
pub fn collapse(
    data: &[u8],
    build: faultline::ingest::profile::BuildOptions,
    fold: &faultline::fold::collapse::FoldOptions,
) -> Vec<u8> {
    use faultline::fold::collapse;
    let profile = faultline::ingest::profile::Profile::build(data, build, &|_| {});
    let events = collapse::select_events(&profile, None).unwrap();
    let mut out = Vec::new();
    collapse::fold(&profile, &events, fold)
        .write_to(&mut out)
        .unwrap();
    out
}

/// Returns from a test, saying why, where recordings cannot run (no root, perf or memory
/// cgroup); CI has all of them.
#[allow(unused_macros)]
macro_rules! require_recording {
    () => {
        if let Some(why) = $crate::common::recording_unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require_recording;

/// Waits up to `limit` for `child` (a browser loading a page); past that, kills it and
/// returns `None`.
#[allow(dead_code)]
pub fn wait_or_kill(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
