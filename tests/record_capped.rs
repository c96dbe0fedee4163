//! Issue 13 item 4, live: a command under `--mem-limit` that the OOM killer ends is
//! recorded system-wide, so the report has the other tasks around its death and its
//! exit; `--per-process` on a capped run warns what it will miss. Needs root, perf and
//! a memory cgroup; run under `flock /tmp/faultline-live.lock cargo test --test
//! record_capped`.

mod common;

use std::path::PathBuf;

fn run_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-capped-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn manifest(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn a_capped_command_killed_by_oom_is_recorded_system_wide() {
    if let Some(why) = common::recording_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_faultline");
    let dir = run_dir("hog");
    let d = dir.to_str().unwrap();
    // The hog as a plain command: faultline knows nothing of it but its cap.
    common::succeeds(&[
        "record",
        "-o",
        d,
        "--mem-limit",
        "64m",
        "--",
        exe,
        "workload",
        "memory-hog",
    ]);
    let m = manifest(&dir);
    assert_eq!(m["system_wide"], true, "{m}");
    assert!(m["oom_kills"].as_u64().unwrap() >= 1, "{m}");
    let r = common::faultline_json(&["analyze", "--json", d]);
    let procs = r["processes"].as_array().unwrap();
    let w = procs
        .iter()
        .find(|p| p["workload"] == true)
        .expect("a workload");
    assert!(
        w["phases"]["exit"]["samples"].as_u64().unwrap_or(0) > 0,
        "the killed command's exit is in the report: {w}"
    );
    assert!(
        procs.len() > 1,
        "only the command's own tasks were recorded"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = run_dir("pp");
    let out = common::faultline(&[
        "record",
        "-o",
        dir.to_str().unwrap(),
        "--mem-limit",
        "64m",
        "--per-process",
        "--",
        "true",
    ]);
    assert!(out.status.success());
    assert_eq!(manifest(&dir)["system_wide"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("per-process although the run can be OOM-killed"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
