//! Built-in memory workloads, run in-process by `faultline workload NAME`.
//!
//! Each one reproduces a behaviour from the seeds so that a recording of it has known ground
//! truth: zero-page reads that grow only page tables, the breadth-first fill that costs 12, 8,
//! then 4 KiB of tables per fault, `madvise` that does (not) give tables back, a plain
//! malloc+memset hog, and VMAs that refuse to merge. They touch memory through raw `mmap`
//! (the `libc` crate) because the effect under study is the kernel's, and any allocator in
//! between would blur it.
//!
//! Evidence: a process that is OOM-killed cannot be read afterwards, so while a workload runs
//! it copies its own `/proc/self/{status,smaps_rollup,maps}` into numbered checkpoint
//! directories under `$FAULTLINE_RUN_DIR/proc/` (see [`RunContext`]), and at the end it writes
//! `$FAULTLINE_RUN_DIR/workload.json` ([`Summary`]).
//!
//! Safety: anything that could exhaust the host's memory ([`Workload::is_oom_prone`]) refuses
//! to run unless the process sits in a memory cgroup whose limit is below `MemAvailable`
//! ([`memory_cap`]), so the OOM killer acts inside that cgroup, not on the host.

//!
//! Files: the parameters and their checks ([`params`]), one file per workload, the mapping
//! wrapper that holds the unsafe `mmap` code ([`mapping`]), the run bookkeeping
//! (`run`, `checkpoints`, `summary`), and the readers of the process's own /proc and
//! cgroup limits (`proc_self`, `limits`).

mod breadth_first;
mod checkpoints;
mod limits;
mod madvise;
mod mapping;
mod memory_hog;
pub mod params;
mod proc_self;
mod run;
mod summary;
mod vma_fragment;
mod zero_page;

#[cfg(test)]
mod tests;

use crate::record::runner::Target;
use crate::units::Bytes;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::record::run_dir::WorkloadSummary as Summary;
pub use limits::{memory_cap, memory_cap_from};
pub use params::{Advice, Workload};

/// Default read stride of `zero-page`: one read per base page, so every read faults.
pub const DEFAULT_ZERO_PAGE_STRIDE: Bytes = Bytes(4 << 10);
/// Default span of `zero-page`: 64 GiB of reads costs about 128 MiB of page tables and
/// ~0 RSS (131,364 kB `VmPTE` seen on the project's machine).
pub const DEFAULT_ZERO_PAGE_SPAN: Bytes = Bytes(64 << 30);
/// Default span of `breadth-first`: 64 TiB = 128 PGD slots, leaving room in the 128 TiB user
/// address space for the 512 GiB alignment slack and the program itself.
pub const DEFAULT_BREADTH_FIRST_SPAN: Bytes = Bytes(64 << 40);
/// Default fault count of `madvise`: 647 MiB of tables if none are given back
/// (`MADV_FREE`), 256 MiB of PMD and PUD tables if the leaf tables go (`MADV_DONTNEED`).
pub const DEFAULT_MADVISE_FAULTS: u64 = 100_000;
/// Bytes advised after each read: the whole 2 MiB range of the page's leaf table. The read
/// page is the only one touched in that range, so this advises exactly that page's memory,
/// and a range covering the whole leaf table is what lets the kernel free the table: on
/// 6.18 (`CONFIG_PT_RECLAIM`, THP on or off) `MADV_DONTNEED` of 2 MiB freed one leaf table per
/// fault while `MADV_DONTNEED` of 4 KiB freed none *(seen here)*.
pub const MADVISE_LEN: Bytes = Bytes(2 << 20);
/// Default cell count of `vma-fragment`: about 20,000 VMAs, a third of the default
/// `vm.max_map_count` (65,530), so the worst case of 3 VMAs per cell still fits.
pub const DEFAULT_VMA_CELLS: u64 = 20_000;
/// The span `madvise` walks in breadth-first order: the seed's interlude amends the
/// breadth-first program, and its wide order is what makes freed leaf tables visible.
pub const MADVISE_SPAN: Bytes = DEFAULT_BREADTH_FIRST_SPAN;
/// The largest span accepted: the 47-bit user address space is 128 TiB and the program's own
/// mappings need part of the top terabyte (the seed rounded down to 127 TiB for the same
/// reason). The alignment slack can still make a span this large fail in `mmap`.
pub const MAX_SPAN: Bytes = Bytes(127 << 40);
/// The environment variable the runner uses to hand a run directory to the workload.
pub const RUN_DIR_ENV: &str = "FAULTLINE_RUN_DIR";
/// The environment variable that turns on per-access timestamps ([`RunContext::timestamps`])
/// when set to `1`.
pub const TIMESTAMPS_ENV: &str = "FAULTLINE_TIMESTAMPS";
/// The file in the run directory that receives the access timestamps: CLOCK_MONOTONIC in ns,
/// one little-endian `u64` per read, in access order.
pub const ACCESS_TIMES_FILE: &str = "access-times.u64le";
/// The most memory the access timestamps may take (32 Mi reads); larger runs are refused.
pub const MAX_TIMESTAMP_BYTES: u64 = 256 << 20;

/// Faults between periodic checkpoints of a run with a known length, at the least: copying
/// `/proc` files every few microseconds of faulting would measure the copying.
const CHECKPOINT_EVERY: u64 = 1 << 14;
/// Checkpoints in a run at most (start and end included), to keep run directories small
/// and the copying out of the profile.
const MAX_CHECKPOINTS: u64 = 16;
/// First checkpoint of an open-ended run (one meant to end in the OOM killer). Its
/// checkpoints then come every quarter of the faults so far. Open-ended runs only happen
/// under a memory cap, where periodic checkpoints are off (see `Checkpoints::new`), so
/// this schedule serves library callers that run one outside `faultline record`.
const OPEN_ENDED_FIRST: u64 = 1 << 10;
/// `/proc/self/maps` is copied at every checkpoint only while it stays below this size;
/// larger maps (vma-fragment) are copied at the start and end only.
const SMALL_MAPS: usize = 256 << 10;
/// VMAs kept free below `vm.max_map_count` for the program's own mappings and the transient
/// splits of `mprotect`.
const MAP_COUNT_MARGIN: u64 = 64;
/// Bytes per malloc in the memory hog (seed 001).
const HOG_CHUNK: usize = 4096;
/// Where a run keeps its evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    /// The run directory (`$FAULTLINE_RUN_DIR`): checkpoints go to `proc/checkpoints/` and
    /// `proc/checkpoints.jsonl` in it, the summary to `workload.json`. `None` writes nothing.
    pub checkpoint_dir: Option<PathBuf>,
    /// Record CLOCK_MONOTONIC just before every read of `zero-page` and write the times to
    /// [`ACCESS_TIMES_FILE`] in the run directory (which is then required), so that a
    /// recording of the `page-faults` event (taken with `perf record -k mono`) yields the
    /// time from each access to the fault's IRQ re-enable. Other workloads ignore it.
    pub timestamps: bool,
}

impl RunContext {
    /// The context the runner hands over in [`RUN_DIR_ENV`] (unset or empty means none) and
    /// [`TIMESTAMPS_ENV`] (`1` turns timestamps on).
    pub fn from_env() -> Self {
        RunContext {
            checkpoint_dir: std::env::var_os(RUN_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            timestamps: std::env::var_os(TIMESTAMPS_ENV).is_some_and(|v| v == "1"),
        }
    }
}

/// Why a workload could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A parameter is out of range.
    #[error("{workload}: {message}")]
    InvalidParams {
        /// The workload.
        workload: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The workload could exhaust the host's memory and no suitable memory cgroup limit
    /// protects it.
    #[error(
        "{workload}: refusing to run: {reason}; run it inside a memory cgroup whose limit \
         (v1 memory.limit_in_bytes, v2 memory.max) is below MemAvailable, with only the \
         workload process in it"
    )]
    NeedsMemoryCap {
        /// The workload.
        workload: &'static str,
        /// Why it is considered dangerous and what was found.
        reason: String,
    },
    /// Running would need more VMAs than `vm.max_map_count` allows.
    #[error(
        "{workload}: {cells} cells may need up to {needed} mappings (3 per cell plus {existing} \
         existing and {margin} spare), more than vm.max_map_count = {max}; use at most \
         {max_cells} cells, or --prefault"
    )]
    MapCount {
        /// The workload.
        workload: &'static str,
        /// Cells asked for.
        cells: u64,
        /// Mappings that might be needed.
        needed: u64,
        /// Mappings the process already has.
        existing: u64,
        /// The spare kept.
        margin: u64,
        /// `/proc/sys/vm/max_map_count`.
        max: u64,
        /// The largest cell count that fits.
        max_cells: u64,
    },
    /// A system call failed.
    #[error("{workload}: {call} failed: {source}")]
    Sys {
        /// The workload.
        workload: &'static str,
        /// The call and its arguments, readably.
        call: String,
        /// errno.
        source: io::Error,
    },
    /// Reading `/proc` or writing a checkpoint failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

pub(crate) fn invalid(workload: &'static str, message: impl Into<String>) -> WorkloadError {
    WorkloadError::InvalidParams {
        workload,
        message: message.into(),
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WorkloadError + '_ {
    move |source| WorkloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `w` in this process, prints its one-line summary on stdout and, with a run
/// directory, writes checkpoints and `workload.json`.
///
/// Refuses (without touching memory) when the parameters are invalid, or when the workload is
/// OOM-prone ([`Workload::is_oom_prone`]) and the process is not in a memory cgroup with a
/// limit below `MemAvailable`. Everything mapped is unmapped before returning, also on error.
pub fn run(w: &Workload, ctx: &RunContext) -> Result<Summary, WorkloadError> {
    w.validate()?;
    check_memory_safety(w)?;
    let summary = match *w {
        Workload::ZeroPage { stride, span } => zero_page::run(w, stride, span, ctx)?,
        Workload::BreadthFirst { faults, span } => breadth_first::run(w, faults, span, ctx)?,
        Workload::Madvise { advice, faults } => madvise::run(w, advice, faults, ctx)?,
        Workload::MemoryHog { limit } => memory_hog::run(w, limit, ctx)?,
        Workload::VmaFragment { cells, prefault } => vma_fragment::run(w, cells, prefault, ctx)?,
    };
    println!("{}", summary.line);
    if let Some(dir) = &ctx.checkpoint_dir {
        let run = crate::record::run_dir::RunDir::new(dir);
        run.write_summary(&summary).map_err(|e| WorkloadError::Io {
            path: run.summary_file(),
            source: io::Error::other(e.to_string()),
        })?;
    }
    Ok(summary)
}

fn check_memory_safety(w: &Workload) -> Result<(), WorkloadError> {
    let available = proc_self::mem_available();
    let prone = match available {
        Some(a) => w.is_oom_prone(a),
        None => matches!(w, Workload::MemoryHog { .. }) || w.expected_cost().is_none(),
    };
    if !prone {
        return Ok(());
    }
    let why = match (w.expected_cost(), available) {
        (None, _) => "it runs until the OOM killer stops it".to_string(),
        (Some(_), _) if matches!(w, Workload::MemoryHog { .. }) => {
            "the memory hog always runs under a memory cap, even with --limit".to_string()
        }
        (Some(c), Some(a)) => format!(
            "it may need {} MiB, MemAvailable is {} MiB",
            c.0 >> 20,
            a.0 >> 20
        ),
        (Some(c), None) => format!("it may need {} MiB", c.0 >> 20),
    };
    match (memory_cap(), available) {
        (None, _) => Err(WorkloadError::NeedsMemoryCap {
            workload: w.name(),
            reason: format!("{why}, and this process has no memory cgroup limit"),
        }),
        (Some(cap), Some(a)) if cap >= a => Err(WorkloadError::NeedsMemoryCap {
            workload: w.name(),
            reason: format!(
                "{why}, and the memory cgroup limit ({} MiB) is not below MemAvailable ({} MiB)",
                cap.0 >> 20,
                a.0 >> 20
            ),
        }),
        (Some(_), None) => Err(WorkloadError::NeedsMemoryCap {
            workload: w.name(),
            reason: format!("{why}, and MemAvailable could not be read to check the limit"),
        }),
        (Some(_), Some(_)) => Ok(()),
    }
}

/// The recording target for `w`, with the arguments it was given: whether it can exhaust
/// this host's memory (and so must run under `--mem-limit`), its parameters for the
/// manifest, and how many faults it will take when that is known.
pub fn record_target(w: &Workload, args: Vec<String>) -> Target {
    let mem_available = proc_self::mem_available().unwrap_or(Bytes(u64::MAX));
    Target::Workload {
        name: w.name().to_string(),
        args,
        oom_prone: w.is_oom_prone(mem_available),
        params: w.params(),
        expected_faults: w.expected_faults(),
    }
}
