//! `faultline compare` and `calibrate` on committed recordings: mismatches are refused
//! with exit 2, outputs have their documented keys, few runs can only warn.

mod common;

use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs faultline, expects exit 2, and returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = common::faultline(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    common::fixture(name).to_str().unwrap().to_string()
}

#[test]
fn mismatched_kernel_or_event_exits_2_with_the_reason() {
    let base = fixture("zero-page-4k.perf.txt");
    let text = std::fs::read_to_string(&base).unwrap();
    let other_kernel = tmp("other-kernel.perf.txt");
    std::fs::write(
        &other_kernel,
        text.replace(
            "# os release : 6.18.44-fc-v669",
            "# os release : 6.1.0-test",
        ),
    )
    .unwrap();
    let err = fails(&[
        "compare",
        "--base",
        &base,
        "--new",
        other_kernel.to_str().unwrap(),
    ]);
    assert!(
        err.contains("kernel") && err.contains("6.1.0-test") && err.contains("--force"),
        "{err}"
    );
    // --force compares anyway and says so.
    let json = common::faultline_json(&[
        "compare",
        "--force",
        "--format",
        "json",
        "--base",
        &base,
        "--new",
        other_kernel.to_str().unwrap(),
    ]);

    assert!(json["notes"][0].as_str().unwrap().contains("--force"));

    let cycles = tmp("cycles.perf.txt");
    std::fs::write(
        &cycles,
        "pf 7 [000] 1.000001: 100000 cycles:\n\tffff exc_page_fault+0xd7 ([kernel.kallsyms])\n\n"
            .repeat(20),
    )
    .unwrap();
    let err = fails(&[
        "compare",
        "--base",
        &base,
        "--new",
        cycles.to_str().unwrap(),
    ]);
    assert!(err.contains("event") && err.contains("cycles"), "{err}");
}

#[test]
fn single_runs_only_warn_and_outputs_have_their_keys() {
    let never = common::root().join("fixtures/runs/stride-2m-oom-thp-never");
    let always = common::root().join("fixtures/runs/stride-2m-oom-thp-always");
    let (never, always) = (never.to_str().unwrap(), always.to_str().unwrap());
    let svg = tmp("diff.svg");
    let json = common::faultline_json(&[
        "compare",
        "--format",
        "json",
        "--diff-svg",
        svg.to_str().unwrap(),
        "--base",
        always,
        "--new",
        never,
    ]);
    // One run a side: Poisson intervals, severity downgraded to warn, never exit 1.

    assert_eq!(json["method"], "poisson");
    let names: Vec<&str> = json["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["total", "fault", "exit"]);
    for b in json["budgets"].as_array().unwrap() {
        for key in [
            "base",
            "new",
            "ratio",
            "lo",
            "hi",
            "verdict",
            "detectable",
            "effective_severity",
        ] {
            assert!(b.get(key).is_some(), "budget lacks {key}: {b}");
        }
        assert_eq!(b["effective_severity"], "warn");
        assert!(b["lo"].as_f64().unwrap() <= b["ratio"].as_f64().unwrap());
    }
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("faultline compare") && svg_text.contains("unmap_page_range"));
    // JUnit: one test case per budget.
    let out = common::faultline(&[
        "compare", "--format", "junit", "--base", always, "--new", never,
    ]);
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
    assert!(xml.contains("tests=\"3\""));
    // Markdown for a step summary.
    let out = common::faultline(&[
        "compare", "--format", "md", "--base", always, "--new", never,
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("### ") && md.contains("| budget |"), "{md}");
}

#[test]
fn budgets_files_are_read_and_checked() {
    let never = common::root().join("fixtures/runs/stride-2m-oom-thp-never");
    let never = never.to_str().unwrap();
    let budgets = tmp("budgets.json");
    std::fs::write(
        &budgets,
        r#"{"overdispersion": 2.0, "budgets": [
            {"metric": "exit", "max_increase": "10%", "severity": "fail"},
            {"metric": "fault/table-alloc", "mode": "share", "max_increase": "2pp", "severity": "warn"},
            {"metric": "frame:unmap_page_range", "max": "1000s", "severity": "warn"}
        ]}"#,
    )
    .unwrap();
    let json = common::faultline_json(&[
        "compare",
        "--format",
        "json",
        "--budgets",
        budgets.to_str().unwrap(),
        "--base",
        never,
        "--new",
        never,
    ]);

    assert_eq!(json["overdispersion"], 2.0);
    let b = json["budgets"].as_array().unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(b[1]["mode"], "share");
    assert_eq!(b[2]["verdict"], "unchanged", "{}", b[2]);
    // Same run on both sides: nothing can have changed.
    assert!(b.iter().all(|x| x["verdict"] != "regressed"));
    // Limits that cannot gate are refused, each naming the budget.
    for (bad, needle) in [
        (
            r#"{"budgets": [{"metric": "total", "max_increase": "5pp"}]}"#,
            "needs \"mode\": \"share\"",
        ),
        (
            r#"{"budgets": [{"metric": "exit", "max_increase": "NaN%"}]}"#,
            "NaN%",
        ),
        (
            r#"{"budgets": [{"metric": "exit", "max_increase": "-5%"}]}"#,
            "-5%",
        ),
        (
            r#"{"budgets": [{"metric": "exitt", "max_increase": "10%"}]}"#,
            "no such metric",
        ),
    ] {
        std::fs::write(&budgets, bad).unwrap();
        let out = common::faultline(&[
            "compare",
            "--budgets",
            budgets.to_str().unwrap(),
            "--base",
            never,
            "--new",
            never,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{bad}: {err}");
    }
    std::fs::write(
        &budgets,
        r#"{"budgets": [{"metric": "exit", "max_increase": "lots"}]}"#,
    )
    .unwrap();
    let out = common::faultline(&[
        "compare",
        "--budgets",
        budgets.to_str().unwrap(),
        "--base",
        never,
        "--new",
        never,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lots"));
}

#[test]
fn calibrate_needs_three_runs() {
    let never = common::root().join("fixtures/runs/stride-2m-oom-thp-never");
    let never = never.to_str().unwrap();
    let out = common::faultline(&["calibrate", never, never]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::faultline(&["calibrate", "--json", never, never, never]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Identical runs: no noise at all.
    assert_eq!(json["runs"], 3);
    assert!(
        json["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["cv"] == 0.0)
    );
}
