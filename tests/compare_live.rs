//! Real recordings compared (root, perf and a memory cgroup needed; CI has them): the
//! 2 MiB-stride fill to OOM under a 512 MiB cap, THP never ×7 and always ×4. Exit is
//! cheaper with THP (`zap_huge_pmd` instead of 512-slot `zap_pte_range` walks and RCU
//! table frees); compare reports it improved (never → always) with an interval excluding
//! no change, the reverse regressed with exit 1, and A/A (never vs never, 3 against 3)
//! passes. The VM's speed drifts from run to run (a slow run is slow in every phase; exit
//! time of one configuration varied 84–158 ms), which leaves Welch's interval with 3 runs
//! a side too wide in some attempts; 4 a side keep the never/always verdicts stable.
//! (Shares cancel the drift but THP-always runs now and then fault for a second.)
//!
//! The seed and domain.md expect exit about 4× cheaper with THP; on this project's
//! kernel (6.18) it measured 1.86× to 2.6× across runs, so the test asks for 1.6×.

mod common;

use std::path::PathBuf;

use serde_json::Value;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record(dir: &Dir, name: &str, thp: &str) -> String {
    let out = dir.0.join(name);
    let res = common::faultline(&[
        "record",
        "-F",
        "1999",
        "-o",
        out.to_str().unwrap(),
        "--mem-limit",
        "512m",
        "--system-wide",
        "--thp",
        thp,
        "--workload",
        "zero-page",
        "--stride",
        "2m",
        "--span",
        "1t",
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out.to_str().unwrap().to_string()
}

fn compare(mode: &str, base: &[String], new: &[String]) -> (Option<i32>, Value) {
    compare_with(mode, None, base, new)
}

/// `budgets`: a budgets file, so that the exit code answers for the metrics it names only.
fn compare_with(
    mode: &str,
    budgets: Option<&str>,
    base: &[String],
    new: &[String],
) -> (Option<i32>, Value) {
    let mut args = vec!["compare", "--mode", mode, "--format", "json"];
    if let Some(b) = budgets {
        args.extend(["--budgets", b]);
    }
    args.push("--base");
    args.extend(base.iter().map(String::as_str));
    args.push("--new");
    args.extend(new.iter().map(String::as_str));
    let res = common::faultline(&args);
    let json = serde_json::from_slice(&res.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&res.stderr)));
    (res.status.code(), json)
}

fn budget<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap()
}

#[test]
fn thp_never_versus_always() {
    if let Some(why) = common::recording_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("faultline-thp-cmp-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // Interleaved, so that a drift of the VM's speed over the minute this takes lands
    // on every group alike instead of looking like a difference between them.
    let (mut never, mut always, mut never_again) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4 {
        never.push(record(&dir, &format!("never-{i}"), "never"));
        always.push(record(&dir, &format!("always-{i}"), "always"));
        if i < 3 {
            never_again.push(record(&dir, &format!("never-aa-{i}"), "never"));
        }
    }

    // The verdict under test is exit's: THP always also changes how far the fill gets
    // before OOM, so fault and total may move either way and must not decide the code.
    let exit_only = dir.0.join("exit-budget.json");
    std::fs::write(
        &exit_only,
        r#"{"budgets": [{"metric": "exit", "max_increase": "10%", "severity": "fail"}]}"#,
    )
    .unwrap();
    let exit_only = Some(exit_only.to_str().unwrap());
    let (code, j) = compare_with("time", exit_only, &never, &always);
    let exit = budget(&j, "exit");
    let (b, n) = (
        exit["base"]["mean"].as_f64().unwrap(),
        exit["new"]["mean"].as_f64().unwrap(),
    );
    eprintln!(
        "exit, THP never {} vs always {}: {:.2}x; ratio {:.3} [{:.3}, {:.3}] {}",
        exit["base"]["values"],
        exit["new"]["values"],
        b / n,
        exit["ratio"],
        exit["lo"],
        exit["hi"],
        exit["verdict"]
    );
    assert!(
        b >= 1.6 * n,
        "exit with THP never {b} vs always {n}: less than 1.6x"
    );
    assert_eq!(exit["verdict"], "improved");
    assert!(
        exit["hi"].as_f64().unwrap() < 1.0,
        "interval excludes no change"
    );
    assert_eq!(code, Some(0), "budgets: {:#}", j["budgets"]);

    let (code, j) = compare_with("time", exit_only, &always, &never);
    assert_eq!(budget(&j, "exit")["verdict"], "regressed");
    assert_eq!(
        code,
        Some(1),
        "a fail-severity exit budget regressed: exit 1"
    );

    // A/A: three runs against three other runs of the same configuration.
    let (code, j) = compare("time", &never[..3], &never_again);
    let verdicts: Vec<&Value> = j["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["verdict"])
        .collect();
    eprintln!("A/A verdicts: {verdicts:?}");
    assert_eq!(code, Some(0), "A/A passes");
    assert!(verdicts.iter().all(|v| *v != "regressed"));
}
