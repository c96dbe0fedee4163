//! `faultline analyze` on real recordings: the committed run directories and perf
//! scripts (no root needed), and fresh recordings where root, perf and cgroups exist.

mod common;

use std::path::{Path, PathBuf};

use faultline::analyze::{AnalyzeOptions, analyze};
use faultline::report::{Phase, ProcessPhases, Report};

fn run(name: &str) -> PathBuf {
    common::root().join("fixtures/runs").join(name)
}

fn analyse(input: &Path) -> faultline::analyze::Analysis {
    let opts = AnalyzeOptions {
        input: input.to_path_buf(),
        ..AnalyzeOptions::default()
    };
    analyze(&opts, &|_| {}).unwrap()
}

fn workload(r: &Report) -> &ProcessPhases {
    r.processes
        .iter()
        .find(|p| p.workload)
        .expect("a workload process")
}

fn samples(p: &std::collections::BTreeMap<String, Phase>, path: &str) -> u64 {
    let mut parts = path.split('/');
    let first = parts.next().unwrap();
    let mut node = match p.get(first) {
        Some(n) => n,
        None => return 0,
    };
    for part in parts {
        node = match node.children.get(part) {
            Some(n) => n,
            None => return 0,
        };
    }
    node.samples
}

#[test]
fn breadth_first_oom_costs_more_to_die_than_to_fault() {
    let a = analyse(&run("breadth-first-oom"));
    let r = &a.report;
    assert_eq!(r.clock.kind.kind(), "hrtimer");
    let w = workload(r);
    let (exit, fault) = (samples(&w.phases, "exit"), samples(&w.phases, "fault"));
    eprintln!("breadth-first OOM: exit {exit} samples, fault {fault}");
    assert!(exit > fault, "exit {exit} vs fault {fault}");
    let carried = samples(&w.phases, "exit/unmap") + samples(&w.phases, "exit/free-tables");
    assert!(
        carried * 2 > exit,
        "unmap + free-tables {carried} of exit {exit}"
    );
    let top = &w.phases["exit"].top_frames;
    assert!(
        top.iter()
            .any(|(f, _)| f == "unmap_page_range" || f == "zap_pte_range"),
        "{top:?}"
    );
    assert!(r.findings[0].starts_with("exit cost"), "{:?}", r.findings);
    // The markers tell the story in order, and the victim's page tables are reported.
    let names: Vec<&str> = r.segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["run", "dying", "teardown"]);
    assert!(r.proc.mark_victim_pgtables_kb.unwrap() > 100_000);
    assert!(r.proc.vm_pte.as_ref().unwrap().max > 100_000);
}

#[test]
fn zero_page_samples_pile_on_the_page_fault_reenable_site_until_corrected() {
    let a = analyse(&run("zero-page-4k"));
    let r = &a.report;
    let site = &r.irq_sticky.sites[0];
    eprintln!(
        "zero-page 4k: {} of {} samples at {} ({:.0}% of the function's leaf samples)",
        site.samples,
        r.events["cpu-clock"],
        site.site,
        site.share_of_function * 100.0
    );
    assert!(site.site.starts_with("exc_page_fault+0x"), "{site:?}");
    assert_eq!(site.kind, "page-fault entry");
    // Count the raw leaves independently of the analyser.
    let text = std::fs::read_to_string(run("zero-page-4k").join("perf.script")).unwrap();
    let mut raw_at_site = 0;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.ends_with("cpu-clock: ") {
            let leaf = lines.next().unwrap_or_default();
            if leaf.split_whitespace().nth(1) == Some(site.site.as_str()) {
                raw_at_site += 1;
            }
        }
    }
    assert_eq!(site.samples, raw_at_site);
    assert!(site.share_of_function > 0.8);
    // The biggest leaf of the raw graph is the site; after correction nothing is left
    // on exc_page_fault as a leaf from it, and the pseudo-frame holds its weight.
    let leaf_weight = |stacks: &[(Vec<u8>, u64)], leaf: &str| -> u64 {
        stacks
            .iter()
            .filter(|(s, _)| s.ends_with(leaf.as_bytes()))
            .map(|(_, n)| n)
            .sum()
    };
    let raw = leaf_weight(&a.raw, ";exc_page_fault");
    let after = leaf_weight(&a.corrected, ";exc_page_fault");
    let pseudo = leaf_weight(&a.corrected, ";[irqs-off] page-fault entry");
    let period = r.clock.mean_period;
    assert!(raw >= (site.samples as f64 * period * 0.99) as u64);
    assert_eq!(
        raw - after,
        pseudo,
        "moved weight lands on the pseudo-frame"
    );
    assert!((pseudo as f64 - site.samples as f64 * period).abs() < period * 2.0);
    assert_eq!(samples(&r.phases, "fault/irqs-off-entry"), site.samples);
}

#[test]
fn nmi_samples_are_not_corrected_and_unknown_clocks_say_so() {
    let text = "pf 7 [000] 1.000001: 100000 cycles:\n\tffff exc_page_fault+0xd7 ([kernel.kallsyms])\n\tffff asm_exc_page_fault+0x26 ([kernel.kallsyms])\n\n".repeat(50);
    let dir = std::env::temp_dir().join(format!("faultline-nmi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cycles.txt");
    std::fs::write(&f, text).unwrap();
    let r = analyse(&f).report;
    assert_eq!(r.clock.kind.kind(), "nmi");
    assert!(!r.irq_sticky.applied);
    assert!(
        r.irq_sticky.reason.contains("not applied"),
        "{}",
        r.irq_sticky.reason
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plain_scripts_rules_files_and_no_correction() {
    let script = common::fixture("zero-page-4k.perf.txt");
    let r = analyse(&script).report;
    assert_eq!(r.input.kind, "perf_script");
    assert!(r.clock.source.contains("perf header"), "{}", r.clock.source);
    assert!(r.irq_sticky.applied);

    let opts = AnalyzeOptions {
        input: script.clone(),
        no_irq_correction: true,
        ..AnalyzeOptions::default()
    };
    let plain = analyze(&opts, &|_| {}).unwrap().report;
    assert_eq!(plain.irq_sticky.moved_samples, 0);
    assert!(plain.irq_sticky.reason.contains("--no-irq-correction"));
    assert_eq!(samples(&plain.phases, "fault/irqs-off-entry"), 0);

    let dir = std::env::temp_dir().join(format!("faultline-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        r#"{"phases": [{"name": "zero-page-read", "frames": ["main"]}]}"#,
    )
    .unwrap();
    let opts = AnalyzeOptions {
        input: script,
        rules: Some(rules.clone()),
        ..AnalyzeOptions::default()
    };
    let custom = analyze(&opts, &|_| {}).unwrap().report;
    assert!(samples(&custom.phases, "zero-page-read") > 0);
    std::fs::write(&rules, "{ not json").unwrap();
    let err = analyze(&opts, &|_| {}).unwrap_err().to_string();
    assert!(
        err.contains("rules.json") && err.contains("not a valid rules file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_directory_has_every_file_and_stable_json_keys() {
    let out = std::env::temp_dir().join(format!("faultline-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let input = run("breadth-first-oom");
    let res = common::faultline(&[
        "analyze",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let stdout = String::from_utf8(res.stdout).unwrap();
    assert!(stdout.contains("Findings:"), "{stdout}");
    for f in [
        "flamegraph.svg",
        "flamegraph.corrected.svg",
        "flamegraph.phases.svg",
        "report.json",
        "report.md",
        "index.html",
    ] {
        let len = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f}: {len} bytes");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "clock",
        "events",
        "irq_sticky",
        "phases",
        "markers",
        "proc",
        "segments",
        "derived",
        "findings",
    ] {
        assert!(json.get(key).is_some(), "report.json lacks {key}");
    }
    assert_eq!(json["clock"]["kind"], "hrtimer");
    assert!(json["irq_sticky"]["moved_samples"].is_u64());
    assert!(json["irq_sticky"]["sites"][0]["site"].is_string());
    assert!(json["phases"]["exit"]["children"]["unmap"]["share"].is_f64());
    assert!(
        json["markers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "oom:mark_victim")
    );
    // --json prints the same document.
    let res = common::faultline(&["analyze", input.to_str().unwrap(), "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(again, json);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_inputs_name_the_file() {
    let res = common::faultline(&["analyze", "/nonexistent/run"]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("/nonexistent/run"));
    let dir = std::env::temp_dir().join(format!("faultline-empty-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let res = common::faultline(&["analyze", dir.to_str().unwrap()]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("perf.script"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_periods_are_estimated_from_the_header_frequency() {
    let dir = std::env::temp_dir().join(format!("faultline-noperiod-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("old.txt");
    let sample = "pf 7 [000] 1.000001: cpu-clock:\n\tffff handle_mm_fault+0x10 ([kernel.kallsyms])\n\tffff asm_exc_page_fault+0x26 ([kernel.kallsyms])\n\n";
    let header = "# event : name = cpu-clock, type = 1, config = 0x0, { sample_period, sample_freq } = 999, freq = 1\n";
    std::fs::write(&f, format!("{header}{}", sample.repeat(10))).unwrap();
    let r = analyse(&f).report;
    assert_eq!(r.clock.mean_period, 1_001_001.0);
    assert!(
        r.clock.source.contains("periods not printed"),
        "{}",
        r.clock.source
    );
    assert_eq!(r.phases["fault"].weight, 10 * 1_001_001);
    // Without a header nothing can be estimated: samples weigh 1, and nothing pretends.
    std::fs::write(&f, sample.repeat(10)).unwrap();
    let r = analyse(&f).report;
    assert_eq!(r.clock.mean_period, 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_run_files_are_reported_not_silently_dropped() {
    let dir = std::env::temp_dir().join(format!("faultline-corrupt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    std::fs::copy(
        run("zero-page-4k").join("perf.script"),
        dir.join("perf.script"),
    )
    .unwrap();
    std::fs::write(dir.join("manifest.json"), "[]").unwrap();
    std::fs::write(dir.join("workload.json"), "{\"faults").unwrap();
    let res = common::faultline(&["analyze", dir.to_str().unwrap()]);
    assert!(res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("manifest.json: not a JSON object"), "{err}");
    assert!(err.contains("workload.json: EOF"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
