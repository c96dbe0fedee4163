//! The committed run directories (fixtures/runs, recorded by runs/record.sh) hold
//! what the runner promises, checked without root or perf.

mod common;

use std::path::{Path, PathBuf};

use faultline::ingest::input::Input;
use faultline::ingest::profile::{BuildOptions, Profile};
use serde_json::Value;

fn run(name: &str) -> PathBuf {
    common::root().join("fixtures/runs").join(name)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn manifests_count_what_the_scripts_hold() {
    let dirs: Vec<_> = std::fs::read_dir(common::root().join("fixtures/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 10);
    for dir in dirs {
        let m = json(&dir.join("manifest.json"));
        let input = Input::open(Some(&dir.join("perf.script"))).unwrap();
        let p = Profile::build(input.bytes(), BuildOptions::default(), &|_| {});
        assert_eq!(p.diagnostics.total_skipped(), 0, "{}", dir.display());
        for e in &p.events {
            assert_eq!(
                m["samples"][&e.name],
                e.samples,
                "{} {}",
                dir.display(),
                e.name
            );
        }
        assert_eq!(
            p.header.clockid.as_deref(),
            Some("monotonic (1)"),
            "-k mono"
        );
        let timeline = std::fs::read_to_string(dir.join("proc/timeline.jsonl")).unwrap();
        assert!(timeline.lines().count() >= 2, "{}", dir.display());
    }
}

#[test]
fn oom_runs_died_in_their_cgroup() {
    for name in [
        "breadth-first-oom",
        "stride-2m-oom-thp-never",
        "stride-2m-oom-thp-always",
        "memory-hog-oom",
    ] {
        let m = json(&run(name).join("manifest.json"));
        assert!(m["oom_kills"].as_u64().unwrap() >= 1, "{name}");
        assert_eq!(m["exit"]["signal"], 9, "{name}");
        assert_eq!(m["cgroup"]["version"], "v1", "{name}");
        assert!(
            m["samples"]["oom:mark_victim"].as_u64().unwrap() >= 1,
            "{name}"
        );
        assert!(m["system_wide"].as_bool().unwrap(), "{name}");
    }
}

#[test]
fn breadth_first_page_tables_match_the_model() {
    let w = json(&run("breadth-first-10k").join("workload.json"));
    let faults = w["faults_attempted"].as_u64().unwrap();
    assert_eq!(faults, 10_000);
    let measured = w["vm_pte_kb"].as_u64().unwrap() as f64;
    let model = faultline::analyze::pagetable::predict_breadth_first(faults)
        .table_bytes
        .kib() as f64;
    assert!(
        (measured - model).abs() / model < 0.05,
        "VmPTE {measured} kB, model {model} kB"
    );
}

#[test]
fn vma_fragment_does_not_merge_but_prefault_does() {
    let anon = |name: &str| {
        // The workload's own last checkpoint: taken just before it unmapped everything.
        let index = std::fs::read_to_string(run(name).join("proc/checkpoints.jsonl")).unwrap();
        let last: Value = serde_json::from_str(index.lines().last().unwrap()).unwrap();
        let dir = run(name).join("proc").join(last["dir"].as_str().unwrap());
        let maps = std::fs::read_to_string(dir.join("maps")).unwrap();
        faultline::procfs::parse_maps(&maps, Path::new("maps.last"))
            .unwrap()
            .iter()
            .filter(|v| v.is_anonymous())
            .count()
    };
    let (fragmented, merged) = (anon("vma-fragment"), anon("vma-fragment-prefault"));
    assert!(fragmented >= 3000, "{fragmented}");
    assert!(merged < 300, "{merged}");
}
