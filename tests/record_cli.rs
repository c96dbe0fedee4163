//! `faultline record`'s command line, without recording: the argument orders it accepts,
//! value enums, refusals, and how `compare` and `analyze` treat an interrupted run. A
//! run directory that already exists makes `record` stop at its first check, so these
//! prove how the words were parsed without perf, root or a cgroup.

mod common;

use std::path::{Path, PathBuf};

/// A scratch directory (an existing "run directory"), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("faultline-rcli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let out = common::faultline(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: {n:?} not in {stderr:?}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn record_options_may_follow_the_workloads() {
    let d = Scratch::new("order");
    // -o after the workload's options was swallowed as a workload argument before.
    for args in [
        vec!["record", "breadth-first", "--faults", "10000", "-o", d.s()],
        vec![
            "record",
            "breadth-first",
            "--faults",
            "10000",
            "-o",
            d.s(),
            "--mem-limit",
            "256m",
        ],
        vec![
            "record",
            "--mem-limit=256m",
            "breadth-first",
            "--faults=10",
            &format!("--output={}", d.s()),
        ],
        vec![
            "record",
            "-F99",
            "zero-page",
            "--span",
            "1g",
            "--thp",
            "never",
            "-o",
            d.s(),
        ],
        // The old spelling still works.
        vec![
            "record",
            "-o",
            d.s(),
            "--workload",
            "breadth-first",
            "--faults",
            "10000",
        ],
        vec![
            "record",
            "--workload",
            "madvise",
            "--advice",
            "free",
            "-o",
            d.s(),
        ],
    ] {
        fails_with(&args, &[d.s(), "already exists", "--force"]);
    }
}

#[test]
fn a_bad_workload_option_is_named() {
    let d = Scratch::new("bad");
    fails_with(
        &["record", "breadth-first", "--fautls", "10", "-o", d.s()],
        &["--fautls"],
    );
    fails_with(
        &["record", "breadth-first", "--faults", "0", "-o", d.s()],
        &["faults must be at least 1"],
    );
    fails_with(&["record", "-o", d.s()], &["nothing to run"]);
    fails_with(
        &["record", "-o", d.s(), "breadth-first", "--", "true"],
        &["not both"],
    );
}

#[test]
fn value_enums_name_the_allowed_values() {
    fails_with(
        &["record", "zero-page", "--stride", "3k"],
        &["3k", "[possible values: 4k, 2m]"],
    );
    fails_with(
        &["workload", "zero-page", "--stride", "3k"],
        &["3k", "[possible values: 4k, 2m]"],
    );
    fails_with(
        &["record", "madvise", "--advice", "maybe"],
        &["[possible values: free, dontneed]"],
    );
    fails_with(
        &["record", "--thp", "sometimes", "--", "true"],
        &["[possible values: always, madvise, never]"],
    );
}

/// Issue 12 item 1 through the binary: a project directory with a manifest.json.
#[test]
fn force_refuses_a_directory_faultline_did_not_write() {
    let d = Scratch::new("force");
    std::fs::create_dir_all(d.0.join("src")).unwrap();
    std::fs::write(d.0.join("manifest.json"), r#"{"name":"app"}"#).unwrap();
    std::fs::write(d.0.join("src/app.js"), "x").unwrap();
    std::fs::write(d.0.join("README.md"), "x").unwrap();
    fails_with(
        &["record", "-o", d.s(), "--force", "--", "true"],
        &["refusing to delete"],
    );
    assert!(d.0.join("src/app.js").is_file());
    assert!(d.0.join("README.md").is_file());
    assert!(d.0.join("manifest.json").is_file());
}

fn interrupted_copy(d: &Scratch) -> PathBuf {
    let from = common::fixture("runs/breadth-first-10k");
    let to = d.0.join("run");
    std::fs::create_dir_all(to.join("proc")).unwrap();
    for f in ["perf.script", "workload.json", "workload.exit.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    let m = std::fs::read_to_string(from.join("manifest.json")).unwrap();
    let m = m.replace("\"interrupted\": false", "\"interrupted\": true");
    assert!(m.contains("\"interrupted\": true"));
    std::fs::write(to.join("manifest.json"), m).unwrap();
    to
}

#[test]
fn compare_refuses_an_interrupted_run_unless_allowed_and_analyze_warns() {
    let d = Scratch::new("partial");
    let partial = interrupted_copy(&d);
    let full = common::fixture("runs/breadth-first-10k");
    let (p, f) = (partial.to_str().unwrap(), full.to_str().unwrap());
    fails_with(
        &["compare", "--base", f, "--new", p],
        &[p, "interrupted", "--allow-partial"],
    );
    let out = common::faultline(&["compare", "--base", f, "--new", p, "--allow-partial"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::faultline(&["analyze", p]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted") && err.contains("partial"),
        "{err}"
    );
    // A complete run draws no such warning.
    let out = common::faultline(&["analyze", f]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("interrupted"));
}

#[test]
fn help_shows_both_forms() {
    let out = common::faultline(&["record", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("faultline record [OPTIONS] WORKLOAD [WORKLOAD OPTIONS]"),
        "{text}"
    );
    assert!(text.contains("faultline record [OPTIONS] -- CMD"), "{text}");
    assert!(text.contains("130 interrupted"), "{text}");
    assert!(Path::new(env!("CARGO_BIN_EXE_faultline")).is_file());
}
