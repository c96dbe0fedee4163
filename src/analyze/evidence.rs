//! /proc evidence and the figures derived from it: page-table growth against the model,
//! VMAs that did not merge, fault counts from the best source a run offers.

use std::path::Path;

use serde_json::Value;

use super::phased::{Scope, is_workload, workload_node};
use super::segments::payload_field;
use super::{RunFiles, Sources};
use crate::analyze::model::{Derived, Marker, ModelComparison, ProcEvidence, Series, VmaFindings};
use crate::ingest::script::header::base_name;
use crate::procfs;

/// Fault counts and per-fault figures for the workload (or the whole recording).
pub(super) fn derived(scope: &Scope<'_>, summary: &Option<Value>, src: &Sources) -> Derived {
    let node = workload_node(scope);
    let (fault, exit) = (node.weight_of("fault"), node.weight_of("exit"));
    let mut d = Derived {
        exit_fault_ratio: (fault > 0).then(|| exit as f64 / fault as f64),
        ..Derived::default()
    };
    if let Some((n, source)) = fault_count(scope, summary, src) {
        d.faults = Some(n);
        d.faults_source = Some(source.into());
    }
    if let Some(n) = d.faults.filter(|n| *n > 0) {
        d.cpu_per_fault_ns = Some(fault as f64 / n as f64);
        if let Some(s) = summary {
            if let (Some(end), Some(start)) =
                (s["vm_pte_kb"].as_u64(), s["vm_pte_kb_start"].as_u64())
            {
                d.table_bytes_per_fault =
                    Some(end.saturating_sub(start) as f64 * 1024.0 / n as f64);
            }
        }
    }
    d
}

/// The workload's page faults, best source first, with the source named.
fn fault_count(
    scope: &Scope<'_>,
    summary: &Option<Value>,
    src: &Sources,
) -> Option<(u64, &'static str)> {
    let attempted = summary
        .as_ref()
        .and_then(|s| s["faults_attempted"].as_u64());
    if let Some(n) = attempted {
        return Some((n, "workload summary (faults attempted)"));
    }
    let pf = page_fault_events(scope);
    if pf > 0 {
        return Some((pf, "page-faults event (sum of periods)"));
    }
    let proc_dir = src.proc_dir.as_ref()?;
    let checkpoint = last_checkpoint(proc_dir).and_then(|c| c["faults"].as_u64());
    if let Some(n) = checkpoint.filter(|n| *n > 0) {
        return Some((
            n,
            "the workload's last checkpoint (a lower bound: it ran on until killed)",
        ));
    }
    let (first, last) = timeline_range(&proc_dir.join("timeline.jsonl"), |v| {
        v["vmstat"]["pgfault"].as_u64()
    })?;
    Some((
        last.saturating_sub(first),
        "/proc/vmstat pgfault delta (system-wide)",
    ))
}

/// The workload's `page-faults` samples, summed by period.
fn page_fault_events(scope: &Scope<'_>) -> u64 {
    let (profile, workload) = (scope.profile, scope.workload);
    let page_faults: Vec<bool> = profile
        .events
        .iter()
        .map(|e| base_name(&e.name) == "page-faults")
        .collect();
    profile
        .samples
        .iter()
        .filter(|r| page_faults[r.event.0 as usize])
        .filter(|r| workload.is_none() || is_workload(profile, r.thread, workload))
        .map(|r| r.weight)
        .sum()
}

/// The workload's last complete checkpoint line: a kill can cut the last one short.
fn last_checkpoint(proc_dir: &Path) -> Option<Value> {
    let text = std::fs::read(proc_dir.join("checkpoints.jsonl")).ok()?;
    text.split(|&b| b == b'\n').rev().find_map(|l| {
        serde_json::from_slice::<Value>(l)
            .ok()
            .filter(Value::is_object)
    })
}

/// First and last values of a timeline field.
fn timeline_range(path: &Path, field: impl Fn(&Value) -> Option<u64>) -> Option<(u64, u64)> {
    // Lossy: one bad byte must not hide the whole series.
    let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
    let values: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| field(&v))
        .collect();
    Some((*values.first()?, *values.last()?))
}

fn series(path: &Path, pid: Option<i32>, key: &str) -> Option<Series> {
    // Lossy: one bad byte must not hide the whole series.
    let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
    let mut s = Series::default();
    for v in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if pid.is_some_and(|p| v["pid"].as_i64() != Some(p as i64)) {
            continue;
        }
        let Some(x) = v["status"][key].as_u64() else {
            continue;
        };
        if s.points == 0 {
            s.first = x;
        }
        if s.points == 0 || x > s.max {
            s.max = x;
            s.max_time = v["mono_ns"].as_u64().unwrap_or(0) as f64 / 1e9;
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
        let timeline = dir.join("timeline.jsonl");
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
        .and_then(|dir| vma_findings(dir, &run.manifest));
    e.settings = run.manifest.as_ref().map(|m| {
        serde_json::json!({
            "thp": m.get("thp"),
            "vm": m.get("vm"),
            "cgroup": m.get("cgroup"),
        })
    });
    e
}

/// Measured page-table growth against the workload's own prediction.
fn model_comparison(s: &Value) -> Option<ModelComparison> {
    let (faults, pred, end, start) = (
        s["faults_attempted"].as_u64()?,
        s["predicted_table_bytes"].as_u64()?,
        s["vm_pte_kb"].as_u64()?,
        s["vm_pte_kb_start"].as_u64()?,
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
fn vma_findings(dir: &Path, manifest: &Option<Value>) -> Option<VmaFindings> {
    let from_checkpoint =
        last_checkpoint(dir).and_then(|v| v["dir"].as_str().map(|d| dir.join(d).join("maps")));
    let path = [from_checkpoint, Some(dir.join("maps.last"))]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())?;
    let text = std::fs::read_to_string(&path).ok()?;
    let vmas = procfs::parse_maps(&text, &path).ok()?;
    let runs = procfs::unmerged_runs(&vmas);
    Some(VmaFindings {
        source: path.display().to_string(),
        count: vmas.len(),
        max_map_count: manifest
            .as_ref()
            .and_then(|m| m["vm"]["max_map_count"].as_u64()),
        unmerged_runs: runs.runs,
        longest_run: runs.longest,
        mergeable_savings: runs.mergeable_savings,
    })
}
