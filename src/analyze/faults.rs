//! How many page faults the workload itself took, for per-fault figures.
//!
//! The machine's `/proc/vmstat` pgfault delta counts every process: a 2 MiB-stride run
//! to OOM was credited 423,340 faults where its page tables imply about 262,000, and a
//! busy neighbour inflates it further. Only the workload's own counts are used here,
//! best first, and the source is named; with none of them there is no per-fault figure.

use std::path::Path;

use crate::analyze::pagetable::{self, Prediction};
use crate::record::run_dir::{ManifestTarget, WorkloadSummary, last_checkpoint};
use crate::units::Bytes;

/// A fault count and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultCount {
    /// Faults.
    pub faults: u64,
    /// Where the count came from, for the report.
    pub source: String,
}

/// What the workload left that can count its faults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// `workload.json`, written when the workload finishes.
    pub summary: Option<&'a WorkloadSummary>,
    /// The manifest's `target`: the workload and its parameters, or a command.
    pub target: Option<&'a ManifestTarget>,
    /// Sum of `page-faults` event periods on the workload's tasks.
    pub page_fault_events: u64,
    /// The OOM victim's page tables from `oom:mark_victim` (`pgtables=…kB`), in kB.
    pub victim_pgtables_kb: Option<u64>,
    /// The OOM victim's `anon-rss=…kB` from `oom:mark_victim`.
    pub victim_anon_rss_kb: Option<u64>,
    /// The run's `proc/` directory (checkpoints).
    pub proc_dir: Option<&'a Path>,
}

/// The workload's own fault count, best source first.
pub fn workload_faults(e: &Evidence) -> Option<FaultCount> {
    let found = |faults: u64, source: &str| {
        (faults > 0).then(|| FaultCount {
            faults,
            source: source.into(),
        })
    };
    if let Some(n) = e.summary.map(|s| s.faults_attempted) {
        return found(n, "workload summary (faults attempted)");
    }
    if let Some(c) = found(
        e.page_fault_events,
        "page-faults event on the workload's tasks (sum of periods)",
    ) {
        return Some(c);
    }
    if let Some(c) = from_tables(e) {
        return Some(c);
    }
    let checkpoint = e.proc_dir.and_then(last_checkpoint).map(|c| c.faults);
    found(
        checkpoint.unwrap_or(0),
        "the workload's last checkpoint (a lower bound: it ran on until killed)",
    )
}

/// Faults implied by what the OOM victim built: its page tables through the
/// workload's model, or its anonymous memory for the memory hog (one 4 KiB page a fault).
fn from_tables(e: &Evidence) -> Option<FaultCount> {
    let target = e.target?;
    let params = target.params.as_ref()?;
    let name = target.workload.as_deref()?;
    let tables =
        |kb: u64| Bytes(kb.saturating_sub(baseline_pte_kb(e.proc_dir).unwrap_or(0)) * 1024);
    let (faults, how) = match name {
        "breadth-first" => {
            let span = Bytes(params["span_bytes"].as_u64()?);
            let bytes = tables(e.victim_pgtables_kb?);
            let n = invert(bytes, |n| pagetable::predict_breadth_first_span(n, span));
            (n, "breadth-first model")
        }
        // Below 2 MiB with THP a read may map a huge zero page and fault once per
        // 2 MiB, so the tables say nothing about reads; 2 MiB and up is one table a fault.
        "zero-page" if params["stride_bytes"].as_u64()? >= 2 << 20 => {
            let stride = Bytes(params["stride_bytes"].as_u64()?);
            let bytes = tables(e.victim_pgtables_kb?);
            let n = invert(bytes, |n| {
                pagetable::predict_zero_page(Bytes(n.saturating_mul(stride.0)), stride)
            });
            (n, "zero-page model, one PTE table per 2 MiB read")
        }
        "memory-hog" => {
            let n = e.victim_anon_rss_kb? / 4;
            return (n > 0).then(|| FaultCount {
                faults: n,
                source: "the OOM victim's anon-rss (oom:mark_victim) / 4 KiB, one fault per page"
                    .into(),
            });
        }
        _ => return None,
    };
    (faults > 0).then(|| FaultCount {
        faults,
        source: format!(
            "page tables the OOM victim built (oom:mark_victim pgtables={} kB) through the {how}",
            e.victim_pgtables_kb.unwrap_or(0)
        ),
    })
}

/// The smallest fault count whose predicted tables reach `bytes` (the model grows
/// monotonically with faults), by bisection.
fn invert(bytes: Bytes, model: impl Fn(u64) -> Prediction) -> u64 {
    let (mut lo, mut hi) = (0u64, 1u64 << 40);
    if model(hi).table_bytes.0 < bytes.0 {
        return model(hi).faults;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if model(mid).table_bytes.0 >= bytes.0 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The workload's `VmPTE` before it faulted, from its first checkpoint's status.
fn baseline_pte_kb(proc_dir: Option<&Path>) -> Option<u64> {
    let dir = proc_dir?;
    let text = std::fs::read_to_string(dir.join("checkpoints.jsonl")).ok()?;
    let first: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
    let status = std::fs::read_to_string(dir.join(first["dir"].as_str()?).join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPTE:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workload(name: &str, params: serde_json::Value) -> ManifestTarget {
        ManifestTarget {
            workload: Some(name.into()),
            params: Some(params),
            ..ManifestTarget::default()
        }
    }

    #[test]
    fn oom_victims_are_counted_from_their_own_tables_not_the_machine() {
        // seed 000's 2 MiB stride to OOM: pgtables=261772kB is ~65,443 one-table reads.
        let target = workload(
            "zero-page",
            json!({"span_bytes": 1u64 << 40, "stride_bytes": 2u64 << 20}),
        );
        let e = Evidence {
            target: Some(&target),
            victim_pgtables_kb: Some(261_772),
            ..Evidence::default()
        };
        let c = workload_faults(&e).unwrap();
        // 4 KiB per read plus a PMD table per 1 GiB (512 reads) and one PUD table.
        assert!((65_000..=65_443).contains(&c.faults), "{c:?}");
        assert!(c.source.contains("pgtables=261772 kB"), "{c:?}");
        // Breadth-first: 12, 8 then 4 KiB a read; 261,760 kB is about 32,656 reads.
        let target = workload(
            "breadth-first",
            json!({"span_bytes": 64u64 << 40, "faults": null}),
        );
        let e = Evidence {
            target: Some(&target),
            victim_pgtables_kb: Some(261_760),
            ..Evidence::default()
        };
        let c = workload_faults(&e).unwrap();
        assert_eq!(c.faults, 32_656, "{c:?}");
        // The page-faults event on its own tasks beats any model.
        let c = workload_faults(&Evidence {
            page_fault_events: 1234,
            ..e
        })
        .unwrap();
        assert_eq!((c.faults, c.source.contains("page-faults")), (1234, true));
        // A command leaves nothing of its own: no per-fault figure at all.
        let command = ManifestTarget {
            command: Some(vec!["stress".into()]),
            ..ManifestTarget::default()
        };
        assert_eq!(
            workload_faults(&Evidence {
                target: Some(&command),
                victim_pgtables_kb: Some(180),
                ..Evidence::default()
            }),
            None
        );
    }
}
