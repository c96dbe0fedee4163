//! The summary a run ends with: printed on one line and written to `workload.json`
//! ([`crate::record::run_dir::WorkloadSummary`]).

use std::fmt::Write as _;

use super::run::{EndState, Run};
use super::{Summary, Workload, proc_self};
use crate::analyze::pagetable::Prediction;
use crate::sys::monotonic_ns as mono_ns;

impl Run<'_> {
    pub(super) fn summarize(self, prediction: Option<Prediction>, what: String) -> Summary {
        let mono_unmapped_ns = mono_ns();
        let end = self.end.unwrap_or(EndState {
            status: None,
            maps_lines: 0,
            mapping_vmas: None,
        });
        let kb_of = |key: &str| end.status.as_ref().and_then(|s| s.kb(key));
        let vm_rss_kb = kb_of("VmRSS");
        let vm_pte_kb = kb_of("VmPTE");
        let rss_anon_kb = kb_of("RssAnon");
        let name = self.workload.name();
        let kb = |v: Option<u64>| v.map_or_else(|| "? kB".to_string(), |v| format!("{v} kB"));
        let mut line = format!(
            "{name}: {what}; VmRSS {}, VmPTE {}",
            kb(vm_rss_kb),
            kb(vm_pte_kb)
        );
        if let (Some(end), Some(start)) = (vm_pte_kb, self.vm_pte_kb_start) {
            let _ = write!(line, " ({:+} kB", end as i64 - start as i64);
            if let Some(p) = prediction {
                let _ = write!(line, ", model +{} kB", p.table_bytes.kib());
            }
            line.push(')');
        }
        if let Some(v) = end.mapping_vmas
            && matches!(self.workload, Workload::VmaFragment { .. })
        {
            let _ = write!(
                line,
                "; {v} VMAs in the mapping, {} lines in /proc/self/maps",
                end.maps_lines
            );
        }
        let _ = write!(line, "; faults attempted {}", self.faults);
        Summary {
            name: name.to_string(),
            params: self.workload.params(),
            faults_attempted: self.faults,
            vm_rss_kb,
            vm_pte_kb,
            vm_pte_kb_start: self.vm_pte_kb_start,
            rss_anon_kb,
            maps_lines: end.maps_lines,
            mapping_vmas: end.mapping_vmas,
            mono_start_ns: self.mono_start_ns,
            mono_end_ns: self.mono_end_ns,
            mono_unmapped_ns,
            predicted_table_bytes: prediction.map(|p| p.table_bytes.0),
            thp_enabled: proc_self::thp_mode(),
            checkpoints: self.checkpoints.seq,
            line,
        }
    }
}
