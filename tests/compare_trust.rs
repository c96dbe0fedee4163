//! `faultline compare` and `calibrate` give figures a user can trust (issue 13, items
//! 7–10): recordings of different workloads are refused, budgets name metrics that
//! exist and ceilings carry units, the change column is the ratio of the values beside
//! it, and calibrate never claims to detect 0% or suggests tolerances without numbers.

mod common;

use std::path::PathBuf;

fn run(name: &str) -> String {
    common::root()
        .join("fixtures/runs")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs faultline and returns (exit code, stdout, stderr).
fn faultline(args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::faultline(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn different_workloads_or_parameters_are_refused_unless_forced() {
    let (zero, frag) = (run("zero-page-4k"), run("vma-fragment"));
    let (code, _, err) = faultline(&["compare", "--base", &zero, "--new", &frag]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("what ran")
            && err.contains("workload vma-fragment")
            && err.contains("workload zero-page")
            && err.contains("--force"),
        "{err}"
    );
    // Same workload, other parameters: 3000 cells touched first against not.
    let (code, _, err) = faultline(&[
        "compare",
        "--base",
        &frag,
        "--new",
        &run("vma-fragment-prefault"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("parameters") && err.contains("\"prefault\":true"),
        "{err}"
    );
    let json = common::faultline_json(&[
        "compare", "--force", "--format", "json", "--base", &zero, "--new", &frag,
    ]);
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("--force") && notes.contains("what ran"),
        "{notes}"
    );
}

#[test]
fn a_setting_that_differs_is_noted_not_refused() {
    let json = common::faultline_json(&[
        "compare",
        "--format",
        "json",
        "--base",
        &run("stride-2m-oom-thp-never"),
        "--new",
        &run("stride-2m-oom-thp-always"),
    ]);
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("THP mode differs") && notes.contains("always") && notes.contains("never"),
        "{notes}"
    );
}

/// Writes a budgets file and runs compare of the 2 MiB-stride run against itself.
fn with_budgets(name: &str, budgets: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let path = tmp(name);
    std::fs::write(&path, budgets).unwrap();
    let never = run("stride-2m-oom-thp-never");
    let mut args = vec![
        "compare",
        "--budgets",
        path.to_str().unwrap(),
        "--base",
        &never,
        "--new",
        &never,
    ];
    args.extend_from_slice(extra);
    faultline(&args)
}

#[test]
fn budgets_on_absent_metrics_or_without_units_are_refused() {
    // The README's old example: zap_pte_range is inlined on 6.18, in no run.
    let (code, _, err) = with_budgets(
        "absent.json",
        r#"{"budgets": [{"metric": "frame:zap_pte_range", "max": "250ms"}]}"#,
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("frame:zap_pte_range") && err.contains("none of the 2 runs"),
        "{err}"
    );
    let (code, _, err) = with_budgets(
        "unitless.json",
        r#"{"budgets": [{"metric": "exit", "max": 2.5e8}]}"#,
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no unit") && err.contains("\"250ms\""),
        "{err}"
    );
    let (code, _, err) = with_budgets(
        "bare-increase.json",
        r#"{"budgets": [{"metric": "exit", "max_increase": "250"}]}"#,
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("\"250\"") && err.contains("with a unit"),
        "{err}"
    );
    // With a unit the ceiling gates and is printed with it.
    let (code, out, err) = with_budgets(
        "units.json",
        r#"{"budgets": [{"metric": "frame:unmap_page_range", "max": "10s"},
                        {"metric": "exit", "mode": "share", "max": "95%"}]}"#,
        &["--format", "json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["budgets"][0]["limit"], "≤ 10000 ms");
    assert_eq!(json["budgets"][0]["verdict"], "unchanged");
    assert_eq!(json["budgets"][1]["limit"], "≤ 95.0%");
}

#[test]
fn the_change_column_is_the_ratio_of_the_values_printed_beside_it() {
    let (never, always) = (
        run("stride-2m-oom-thp-never"),
        run("stride-2m-oom-thp-always"),
    );
    for runs in [1, 3] {
        let mut args = vec!["compare", "--exit-zero", "--format", "json", "--base"];
        args.extend(std::iter::repeat_n(always.as_str(), runs));
        args.push("--new");
        args.extend(std::iter::repeat_n(never.as_str(), runs));
        let json = common::faultline_json(&args);
        let statistic = if runs >= 3 { "geometric mean" } else { "mean" };
        let all = json["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .chain(json["phases"].as_array().unwrap());
        let mut checked = 0;
        for m in all {
            assert_eq!(m["statistic"], statistic, "{m}");
            let (b, n) = (
                m["base"]["center"].as_f64().unwrap(),
                m["new"]["center"].as_f64().unwrap(),
            );
            if b > 0.0 {
                let change = m["change"].as_f64().unwrap();
                assert!((change - n / b).abs() < 1e-9 * change.abs().max(1.0), "{m}");
                checked += 1;
            }
        }
        assert!(checked >= 3);
        // The text names the statistic.
        let mut text_args = args.clone();
        text_args.retain(|a| *a != "--format" && *a != "json");
        let (_, out, _) = faultline(&text_args);
        let word = if runs >= 3 {
            "geometric means"
        } else {
            "arithmetic means"
        };
        assert!(out.contains(&format!("base and new are {word}")), "{out}");
    }
}

#[test]
fn few_runs_never_exit_3_on_inconclusive() {
    // One run a side: every result only warns, as the README says, so even
    // --fail-on-inconclusive cannot turn an inconclusive budget into exit 3.
    let (never, always) = (
        run("stride-2m-oom-thp-never"),
        run("stride-2m-oom-thp-always"),
    );
    let (code, out, err) = faultline(&[
        "compare",
        "--fail-on-inconclusive",
        "--format",
        "json",
        "--base",
        &always,
        "--base",
        &always,
        "--new",
        &never,
        "--new",
        &never,
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{err}"));
    assert!(
        json["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["verdict"] == "inconclusive"),
        "the fixture must give an inconclusive budget for this test to mean anything: {json}"
    );
    assert_eq!(code, Some(0), "{out}");
    assert_ne!(json["outcome"], "inconclusive");
}

#[test]
fn calibrate_never_claims_to_detect_nothing_and_suggests_numbers() {
    let never = run("stride-2m-oom-thp-never");
    let (code, out, err) = faultline(&["calibrate", &never, &never, &never]);
    assert_eq!(code, Some(0), "{err}");
    // Identical runs have no spread, but counting noise remains: no metric detects 0%.
    assert!(!out.contains(" 0%"), "{out}");
    let tail = out
        .split("Suggested tolerances")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        tail.contains("\"metric\": \"exit\", \"max_increase\": \""),
        "{out}"
    );
    let json = common::faultline_json(&["calibrate", "--json", &never, &never, &never]);
    for m in json["metrics"].as_array().unwrap() {
        let sparse = m["mean_samples"].as_f64().unwrap() < 10.0;
        assert_eq!(m["detectable_5_runs"].is_null(), sparse, "{m}");
        if !sparse {
            assert!(m["detectable_5_runs"].as_f64().unwrap() > 0.0, "{m}");
        }
    }
}
