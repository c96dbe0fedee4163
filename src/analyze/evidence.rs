//! /proc evidence and the figures derived from it: page-table growth against the model,
//! VMAs that did not merge, fault counts from the best source a run offers.

use std::path::Path;

use super::phased::{Scope, is_workload, workload_node};
use super::segments::payload_field;
use super::{RunFiles, Sources, faults, teardown};
use crate::analyze::model::{Derived, Marker, ModelComparison, ProcEvidence, Series, VmaFindings};
use crate::ingest::script::header::base_name;
use crate::procfs;
use crate::record::run_dir::{Manifest, WorkloadSummary, files, last_checkpoint, read_timeline};

/// Fault counts and per-fault figures for the workload (or the whole recording).
pub(super) fn derived(scope: &Scope<'_>, run: &RunFiles, src: &Sources) -> Derived {
    let summary = run.workload_summary.as_ref();
    let node = workload_node(scope);
    let (fault, exit) = (node.weight_of("fault"), node.weight_of("exit"));
    let munmap = teardown::own_munmap_weight(scope, summary);
    let mut d = Derived {
        exit_fault_ratio: (fault > 0).then(|| (exit + munmap) as f64 / fault as f64),
        munmap_teardown_weight: munmap,
        ..Derived::default()
    };
    if let Some(c) = fault_count(scope, run, src) {
        d.faults = Some(c.faults);
        d.faults_source = Some(c.source);
    }
    if let Some(n) = d.faults.filter(|n| *n > 0) {
        d.cpu_per_fault_ns = Some(fault as f64 / n as f64);
        if let Some(s) = summary {
            if let (Some(end), Some(start)) = (s.vm_pte_kb, s.vm_pte_kb_start) {
                d.table_bytes_per_fault =
                    Some(end.saturating_sub(start) as f64 * 1024.0 / n as f64);
            }
        }
    }
    d
}

/// The workload's own page faults, never the machine's (see [`super::faults`]).
fn fault_count(scope: &Scope<'_>, run: &RunFiles, src: &Sources) -> Option<faults::FaultCount> {
    let (profile, workload) = (scope.profile, scope.workload);
    let victim = |key: &str| {
        let pid = workload?.to_string();
        profile.markers.iter().find_map(|m| {
            let r = profile.samples.get(m.sample)?;
            let victim = profile.events[r.event.0 as usize].name == "oom:mark_victim"
                && payload_field(&m.payload, "pid") == Some(pid.as_str());
            victim
                .then(|| {
                    payload_field(&m.payload, key)?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()
                })
                .flatten()
        })
    };
    faults::workload_faults(&faults::Evidence {
        summary: run.workload_summary.as_ref(),
        target: run.manifest.as_ref().map(|m| &m.target),
        page_fault_events: page_fault_events(scope),
        victim_pgtables_kb: victim("pgtables"),
        victim_anon_rss_kb: victim("anon-rss"),
        proc_dir: src.proc_dir.as_deref(),
    })
}

/// The workload's `page-faults` samples, summed by period.
fn page_fault_events(scope: &Scope<'_>) -> u64 {
    let (profile, workload) = (scope.profile, scope.workload);
    let page_faults: Vec<bool> = profile
        .events
        .iter()
        .map(|e| base_name(&e.name) == "page-faults")
        .collect();
    if !page_faults.contains(&true) {
        return 0;
    }
    profile
        .samples
        .iter()
        .filter(|r| page_faults[r.event.0 as usize])
        .filter(|r| workload.is_none() || is_workload(profile, r.thread, workload))
        .map(|r| r.weight)
        .sum()
}

fn series(path: &Path, pid: Option<i32>, key: &str) -> Option<Series> {
    let mut s = Series::default();
    for v in read_timeline(path)? {
        if pid.is_some_and(|p| v.pid != Some(p)) {
            continue;
        }
        let Some(x) = v.status.as_ref().and_then(|st| st.get(key).copied()) else {
            continue;
        };
        if s.points == 0 {
            s.first = x;
        }
        if s.points == 0 || x > s.max {
            s.max = x;
            s.max_time = v.mono_ns as f64 / 1e9;
        }
        s.last = x;
        s.points += 1;
    }
    (s.points > 0).then_some(s)
}

/// /proc evidence: page-table and RSS series, the model comparison, the OOM killer's
/// page-table figure, VMAs and the run's settings.
pub(super) fn proc_evidence(
    src: &Sources,
    run: &RunFiles,
    workload: Option<i32>,
    markers: &[Marker],
) -> ProcEvidence {
    let mut e = ProcEvidence::default();
    if let Some(dir) = &src.proc_dir {
        let timeline = dir.join(files::TIMELINE);
        e.vm_pte = series(&timeline, workload, "VmPTE");
        e.vm_rss = series(&timeline, workload, "VmRSS");
    }
    e.model = run.workload_summary.as_ref().and_then(model_comparison);
    e.mark_victim_pgtables_kb = markers
        .iter()
        .filter(|m| m.name == "oom:mark_victim")
        .find_map(|m| {
            payload_field(&m.payload, "pgtables")?
                .trim_end_matches("kB")
                .parse()
                .ok()
        });
    e.vmas = src
        .proc_dir
        .as_deref()
        .and_then(|dir| vma_findings(dir, run.manifest.as_ref()));
    e.settings = run.manifest.as_ref().map(|m| {
        serde_json::json!({
            "thp": m.thp,
            "thp_before": m.thp_before,
            "vm": m.vm,
            "cgroup": m.cgroup,
        })
    });
    e
}

/// Measured page-table growth against the workload's own prediction.
fn model_comparison(s: &WorkloadSummary) -> Option<ModelComparison> {
    let (faults, pred, end, start) = (
        s.faults_attempted,
        s.predicted_table_bytes?,
        s.vm_pte_kb?,
        s.vm_pte_kb_start?,
    );
    let measured = end.saturating_sub(start);
    let predicted = pred / 1024;
    Some(ModelComparison {
        faults,
        predicted_kb: predicted,
        measured_kb: measured,
        error: if predicted == 0 {
            0.0
        } else {
            (measured as f64 - predicted as f64) / predicted as f64
        },
        bytes_per_fault: if faults == 0 {
            0.0
        } else {
            measured as f64 * 1024.0 / faults as f64
        },
    })
}

/// VMAs: the workload's last checkpoint, else the sampler's last maps.
fn vma_findings(dir: &Path, manifest: Option<&Manifest>) -> Option<VmaFindings> {
    let from_checkpoint = last_checkpoint(dir).map(|c| dir.join(c.dir).join("maps"));
    let path = [from_checkpoint, Some(dir.join(files::MAPS_LAST))]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())?;
    let text = std::fs::read_to_string(&path).ok()?;
    let vmas = procfs::parse_maps(&text, &path).ok()?;
    let runs = procfs::unmerged_runs(&vmas);
    Some(VmaFindings {
        source: path.display().to_string(),
        count: vmas.len(),
        max_map_count: manifest.and_then(|m| m.vm).map(|v| v.max_map_count),
        unmerged_runs: runs.runs,
        longest_run: runs.longest,
        mergeable_savings: runs.mergeable_savings,
    })
}
