//! The report's plain-sentence findings, most important first.

use std::collections::BTreeMap;

use super::ratio;
use crate::analyze::model::{Phase, Report};

/// Findings in order: fault versus exit cost, IRQ-sticky samples, page-table allocation,
/// then /proc evidence.
pub(super) fn findings(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let scope = r.processes.iter().find(|p| p.workload);
    let phases = scope.map_or(&r.phases, |p| &p.phases);
    let who = scope.map_or_else(
        || "the recording".to_string(),
        |p| format!("{} ({})", p.comm, p.pid),
    );
    out.extend(fault_versus_exit(
        phases,
        r.derived.munmap_teardown_weight,
        &who,
    ));
    out.extend(irq_sticky(r));
    if let Some(tb) = phases
        .get("fault")
        .and_then(|f| f.children.get("table-alloc"))
    {
        if tb.weight > 0 {
            out.push(format!(
                "page-table allocation is {:.0}% of {who}'s CPU",
                tb.share * 100.0
            ));
        }
    }
    out.extend(evidence(r));
    out
}

/// Exit cost against fault cost, or the share of faults when nothing exited.
/// `munmap` is a bounded run's teardown of its own mapping, counted as exit work.
fn fault_versus_exit(phases: &BTreeMap<String, Phase>, munmap: u64, who: &str) -> Option<String> {
    let w = |name: &str| phases.get(name).map_or(0, |p| p.weight);
    let (fault, exit) = (w("fault"), w("exit") + munmap);
    if fault > 0 && exit > 0 {
        let top = match phases.get("exit").and_then(|p| p.top_frames.first()) {
            Some((f, s)) if munmap == 0 => format!(": {f} {:.0}% of exit", s * 100.0),
            _ if munmap > 0 => format!(
                ": munmap of its own mapping after the last fault is {:.0}% of it (a bounded run tears down there, not in exit_mmap)",
                munmap as f64 * 100.0 / exit as f64
            ),
            _ => String::new(),
        };
        let verdict = if exit > fault {
            "more CPU dying than faulting"
        } else {
            "less CPU dying than faulting"
        };
        Some(format!(
            "exit cost {:.1}× fault cost for {who} ({verdict}){top}",
            exit as f64 / fault as f64
        ))
    } else if fault > 0 {
        Some(format!(
            "{who}: page faults take {:.0}% of its CPU",
            phases["fault"].share * 100.0
        ))
    } else {
        None
    }
}

/// How many samples sat on IRQ re-enable sites outside idle, and the largest site.
fn irq_sticky(r: &Report) -> Option<String> {
    if !r.irq_sticky.applied {
        return None;
    }
    // Idle halts are where an idle CPU wakes: name the largest site that is not.
    let sites = &r.irq_sticky.sites;
    let site = sites.iter().find(|s| s.kind != "idle").unwrap_or(&sites[0]);
    let idle: u64 = sites
        .iter()
        .filter(|s| s.kind == "idle")
        .map(|s| s.samples)
        .sum();
    let total = r.events.get(&r.clock.event).copied().unwrap_or(0);
    let busy_share = ratio(r.irq_sticky.moved_samples - idle, total);
    Some(format!(
        "{:.0}% of {} samples sat on IRQ re-enable sites outside idle and were moved; the largest, {} ({}), held {}",
        busy_share * 100.0,
        r.clock.event,
        site.site,
        site.kind,
        crate::text::count(site.samples, "sample")
    ))
}

/// Page tables against the model, the OOM killer's figure, unmerged VMAs, CPU per fault.
fn evidence(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = &r.proc.model {
        out.push(format!(
            "page tables grew {} kB over {} faults ({:.0} bytes per fault), {:+.1}% against the model's {} kB",
            m.measured_kb,
            m.faults,
            m.bytes_per_fault,
            m.error * 100.0,
            m.predicted_kb
        ));
    }
    out.extend(thp_in_force(r));
    if let Some(pt) = r.proc.mark_victim_pgtables_kb {
        out.push(format!(
            "the OOM killer found {pt} kB of page tables in its victim"
        ));
    }
    if let Some(v) = &r.proc.vmas {
        if v.unmerged_runs > 0 && v.mergeable_savings >= 100 {
            out.push(format!(
                "{} VMAs{}: {} runs of adjacent same-permission anonymous VMAs did not merge (longest {}); merging would save {}",
                v.count,
                v.max_map_count.map(|m| format!(" of max_map_count {m}")).unwrap_or_default(),
                v.unmerged_runs,
                v.longest_run,
                v.mergeable_savings
            ));
        }
    }
    if let (Some(n), Some(c)) = (r.derived.faults, r.derived.cpu_per_fault_ns) {
        // Nanoseconds only mean time for the timer clocks.
        if r.clock.kind.is_hrtimer() {
            out.push(format!(
                "{c:.0} ns of fault-phase CPU per fault over {n} faults (counted from {})",
                r.derived
                    .faults_source
                    .as_deref()
                    .unwrap_or("an unnamed source")
            ));
        }
    }
    out
}

/// The THP mode the run had, and whether it was pinned for it: per-fault and exit
/// figures of zero-page reads mean different things under `never` and `always`.
fn thp_in_force(r: &Report) -> Option<String> {
    let settings = r.proc.settings.as_ref()?;
    let mode = settings["thp"]["enabled"].as_str()?;
    let before = settings["thp_before"]["enabled"].as_str();
    Some(match before {
        Some(b) if b != mode => {
            format!(
                "THP was {mode} for this run (pinned; the machine's setting, {b}, was restored)"
            )
        }
        _ => format!("THP was {mode} for this run (the machine's setting)"),
    })
}
