//! `faultline record --workload zero-page` without `--thp` runs with THP off (issue 13,
//! item 3): with THP `always` a 4 KiB-stride run maps huge zero pages, faults once per
//! 2 MiB, and its per-fault figures are off by 512×. Needs root and perf; run under
//! `flock /tmp/faultline-live.lock cargo test --test record_thp_pin`.

mod common;

#[test]
fn zero_page_runs_pin_thp_off_and_restore_it() {
    if let Some(why) = common::recording_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let file = faultline::record::thp::THP_ENABLED;
    let before = std::fs::read_to_string(file).unwrap();
    let dir = std::env::temp_dir().join(format!("faultline-thp-pin-{}", std::process::id()));
    let out = common::faultline(&[
        "record",
        "-o",
        dir.to_str().unwrap(),
        "--workload",
        "zero-page",
        "--stride",
        "4k",
        "--span",
        "64m",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["thp"]["enabled"], "never", "{m}");
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        before,
        "THP restored"
    );
    let r = common::faultline_json(&["analyze", "--json", dir.to_str().unwrap()]);
    assert!(
        r["findings"]
            .to_string()
            .contains("THP was never for this run"),
        "{r}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
