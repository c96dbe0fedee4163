//! Checkpoints: copies of the workload's own /proc files taken while it runs, for
//! when it gets killed, indexed in `proc/checkpoints.jsonl`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{
    CHECKPOINT_EVERY, MAX_CHECKPOINTS, OPEN_ENDED_FIRST, RunContext, SMALL_MAPS, WorkloadError,
    io_err, memory_cap,
};
use crate::record::run_dir::{CheckpointLine, files};
use crate::sys::monotonic_ns as mono_ns;

/// Copies of `/proc/self` files taken while the workload runs, for when it gets killed.
pub(super) struct Checkpoints {
    /// `$FAULTLINE_RUN_DIR/proc`, or `None` to skip all of this.
    pub(super) proc_dir: Option<PathBuf>,
    log: Option<File>,
    pub(super) seq: u64,
    /// Faults at which the next periodic checkpoint is due (`u64::MAX` without a run dir,
    /// so the check in the fault loop is one comparison that never fires).
    pub(super) next_at: u64,
    interval: u64,
    /// Faults the run will make, when known: a periodic checkpoint at the very last fault
    /// would only duplicate the `end` one.
    expected: Option<u64>,
    maps_small: bool,
    /// Periodic checkpoints that came due, taken or not (bounds the schedule).
    periodic_due: u64,
    buf: Vec<u8>,
}

impl Checkpoints {
    pub(super) fn new(
        ctx: &RunContext,
        expected_faults: Option<u64>,
    ) -> Result<Self, WorkloadError> {
        let mut cp = Checkpoints {
            proc_dir: None,
            log: None,
            seq: 0,
            next_at: u64::MAX,
            interval: CHECKPOINT_EVERY,
            expected: expected_faults,
            maps_small: true,
            periodic_due: 0,
            buf: Vec::with_capacity(64 << 10),
        };
        let Some(run_dir) = &ctx.checkpoint_dir else {
            return Ok(cp);
        };
        let proc_dir = run_dir.join(files::PROC_DIR);
        let dir = proc_dir.join(files::CHECKPOINTS_DIR);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let log_path = proc_dir.join(files::CHECKPOINTS_LOG);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        // Spread a known run evenly over at most MAX_CHECKPOINTS - 2 periodic checkpoints.
        cp.interval = match expected_faults {
            Some(total) => CHECKPOINT_EVERY.max(total.div_ceil(MAX_CHECKPOINTS - 2)),
            None => OPEN_ENDED_FIRST,
        };
        // Inside a memory cap every page a checkpoint writes is charged to a cgroup that
        // is full of page tables, and the reclaim that follows costs more than the
        // workload (20 ms a checkpoint was measured): the runner's /proc sampler, outside
        // the cgroup, keeps the timeline instead, and only the start and end are copied.
        cp.next_at = if memory_cap().is_some() {
            u64::MAX
        } else {
            cp.interval
        };
        cp.proc_dir = Some(proc_dir);
        cp.log = Some(log);
        Ok(cp)
    }

    pub(super) fn periodic(&mut self, faults: u64) -> Result<(), WorkloadError> {
        if self.expected.is_some_and(|total| faults >= total) {
            self.next_at = u64::MAX;
            return Ok(());
        }
        if self.expected.is_none() {
            self.interval = OPEN_ENDED_FIRST.max(faults / 4);
        }
        self.next_at = faults.saturating_add(self.interval);
        self.periodic_due += 1;
        if self.periodic_due + 2 > MAX_CHECKPOINTS {
            self.next_at = u64::MAX;
            return Ok(());
        }
        let maps = self.maps_small;
        self.take_files(&format!("faults-{faults}"), faults, maps, false)
    }

    /// A start or end checkpoint: every file, `smaps_rollup` included.
    pub(super) fn take(
        &mut self,
        label: &str,
        faults: u64,
        maps: bool,
    ) -> Result<(), WorkloadError> {
        self.take_files(label, faults, maps, true)
    }

    /// Copies `status`, and `maps` and `smaps_rollup` when asked: `smaps_rollup` walks
    /// every page table of the process, which over a big fill costs more than the fill,
    /// so periodic checkpoints leave it out.
    fn take_files(
        &mut self,
        label: &str,
        faults: u64,
        maps: bool,
        smaps: bool,
    ) -> Result<(), WorkloadError> {
        let Some(proc_dir) = &self.proc_dir else {
            return Ok(());
        };
        let rel = format!("{}/{:04}-{label}", files::CHECKPOINTS_DIR, self.seq);
        let dir = proc_dir.join(&rel);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mono = mono_ns();
        let files = [
            Some("status"),
            smaps.then_some("smaps_rollup"),
            maps.then_some("maps"),
        ];
        for file in files.into_iter().flatten() {
            let src = Path::new("/proc/self").join(file);
            self.buf.clear();
            File::open(&src)
                .and_then(|mut f| f.read_to_end(&mut self.buf))
                .map_err(io_err(&src))?;
            if file == "maps" {
                self.maps_small = self.buf.len() < SMALL_MAPS;
            }
            let dst = dir.join(file);
            fs::write(&dst, &self.buf).map_err(io_err(&dst))?;
        }
        let line = CheckpointLine {
            seq: self.seq,
            label: label.to_string(),
            mono_ns: mono,
            faults,
            dir: rel,
        };
        if let Some(log) = &mut self.log {
            // One unbuffered write per line, so a kill mid-run leaves whole lines behind.
            let log_path = proc_dir.join(files::CHECKPOINTS_LOG);
            let mut text = serde_json::to_vec(&line).expect("CheckpointLine serialises");
            text.push(b'\n');
            log.write_all(&text).map_err(io_err(&log_path))?;
        }
        self.seq += 1;
        Ok(())
    }
}
