//! The /proc sampler of a recording: every interval it stamps the workload's
//! `/proc/<pid>/status`, plus `/proc/meminfo` and `/proc/vmstat`, with CLOCK_MONOTONIC
//! (the clock of `perf record -k mono`) into `proc/timeline.jsonl`, keeps the first
//! and the last `maps` it saw, and reports progress.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use crate::procfs::{Meminfo, Status, Vmstat, live};
use crate::record::run_dir::{RunDir, TimelineLine, files};
use crate::sys::monotonic_ns;

/// `/proc/meminfo` fields kept in the timeline (kB).
pub const MEMINFO_FIELDS: [&str; 7] = [
    "MemAvailable",
    "MemFree",
    "AnonPages",
    "AnonHugePages",
    "PageTables",
    "Committed_AS",
    "CommitLimit",
];

/// `/proc/vmstat` counters kept in the timeline.
pub const VMSTAT_FIELDS: [&str; 6] = [
    "pgfault",
    "pgmajfault",
    "thp_fault_alloc",
    "thp_zero_page_alloc",
    "oom_kill",
    "nr_page_table_pages",
];

/// How often (in ticks) `maps` is re-read: it can be tens of thousands of lines.
const MAPS_EVERY: u64 = 25;

/// Samples /proc until `stop` is set; returns the number of timeline lines written.
/// Errors reading /proc are not fatal: the workload may be gone, and the rest of the
/// recording is still worth having.
pub fn run(
    run_dir: &Path,
    interval: Duration,
    stop: &AtomicBool,
    progress: &(dyn Fn(&str) + Sync),
) -> std::io::Result<u64> {
    let run = RunDir::new(run_dir);
    let proc_dir = run.proc_dir();
    let mut timeline = BufWriter::new(fs::File::create(proc_dir.join(files::TIMELINE))?);
    let mut pid: Option<i32> = None;
    let mut gone = false;
    let mut buf = String::new();
    let mut maps_last = String::new();
    let mut lines = 0u64;
    let mut tick = 0u64;
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if pid.is_none() {
            pid = fs::read_to_string(run.pid_file())
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if let Some(p) = pid {
                if live::read_to_string_reuse(&live::proc_path(Some(p), "maps"), &mut buf).is_ok() {
                    fs::write(proc_dir.join(files::MAPS_START), &buf)?;
                    maps_last.clone_from(&buf);
                }
            }
        }
        let mut line = TimelineLine {
            mono_ns: monotonic_ns(),
            ..TimelineLine::default()
        };
        let mut status_line = String::new();
        if let (Some(p), false) = (pid, gone) {
            let path = live::proc_path(Some(p), "status");
            match live::read_to_string_reuse(&path, &mut buf) {
                Ok(()) => {
                    if let Ok(st) = Status::parse(&buf, &path) {
                        status_line = format!(
                            " · VmRSS {} kB · VmPTE {} kB",
                            st.kb("VmRSS").unwrap_or(0),
                            st.kb("VmPTE").unwrap_or(0)
                        );
                        line.pid = Some(p);
                        line.status = Some(st.kb_fields().clone());
                    }
                }
                Err(_) => gone = true,
            }
            if !gone && tick % MAPS_EVERY == MAPS_EVERY - 1 {
                let maps = live::proc_path(Some(p), "maps");
                if live::read_to_string_reuse(&maps, &mut buf).is_ok() && !buf.is_empty() {
                    std::mem::swap(&mut maps_last, &mut buf);
                }
            }
        }
        line.meminfo = live::read_meminfo().ok().map(|m| pick_meminfo(&m));
        line.vmstat = live::read_vmstat().ok().map(|v| pick_vmstat(&v));
        serde_json::to_writer(&mut timeline, &line)?;
        timeline.write_all(b"\n")?;
        lines += 1;
        tick += 1;
        let data_size = fs::metadata(run.perf_data()).map_or(0, |m| m.len());
        progress(&format!(
            "recording · perf.data {:.1} MiB{status_line}",
            data_size as f64 / (1 << 20) as f64
        ));
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    timeline.flush()?;
    if !maps_last.is_empty() {
        fs::write(proc_dir.join(files::MAPS_LAST), &maps_last)?;
    }
    Ok(lines)
}

fn pick_meminfo(m: &Meminfo) -> BTreeMap<String, u64> {
    MEMINFO_FIELDS
        .iter()
        .filter_map(|k| Some((k.to_string(), m.kb(k)?)))
        .collect()
}

fn pick_vmstat(v: &Vmstat) -> BTreeMap<String, u64> {
    VMSTAT_FIELDS
        .iter()
        .filter_map(|k| Some((k.to_string(), v.get(k)?)))
        .collect()
}
