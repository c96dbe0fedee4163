//! Seeds 003 (VMAs that do not merge) and 001 (a memory hog meets the OOM killer).

use super::runs::{Lab, Spec};
use super::{Claim, Outcome, ReproduceError};
use crate::units::Bytes;
use crate::workloads::Workload;

/// Seed 003: per-cell mprotect leaves one VMA per cell; touching first merges them.
pub(super) fn vma_merge(lab: &mut Lab<'_>, quick: bool) -> Result<Vec<Claim>, ReproduceError> {
    let cells = if quick { 2_000 } else { 20_000 };
    let spec =
        |prefault: bool, label: &str| Spec::new(label, Workload::VmaFragment { cells, prefault });
    let split = lab.run(&spec(false, "vma-fragment"))?;
    let merged = lab.run(&spec(true, "vma-fragment-prefault"))?;
    let vmas = |r: &super::runs::Run| {
        r.analysis
            .report
            .proc
            .vmas
            .as_ref()
            .map(|v| (v.count, v.unmerged_runs))
    };
    let (a, b) = (vmas(&split), vmas(&merged));
    let outcome = match (a, b) {
        (Some((a, _)), Some((b, _))) if a as u64 >= cells && (b as u64) < cells / 10 => {
            Outcome::Holds
        }
        (Some(_), Some(_)) => Outcome::Fails,
        _ => Outcome::Inconclusive,
    };
    let show = |v: Option<(usize, usize)>| {
        v.map_or_else(
            || "unknown".into(),
            |(n, runs)| format!("{n} VMAs ({runs} unmerged runs)"),
        )
    };
    Ok(vec![Claim {
        id: "vma-merge".into(),
        claim: "neighbouring VMAs that fault in separately get different anon_vmas and never merge; touching the mapping first lets them merge".into(),
        article: "runs of adjacent same-permission anonymous mappings in /proc/<pid>/maps, one per cell, exhausting vm.max_map_count".into(),
        measured: format!(
            "{cells} cells: {} without, {} with --prefault",
            show(a),
            show(b)
        ),
        outcome,
        how: "/proc/<pid>/maps at the workload's last checkpoint; holds with ≥ one VMA per cell split and < a tenth of that merged".into(),
        runs: vec![split.dir, merged.dir],
    }])
}

/// Seed 001: malloc(4096)+memset under a cap ends in the OOM killer.
pub(super) fn memory_hog(lab: &mut Lab<'_>) -> Result<Vec<Claim>, ReproduceError> {
    let cap = Bytes(64 << 20);
    let run =
        lab.run(&Spec::new("memory-hog-oom", Workload::MemoryHog { limit: None }).capped(cap))?;
    let r = &run.analysis.report;
    let victim = r
        .markers
        .iter()
        .find(|m| m.name == "oom:mark_victim")
        .map(|m| m.payload.clone());
    let anon_kb = victim
        .as_deref()
        .and_then(|p| crate::analyze::payload_field(p, "anon-rss"))
        .and_then(|v| v.strip_suffix("kB")?.parse::<u64>().ok());
    let outcome = match anon_kb {
        Some(kb) if run.oom_kills >= 1 && kb * 1024 * 2 >= cap.0 => Outcome::Holds,
        _ if run.oom_kills == 0 => Outcome::Fails,
        _ => Outcome::Inconclusive,
    };
    Ok(vec![Claim {
        id: "memory-hog-oom".into(),
        claim: "a malloc+memset loop under a memory cap grows its anonymous RSS until the OOM killer ends it".into(),
        article: "the OOM killer picks the process by its badness and logs it (\"Killed process … anon-rss:…\")".into(),
        measured: format!(
            "{} OOM kill(s) in the {cap} cgroup; the kernel's report: {}",
            run.oom_kills,
            victim.unwrap_or_else(|| "no oom:mark_victim recorded".into())
        ),
        outcome,
        how: "the cgroup's OOM kill count and the oom:mark_victim tracepoint; holds when the victim's anon-rss is at least half the cap".into(),
        runs: vec![run.dir],
    }])
}
