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

use crate::analyze::pagetable::{
    self, BreadthFirstOrder, PAGE_SIZE, PMD_TABLE_SPAN, PUD_TABLE_SPAN, Prediction,
};
use crate::units::Bytes;
use serde::Serialize;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// Which `madvise` advice the `madvise` workload gives after each read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Advice {
    /// `MADV_FREE`: the kernel may reclaim the pages lazily, but never the page tables, so
    /// table memory grows exactly as without the madvise (the seed's "infinite overhead":
    /// 8 KiB per fault in the first PMD pass, measured the same on 6.18 with THP on or off).
    Free,
    /// `MADV_DONTNEED`: zaps the mappings now, and a zap covering a whole leaf table can free
    /// it: with THP through `zap_huge_pmd` freeing the table deposited for the huge zero
    /// page (the seed's ~512 MiB plateau of PMD tables), and on kernels with
    /// `CONFIG_PT_RECLAIM` (6.14+, x86) also without THP, by reclaiming the emptied PTE
    /// table. Older kernels without THP keep every leaf table, like `MADV_FREE`.
    DontNeed,
}

impl Advice {
    /// The spelling used on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Advice::Free => "free",
            Advice::DontNeed => "dontneed",
        }
    }

    fn flag(self) -> libc::c_int {
        match self {
            Advice::Free => libc::MADV_FREE,
            Advice::DontNeed => libc::MADV_DONTNEED,
        }
    }

    fn kernel_name(self) -> &'static str {
        match self {
            Advice::Free => "MADV_FREE",
            Advice::DontNeed => "MADV_DONTNEED",
        }
    }
}

impl FromStr for Advice {
    type Err = String;

    /// Accepts `free`, `dontneed` and `dont-need`, and the `MADV_` names, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.strip_prefix("madv_").unwrap_or(&lower) {
            "free" => Ok(Advice::Free),
            "dontneed" | "dont-need" | "dont_need" => Ok(Advice::DontNeed),
            _ => Err(format!("{s:?}: unknown advice (use free or dontneed)")),
        }
    }
}

/// A built-in workload and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// Read one byte every `stride` over `span` of a `PROT_READ`, `MAP_NORESERVE` private
    /// anonymous mapping. Every read maps the shared zero page, so RSS stays ~0 while page
    /// tables grow by one PTE table per 2 MiB touched (with a 2 MiB stride, one per read).
    ZeroPage {
        /// Distance between reads.
        stride: Bytes,
        /// Bytes covered by the reads.
        span: Bytes,
    },
    /// Seed 000's breadth-first fill ([`BreadthFirstOrder`]) over `span`, so each early
    /// fault creates new PUD, PMD and PTE tables. `faults: None` runs until the span is
    /// exhausted or the process is killed, which on any real machine means OOM.
    BreadthFirst {
        /// Reads to perform; `None` for all of them.
        faults: Option<u64>,
        /// Bytes the order ranges over.
        span: Bytes,
    },
    /// Read a page, then `madvise` it away, `faults` times in breadth-first order over
    /// [`MADVISE_SPAN`] (seed 000's interlude and Appendix B). Shows which advice gives page
    /// tables back; see [`Advice`] and [`MADVISE_LEN`].
    Madvise {
        /// `MADV_FREE` or `MADV_DONTNEED`.
        advice: Advice,
        /// Pages to read and advise.
        faults: u64,
    },
    /// `malloc(4096)` and fill it, in a loop (seed 001): ordinary anonymous RSS growth.
    /// Without `limit` it runs until the OOM killer ends it, so it only runs inside a
    /// memory cgroup with a limit ([`memory_cap`]).
    MemoryHog {
        /// Stop after allocating this much.
        limit: Option<Bytes>,
    },
    /// Seed 003's mprotect pattern on `cells` 3-page cells of a `PROT_NONE` mapping: make page
    /// 0 read-write and touch it, page 2 likewise, then make page 1 read-write. Pages 0 and 2
    /// fault in separately and get different `anon_vma`s, so the cells cannot merge and the
    /// mapping ends up as about one VMA per cell. With `prefault` the mapping is first made
    /// read-write and touched, so every later split shares one `anon_vma` and everything
    /// merges back.
    VmaFragment {
        /// Number of 3-page cells.
        cells: u64,
        /// Give the whole mapping one `anon_vma` before splitting it.
        prefault: bool,
    },
}

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

/// What a workload did and what it cost, as printed and written to `workload.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The workload's name ([`Workload::name`]).
    pub name: &'static str,
    /// Its parameters ([`Workload::params`]).
    pub params: serde_json::Value,
    /// Touches performed (reads, writes or allocations); with THP a read inside an already
    /// mapped huge zero page does not actually fault.
    pub faults_attempted: u64,
    /// `VmRSS` at the end, before unmapping, in kB.
    pub vm_rss_kb: Option<u64>,
    /// `VmPTE` at the end, before unmapping, in kB (all table levels, PGD included).
    pub vm_pte_kb: Option<u64>,
    /// `VmPTE` after mapping and before the first touch, in kB: the baseline to subtract.
    pub vm_pte_kb_start: Option<u64>,
    /// `RssAnon` at the end, in kB.
    pub rss_anon_kb: Option<u64>,
    /// Lines of `/proc/self/maps` at the end.
    pub maps_lines: u64,
    /// VMAs overlapping the workload's own mapping at the end (vma-fragment's result).
    pub mapping_vmas: Option<u64>,
    /// CLOCK_MONOTONIC before mapping, in ns (the clock `perf record -k mono` uses).
    pub mono_start_ns: u64,
    /// CLOCK_MONOTONIC after the last touch, in ns.
    pub mono_end_ns: u64,
    /// CLOCK_MONOTONIC after unmapping or freeing everything, in ns: the gap to
    /// `mono_end_ns` is the teardown cost (minus the final checkpoint).
    pub mono_unmapped_ns: u64,
    /// Page-table bytes the model predicts the touches create ([`crate::analyze::pagetable`]), when it
    /// applies. The PUD table can already exist for zero-page, making the delta 4 kB less.
    pub predicted_table_bytes: Option<u64>,
    /// The THP mode in force (`always`, `madvise`, `never`), which changes fault counts and
    /// what `MADV_DONTNEED` frees.
    pub thp_enabled: Option<String>,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The one-line summary printed on stdout.
    pub line: String,
}

impl Summary {
    /// Growth of `VmPTE` over the run, in kB, to compare with `predicted_table_bytes`.
    pub fn vm_pte_delta_kb(&self) -> Option<i64> {
        Some(self.vm_pte_kb? as i64 - self.vm_pte_kb_start? as i64)
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

fn invalid(workload: &'static str, message: impl Into<String>) -> WorkloadError {
    WorkloadError::InvalidParams {
        workload,
        message: message.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WorkloadError + '_ {
    move |source| WorkloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Workload {
    /// The name on the command line and in manifests.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::ZeroPage { .. } => "zero-page",
            Workload::BreadthFirst { .. } => "breadth-first",
            Workload::Madvise { .. } => "madvise",
            Workload::MemoryHog { .. } => "memory-hog",
            Workload::VmaFragment { .. } => "vma-fragment",
        }
    }

    /// The parameters as JSON for the run manifest; sizes are in bytes.
    pub fn params(&self) -> serde_json::Value {
        use serde_json::json;
        match *self {
            Workload::ZeroPage { stride, span } => {
                json!({"stride_bytes": stride.0, "span_bytes": span.0})
            }
            Workload::BreadthFirst { faults, span } => {
                json!({"faults": faults, "span_bytes": span.0})
            }
            Workload::Madvise { advice, faults } => {
                json!({
                    "advice": advice.as_str(),
                    "faults": faults,
                    "span_bytes": MADVISE_SPAN.0,
                    "advise_bytes": MADVISE_LEN.0,
                })
            }
            Workload::MemoryHog { limit } => {
                json!({"limit_bytes": limit.map(|l| l.0), "chunk_bytes": HOG_CHUNK})
            }
            Workload::VmaFragment { cells, prefault } => {
                json!({"cells": cells, "prefault": prefault})
            }
        }
    }

    /// What the page-table model predicts for this workload, where it applies (not for
    /// `MADV_DONTNEED`, whose result depends on THP and the kernel, nor for the hog and
    /// vma-fragment, whose tables are incidental).
    pub fn prediction(&self) -> Option<Prediction> {
        match *self {
            Workload::ZeroPage { stride, span } => Some(pagetable::predict_zero_page(span, stride)),
            Workload::BreadthFirst {
                faults: Some(f),
                span,
            } => Some(pagetable::predict_breadth_first_span(f, span)),
            Workload::BreadthFirst { faults: None, span } => Some(
                pagetable::predict_breadth_first_span(BreadthFirstOrder::total(span), span),
            ),
            Workload::Madvise {
                advice: Advice::Free,
                faults,
            } => Some(pagetable::predict_breadth_first_span(faults, MADVISE_SPAN)),
            _ => None,
        }
    }

    /// Memory the workload could need in the worst case (touched pages plus predicted page
    /// tables), or `None` when it is unbounded.
    pub fn expected_cost(&self) -> Option<Bytes> {
        match *self {
            Workload::ZeroPage { .. }
            | Workload::BreadthFirst {
                faults: Some(_), ..
            } => self.prediction().map(|p| p.table_bytes),
            Workload::BreadthFirst { faults: None, .. } | Workload::MemoryHog { limit: None } => {
                None
            }
            // glibc adds a 16-byte header to every 4 KiB chunk.
            Workload::MemoryHog { limit: Some(l) } => Some(Bytes(l.0 + l.0 / 256)),
            // Without freed tables, madvise costs what breadth-first costs.
            Workload::Madvise { faults, .. } => {
                Some(pagetable::predict_breadth_first_span(faults, MADVISE_SPAN).table_bytes)
            }
            // Two dirty pages per cell, plus roughly 1 KiB of VMA, anon_vma and table share.
            Workload::VmaFragment { cells, .. } => {
                Some(Bytes(cells.saturating_mul(2 * PAGE_SIZE + 1024)))
            }
        }
    }

    /// Whether running this could OOM a host with `mem_available` free: the memory hog
    /// always (its point is to reach the OOM killer), breadth-first without a fault count,
    /// and anything whose [`expected_cost`](Self::expected_cost) exceeds three quarters of
    /// `mem_available` (the rest of the system keeps allocating, and the model ignores the
    /// program's own memory).
    pub fn is_oom_prone(&self, mem_available: Bytes) -> bool {
        if matches!(self, Workload::MemoryHog { .. }) {
            return true;
        }
        match self.expected_cost() {
            None => true,
            Some(cost) => cost.0 > mem_available.0 / 4 * 3,
        }
    }

    /// Checks the parameters without touching memory.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let name = self.name();
        let span_ok = |span: Bytes| {
            if span.0 == 0 {
                Err(invalid(name, "span must be at least one byte"))
            } else if span > MAX_SPAN {
                Err(invalid(
                    name,
                    format!(
                        "span {span} is larger than {MAX_SPAN}; the 47-bit user address space \
                         is 128 TiB and the program needs some of it"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            Workload::ZeroPage { stride, span } => {
                span_ok(span)?;
                if stride.0 == 0 {
                    return Err(invalid(name, "stride must be at least one byte"));
                }
                if span < stride {
                    return Err(invalid(
                        name,
                        format!("span {span} is smaller than the stride {stride}"),
                    ));
                }
            }
            Workload::BreadthFirst { faults, span } => {
                span_ok(span)?;
                let total = BreadthFirstOrder::total(span);
                match faults {
                    Some(0) => return Err(invalid(name, "faults must be at least 1")),
                    Some(f) if f > total => {
                        return Err(invalid(
                            name,
                            format!("{f} faults asked, but a {span} span has {total} addresses"),
                        ));
                    }
                    _ => {}
                }
            }
            Workload::Madvise { faults, .. } => {
                let total = BreadthFirstOrder::total(MADVISE_SPAN);
                if faults == 0 || faults > total {
                    return Err(invalid(
                        name,
                        format!("faults must be between 1 and {total}, not {faults}"),
                    ));
                }
            }
            Workload::MemoryHog { limit } => {
                if let Some(l) = limit
                    && l.0 < HOG_CHUNK as u64
                {
                    return Err(invalid(
                        name,
                        format!("limit {l} is below one {HOG_CHUNK}-byte allocation"),
                    ));
                }
            }
            Workload::VmaFragment { cells, .. } => {
                if cells == 0 {
                    return Err(invalid(name, "cells must be at least 1"));
                }
                if cells.saturating_mul(3 * PAGE_SIZE) > MAX_SPAN.0 {
                    return Err(invalid(name, format!("{cells} cells do not fit in memory")));
                }
            }
        }
        Ok(())
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
        Workload::ZeroPage { stride, span } => run_zero_page(w, stride, span, ctx)?,
        Workload::BreadthFirst { faults, span } => run_breadth_first(w, faults, span, ctx)?,
        Workload::Madvise { advice, faults } => run_madvise(w, advice, faults, ctx)?,
        Workload::MemoryHog { limit } => run_memory_hog(w, limit, ctx)?,
        Workload::VmaFragment { cells, prefault } => run_vma_fragment(w, cells, prefault, ctx)?,
    };
    println!("{}", summary.line);
    if let Some(dir) = &ctx.checkpoint_dir {
        let path = dir.join("workload.json");
        let mut text = serde_json::to_string_pretty(&summary).expect("Summary serializes");
        text.push('\n');
        fs::write(&path, text).map_err(io_err(&path))?;
    }
    Ok(summary)
}

fn check_memory_safety(w: &Workload) -> Result<(), WorkloadError> {
    let available = mem_available();
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

// ---------------------------------------------------------------------------------------
// The workloads.

fn run_zero_page(
    w: &Workload,
    stride: Bytes,
    span: Bytes,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let reads = span.0.div_ceil(stride.0);
    let times_path = if ctx.timestamps {
        Some(access_times_path(w.name(), ctx, reads)?)
    } else {
        None
    };
    let mut run = Run::start(w, ctx, Some(reads))?;
    // Allocated and touched before mapping, so no fault of its own lands in the read loop.
    let mut times = times_path.as_ref().map(|_| prefaulted_vec(reads as usize));
    // 1 GiB alignment makes every 1 GiB region read lie inside this mapping, so its PMD
    // tables are new and the prediction is exact up to the shared PUD table; it also lets
    // THP map huge zero pages from the first read.
    let map = Mapping::aligned(w.name(), span, PMD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    match times.as_mut() {
        None => zero_page_reads::<false>(&mut run, &map, stride, span, &mut Vec::new())?,
        Some(t) => zero_page_reads::<true>(&mut run, &map, stride, span, t)?,
    }
    let prediction = pagetable::predict_zero_page_at(map.base as u64, span, stride);
    let what = format!("read {} pages at {stride} stride over {span}", run.faults);
    let summary = run.finish(map, Some(prediction), what)?;
    if let (Some(path), Some(times)) = (times_path, times) {
        let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
        fs::write(&path, bytes).map_err(io_err(&path))?;
    }
    Ok(summary)
}

/// The zero-page read loop. With `STAMP` it pushes CLOCK_MONOTONIC onto `times` just before
/// each read (`times` has room for all of them); without, the clock is not read at all.
#[inline(always)]
fn zero_page_reads<const STAMP: bool>(
    run: &mut Run<'_>,
    map: &Mapping,
    stride: Bytes,
    span: Bytes,
    times: &mut Vec<u64>,
) -> Result<(), WorkloadError> {
    let mut offset = 0;
    while offset < span.0 {
        // SAFETY: offset < span and the mapping holds `span` readable bytes from `base`.
        let p = unsafe { map.base.add(offset as usize) };
        // The address is ready before the clock is read and the time is stored after the
        // read, so only the end of the clock call separates the stamp from the fault.
        let t = if STAMP { mono_ns() } else { 0 };
        // SAFETY: as above.
        unsafe { std::ptr::read_volatile(p) };
        if STAMP {
            times.push(t);
        }
        run.faults += 1;
        run.maybe_checkpoint()?;
        offset += stride.0;
    }
    Ok(())
}

/// Where the access timestamps of `reads` reads go, after checking they fit in
/// [`MAX_TIMESTAMP_BYTES`] and that there is a run directory to put them in.
fn access_times_path(
    workload: &'static str,
    ctx: &RunContext,
    reads: u64,
) -> Result<PathBuf, WorkloadError> {
    let bytes = reads.saturating_mul(8);
    if bytes > MAX_TIMESTAMP_BYTES {
        return Err(invalid(
            workload,
            format!(
                "timestamps for {reads} reads would take {} MiB, more than the {} MiB allowed; \
                 use a smaller span or a larger stride (at most {} reads)",
                bytes >> 20,
                MAX_TIMESTAMP_BYTES >> 20,
                MAX_TIMESTAMP_BYTES / 8
            ),
        ));
    }
    let dir = ctx.checkpoint_dir.as_ref().ok_or_else(|| {
        invalid(
            workload,
            format!("timestamps need a run directory to write {ACCESS_TIMES_FILE} to (set {RUN_DIR_ENV})"),
        )
    })?;
    Ok(dir.join(ACCESS_TIMES_FILE))
}

/// An empty vector with room for `n` values whose pages are already faulted in, so that
/// filling it causes no page faults.
fn prefaulted_vec(n: usize) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(n);
    let per_page = PAGE_SIZE as usize / std::mem::size_of::<u64>();
    for slot in v.spare_capacity_mut().iter_mut().step_by(per_page) {
        // SAFETY: `slot` is a valid, writable (if uninitialised) element of the allocation;
        // the volatile write keeps the compiler from dropping a store it cannot see read.
        unsafe { std::ptr::write_volatile(slot.as_mut_ptr(), 0) };
    }
    v
}

fn run_breadth_first(
    w: &Workload,
    faults: Option<u64>,
    span: Bytes,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let limit = faults.unwrap_or_else(|| BreadthFirstOrder::total(span));
    let mut run = Run::start(w, ctx, faults)?;
    let map = Mapping::aligned(w.name(), span, PUD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    for offset in BreadthFirstOrder::new(span).take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        // SAFETY: the order yields offsets below `span`; the mapping is readable there.
        unsafe { std::ptr::read_volatile(map.base.add(offset as usize)) };
        run.faults += 1;
        run.maybe_checkpoint()?;
    }
    let prediction = pagetable::predict_breadth_first_span(run.faults, span);
    let what = format!(
        "read {} addresses breadth-first over {span} ({} PGD slots)",
        run.faults,
        span.0.div_ceil(PUD_TABLE_SPAN)
    );
    run.finish(map, Some(prediction), what)
}

fn run_madvise(
    w: &Workload,
    advice: Advice,
    faults: u64,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let span = MADVISE_SPAN;
    let mut run = Run::start(w, ctx, Some(faults))?;
    let map = Mapping::aligned(w.name(), span, PUD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    for offset in BreadthFirstOrder::new(span).take(faults as usize) {
        // SAFETY: offset < span inside the readable mapping.
        let page = unsafe { map.base.add(offset as usize) };
        // SAFETY: as above; a volatile read so the fault really happens.
        unsafe { std::ptr::read_volatile(page) };
        // SAFETY: `page` is 2 MiB aligned and, since the mapping extends a whole 512 GiB past
        // the span, the 2 MiB after it lie inside our own private anonymous mapping, whose
        // contents nobody relies on.
        let rc = unsafe { libc::madvise(page.cast(), MADVISE_LEN.0 as usize, advice.flag()) };
        if rc != 0 {
            return Err(WorkloadError::Sys {
                workload: w.name(),
                call: format!(
                    "madvise({page:p}, {}, {})",
                    MADVISE_LEN.0,
                    advice.kernel_name()
                ),
                source: io::Error::last_os_error(),
            });
        }
        run.faults += 1;
        run.maybe_checkpoint()?;
    }
    let prediction = match advice {
        Advice::Free => Some(pagetable::predict_breadth_first_span(run.faults, span)),
        Advice::DontNeed => None,
    };
    let what = format!(
        "read and {}'d {} pages breadth-first over {span}",
        advice.kernel_name(),
        run.faults
    );
    run.finish(map, prediction, what)
}

fn run_memory_hog(
    w: &Workload,
    limit: Option<Bytes>,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let chunks = limit.map(|l| l.0 / HOG_CHUNK as u64);
    let mut run = Run::start(w, ctx, chunks)?;
    run.checkpoint("start")?;
    // The chunks form a singly linked list through their first word, so they stay
    // reachable (nothing optimises them away) and can all be freed at the end without a
    // second allocation that would blur the RSS figures.
    let mut head: *mut u8 = std::ptr::null_mut();
    let mut failure = None;
    let mut fill = || -> Result<(), WorkloadError> {
        while chunks.is_none_or(|c| run.faults < c) {
            // SAFETY: plain malloc; checked for NULL below.
            let p = unsafe { libc::malloc(HOG_CHUNK) }.cast::<u8>();
            if p.is_null() {
                failure = Some(io::Error::last_os_error());
                break;
            }
            // SAFETY: p points to HOG_CHUNK writable bytes, aligned for a pointer (malloc
            // guarantees max_align_t alignment).
            unsafe {
                std::ptr::write_bytes(p, b'X', HOG_CHUNK);
                p.cast::<*mut u8>().write(head);
            }
            head = p;
            run.faults += 1;
            run.maybe_checkpoint()?;
        }
        run.end_fill()
    };
    let filled = fill();
    // Freed on every path, so an error (a failed checkpoint write) leaks nothing either.
    free_chain(head);
    filled?;
    if let Some(source) = failure {
        return Err(WorkloadError::Sys {
            workload: w.name(),
            call: format!("malloc({HOG_CHUNK}) after {} allocations", run.faults),
            source,
        });
    }
    let what = format!(
        "malloc({HOG_CHUNK})+memset {} times ({} MiB)",
        run.faults,
        (run.faults * HOG_CHUNK as u64) >> 20
    );
    Ok(run.summarize(None, what))
}

fn free_chain(mut head: *mut u8) {
    while !head.is_null() {
        // SAFETY: every node came from malloc in run_memory_hog and stores the next node in
        // its first word; each is freed exactly once.
        unsafe {
            let next = head.cast::<*mut u8>().read();
            libc::free(head.cast());
            head = next;
        }
    }
}

fn run_vma_fragment(
    w: &Workload,
    cells: u64,
    prefault: bool,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let name = w.name();
    if !prefault {
        check_map_count(name, cells)?;
    }
    let mut run = Run::start(w, ctx, Some(2 * cells))?;
    let page = PAGE_SIZE as usize;
    let len = Bytes(3 * cells * PAGE_SIZE);
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let map = if prefault {
        // Seed 003's workaround: fault one page while the mapping is a single VMA so it gets
        // an anon_vma; every VMA later split off it shares that anon_vma, so they can merge.
        let map = Mapping::new(name, len.0, rw)?;
        // SAFETY: the first page of a fresh read-write mapping.
        unsafe { std::ptr::write_volatile(map.base, 1) };
        mprotect(name, map.base, len.0 as usize, libc::PROT_NONE)?;
        map
    } else {
        Mapping::new(name, len.0, libc::PROT_NONE)?
    };
    run.mapped(&map)?;
    for cell in 0..cells as usize {
        // SAFETY: cell < cells, so the cell's three pages lie inside the 3 × cells pages.
        let (p0, p1, p2) = unsafe {
            let p0 = map.base.add(cell * 3 * page);
            (p0, p0.add(page), p0.add(2 * page))
        };
        // Page 0 first: it faults in alone and gets its own anon_vma (or its left
        // neighbour's, when it merged with the previous cell's read-write tail).
        mprotect(name, p0, page, rw)?;
        // SAFETY: p0 is inside the mapping and was just made read-write.
        unsafe { std::ptr::write_volatile(p0, 1) };
        run.faults += 1;
        // Page 2 next: its neighbours are PROT_NONE, so it gets a fresh anon_vma.
        mprotect(name, p2, page, rw)?;
        // SAFETY: p2 is inside the mapping and was just made read-write.
        unsafe { std::ptr::write_volatile(p2, 1) };
        run.faults += 1;
        // Page 1 last: it can join one neighbour but not both, their anon_vmas differ.
        mprotect(name, p1, page, rw)?;
        run.maybe_checkpoint()?;
    }
    let what = format!(
        "{cells} cells of 3 pages{}",
        if prefault { ", prefaulted" } else { "" }
    );
    run.finish(map, None, what)
}

fn mprotect(
    workload: &'static str,
    addr: *mut u8,
    len: usize,
    prot: libc::c_int,
) -> Result<(), WorkloadError> {
    // SAFETY: callers pass ranges inside a mapping they own and do not hold references into
    // it; changing protection cannot invalidate Rust-visible memory.
    if unsafe { libc::mprotect(addr.cast(), len, prot) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    let hint = if source.raw_os_error() == Some(libc::ENOMEM) {
        " (ENOMEM from mprotect usually means vm.max_map_count was reached)"
    } else {
        ""
    };
    Err(WorkloadError::Sys {
        workload,
        call: format!("mprotect({addr:p}, {len}, {prot}){hint}"),
        source,
    })
}

fn check_map_count(workload: &'static str, cells: u64) -> Result<(), WorkloadError> {
    let path = Path::new("/proc/sys/vm/max_map_count");
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let max: u64 = text.trim().parse().map_err(|_| WorkloadError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a number: {text:?}"),
        ),
    })?;
    let existing = maps_stats(None).0;
    let needed = cells
        .saturating_mul(3)
        .saturating_add(existing)
        .saturating_add(MAP_COUNT_MARGIN);
    if needed > max {
        return Err(WorkloadError::MapCount {
            workload,
            cells,
            needed,
            existing,
            margin: MAP_COUNT_MARGIN,
            max,
            max_cells: max.saturating_sub(existing + MAP_COUNT_MARGIN) / 3,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Mappings.

/// An anonymous private mapping that is unmapped when dropped, so every exit path (errors
/// included) gives its page tables back and tests do not disturb each other.
struct Mapping {
    addr: *mut u8,
    len: usize,
    /// Where the workload's reads start: `addr` rounded up to the requested alignment.
    base: *mut u8,
}

impl Mapping {
    fn new(workload: &'static str, len: u64, prot: libc::c_int) -> Result<Self, WorkloadError> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing aliases
        // nothing.
        let addr = unsafe { libc::mmap(std::ptr::null_mut(), len as usize, prot, flags, -1, 0) };
        if addr == libc::MAP_FAILED {
            let source = io::Error::last_os_error();
            // The usual cause for huge spans: the 128 TiB user space is split by the program's
            // own mappings (a PIE binary sits near 85 TiB), so no hole is big enough.
            let hole = largest_free_range()
                .filter(|&h| h < len)
                .map(|h| {
                    format!(
                        "; the largest free range in this process's address space is {}, \
                         so use a smaller span",
                        Bytes(h).human()
                    )
                })
                .unwrap_or_default();
            return Err(WorkloadError::Sys {
                workload,
                call: format!("mmap of {} ({len} bytes{hole})", Bytes(len).human()),
                source,
            });
        }
        let addr = addr.cast::<u8>();
        Ok(Mapping {
            addr,
            len: len as usize,
            base: addr,
        })
    }

    /// Maps `span` rounded up to `align`, plus `align`, and starts at the first aligned
    /// address: then every `align`-sized region the reads touch lies wholly inside this
    /// mapping, so no table at that level or below is shared with other mappings.
    fn aligned(
        workload: &'static str,
        span: Bytes,
        align: u64,
        prot: libc::c_int,
    ) -> Result<Self, WorkloadError> {
        let len = span
            .0
            .checked_next_multiple_of(align)
            .and_then(|l| l.checked_add(align))
            .ok_or_else(|| invalid(workload, format!("span {span} is too large")))?;
        let mut map = Mapping::new(workload, len, prot)?;
        let start = map.addr as u64;
        let skip = start.next_multiple_of(align) - start;
        // SAFETY: skip < align <= len - span, so base..base+span stays inside the mapping.
        map.base = unsafe { map.addr.add(skip as usize) };
        Ok(map)
    }

    fn range(&self) -> (u64, u64) {
        (self.addr as u64, self.addr as u64 + self.len as u64)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: addr/len are exactly what mmap returned, and no references into the mapping
        // outlive it (workloads only use raw pointers).
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

// ---------------------------------------------------------------------------------------
// Run bookkeeping: timing, checkpoints, the summary.

struct Run<'a> {
    workload: &'a Workload,
    faults: u64,
    mono_start_ns: u64,
    mono_end_ns: u64,
    vm_pte_kb_start: Option<u64>,
    mapping: Option<(u64, u64)>,
    end: Option<EndState>,
    checkpoints: Checkpoints,
}

/// Measurements taken after the last touch, before anything is freed.
struct EndState {
    status: String,
    maps_lines: u64,
    mapping_vmas: Option<u64>,
}

impl<'a> Run<'a> {
    fn start(
        workload: &'a Workload,
        ctx: &RunContext,
        expected_faults: Option<u64>,
    ) -> Result<Self, WorkloadError> {
        Ok(Run {
            workload,
            faults: 0,
            mono_start_ns: mono_ns(),
            mono_end_ns: 0,
            vm_pte_kb_start: None,
            mapping: None,
            end: None,
            checkpoints: Checkpoints::new(ctx, expected_faults)?,
        })
    }

    fn mapped(&mut self, map: &Mapping) -> Result<(), WorkloadError> {
        self.mapping = Some(map.range());
        self.checkpoint("mapped")
    }

    fn checkpoint(&mut self, label: &str) -> Result<(), WorkloadError> {
        // The first checkpoint comes after mapping and before the first touch: the baseline.
        if self.vm_pte_kb_start.is_none() {
            self.vm_pte_kb_start = status_kb(&read_self_status(), "VmPTE");
        }
        self.checkpoints.take(label, self.faults, true)
    }

    #[inline]
    fn maybe_checkpoint(&mut self) -> Result<(), WorkloadError> {
        if self.faults >= self.checkpoints.next_at {
            self.checkpoints.periodic(self.faults)?;
        }
        Ok(())
    }

    /// Records the end of the fill: the clock, `/proc` figures and the last checkpoint.
    fn end_fill(&mut self) -> Result<(), WorkloadError> {
        self.mono_end_ns = mono_ns();
        let status = read_self_status();
        let (maps_lines, mapping_vmas) = maps_stats(self.mapping);
        self.end = Some(EndState {
            status,
            maps_lines,
            mapping_vmas,
        });
        self.checkpoints.take("end", self.faults, true)
    }

    fn finish(
        mut self,
        map: Mapping,
        prediction: Option<Prediction>,
        what: String,
    ) -> Result<Summary, WorkloadError> {
        self.end_fill()?;
        drop(map);
        Ok(self.summarize(prediction, what))
    }

    fn summarize(self, prediction: Option<Prediction>, what: String) -> Summary {
        let mono_unmapped_ns = mono_ns();
        let end = self.end.unwrap_or(EndState {
            status: String::new(),
            maps_lines: 0,
            mapping_vmas: None,
        });
        let vm_rss_kb = status_kb(&end.status, "VmRSS");
        let vm_pte_kb = status_kb(&end.status, "VmPTE");
        let rss_anon_kb = status_kb(&end.status, "RssAnon");
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
            name,
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
            thp_enabled: thp_mode(),
            checkpoints: self.checkpoints.seq,
            line,
        }
    }
}

/// Copies of `/proc/self` files taken while the workload runs, for when it gets killed.
struct Checkpoints {
    /// `$FAULTLINE_RUN_DIR/proc`, or `None` to skip all of this.
    proc_dir: Option<PathBuf>,
    log: Option<File>,
    seq: u64,
    /// Faults at which the next periodic checkpoint is due (`u64::MAX` without a run dir,
    /// so the check in the fault loop is one comparison that never fires).
    next_at: u64,
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
    fn new(ctx: &RunContext, expected_faults: Option<u64>) -> Result<Self, WorkloadError> {
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
        let proc_dir = run_dir.join("proc");
        let dir = proc_dir.join("checkpoints");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let log_path = proc_dir.join("checkpoints.jsonl");
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

    fn periodic(&mut self, faults: u64) -> Result<(), WorkloadError> {
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
    fn take(&mut self, label: &str, faults: u64, maps: bool) -> Result<(), WorkloadError> {
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
        let rel = format!("checkpoints/{:04}-{label}", self.seq);
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
        let line = serde_json::json!({
            "seq": self.seq,
            "label": label,
            "mono_ns": mono,
            "faults": faults,
            "dir": rel,
        });
        if let Some(log) = &mut self.log {
            // One unbuffered write per line, so a kill mid-run leaves whole lines behind.
            let log_path = proc_dir.join("checkpoints.jsonl");
            log.write_all(format!("{line}\n").as_bytes())
                .map_err(io_err(&log_path))?;
        }
        self.seq += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Small readers of /proc and /sys (private on purpose: the procfs module is the full one).

use crate::sys::monotonic_ns as mono_ns;

/// The `kB` value of `key` in `/proc/*/status` or `/proc/meminfo` text.
fn status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn read_self_status() -> String {
    fs::read_to_string("/proc/self/status").unwrap_or_default()
}

fn mem_available() -> Option<Bytes> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    status_kb(&text, "MemAvailable").map(Bytes::from_kib)
}

/// Lines of `/proc/self/maps`, and how many of them overlap `range`.
fn maps_stats(range: Option<(u64, u64)>) -> (u64, Option<u64>) {
    let text = fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut lines = 0;
    let mut inside = 0;
    for line in text.lines() {
        lines += 1;
        let Some((lo, hi)) = range else { continue };
        let parsed = line
            .split_whitespace()
            .next()
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                ))
            });
        if let Some((start, end)) = parsed
            && start < hi
            && end > lo
        {
            inside += 1;
        }
    }
    (lines, range.map(|_| inside))
}

/// The largest unmapped range below the 128 TiB user limit: what one mmap can still get.
fn largest_free_range() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/maps").ok()?;
    let mut ranges: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_whitespace().next()?.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .filter(|&(start, _)| start < pagetable::USER_ADDRESS_SPACE)
        .collect();
    ranges.sort_unstable();
    // mmap never hands out the first 64 KiB (vm.mmap_min_addr).
    let mut prev_end = 0x10000;
    let mut best = 0;
    for (start, end) in ranges {
        best = best.max(start.saturating_sub(prev_end));
        prev_end = prev_end.max(end);
    }
    Some(best.max(pagetable::USER_ADDRESS_SPACE.saturating_sub(prev_end)))
}

fn thp_mode() -> Option<String> {
    crate::procfs::live::read_thp().ok().map(|t| t.enabled)
}

// ---------------------------------------------------------------------------------------
// Memory cgroup limits.

/// A finite limit from `memory.max` (v2: `max` means none) or `memory.limit_in_bytes` (v1:
/// "no limit" is a huge number near 2^63, so anything from 2^60 up counts as none).
fn parse_limit(text: &str, v1: bool) -> Option<Bytes> {
    let t = text.trim();
    if !v1 && t == "max" {
        return None;
    }
    let n: u64 = t.parse().ok()?;
    if v1 && n >= 1 << 60 {
        return None;
    }
    Some(Bytes(n))
}

/// The memory limit that applies to this process: the smallest finite limit of its memory
/// cgroup and that cgroup's ancestors (a parent's limit caps its children too), or `None`
/// when there is none. cgroup v1 (`/sys/fs/cgroup/memory/<path>/memory.limit_in_bytes`) and
/// v2 (`/sys/fs/cgroup/<path>/memory.max`, or under `unified/` on hybrid systems) are both
/// read.
pub fn memory_cap() -> Option<Bytes> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    memory_cap_from(&text, |p| fs::read_to_string(p).ok())
}

/// [`memory_cap`] from `/proc/self/cgroup` text and a file reader, so the parsing can be
/// tested on strings.
pub fn memory_cap_from(
    proc_self_cgroup: &str,
    read: impl Fn(&Path) -> Option<String>,
) -> Option<Bytes> {
    use crate::procfs::{CgroupVersion, memory_cgroup_path, parse_cgroup};
    let lines = parse_cgroup(proc_self_cgroup, Path::new("/proc/self/cgroup")).ok()?;
    let (version, path) = memory_cgroup_path(&lines)?;
    let (roots, file, v1): (&[&str], &str, bool) = match version {
        CgroupVersion::V1 => (&["/sys/fs/cgroup/memory"], "memory.limit_in_bytes", true),
        CgroupVersion::V2 => (
            &["/sys/fs/cgroup", "/sys/fs/cgroup/unified"],
            "memory.max",
            false,
        ),
    };
    // The cgroup itself, then each ancestor up to the root ("" + "/memory.max").
    let mut dirs = vec![path.trim_end_matches('/').to_string()];
    while let Some(i) = dirs.last().and_then(|d| d.rfind('/')) {
        let parent = dirs.last().map(|d| d[..i].to_string()).unwrap_or_default();
        dirs.push(parent);
    }
    dirs.dedup();
    let mut cap: Option<Bytes> = None;
    for dir in &dirs {
        let limit = roots.iter().find_map(|root| {
            let text = read(Path::new(&format!("{root}{dir}/{file}")))?;
            parse_limit(&text, v1)
        });
        if let Some(limit) = limit {
            cap = Some(cap.map_or(limit, |c| c.min(limit)));
        }
    }
    cap
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Mutex, MutexGuard};

    /// Workloads map terabytes of address space and measure the process's `VmPTE`; run them
    /// one at a time so they neither collide in the address space nor see each other's
    /// tables.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delta_close(s: &Summary, tolerance: f64, slack_kb: i64) {
        let delta = s.vm_pte_delta_kb().expect("VmPTE readable");
        let predicted = (s.predicted_table_bytes.expect("model applies") / 1024) as i64;
        let allowed = ((predicted as f64 * tolerance) as i64).max(slack_kb);
        assert!(
            (delta - predicted).abs() <= allowed,
            "{}: VmPTE grew {delta} kB, model {predicted} kB",
            s.name
        );
    }

    #[test]
    fn page_table_growth_matches_the_model() {
        let _g = serial();
        let ctx = RunContext::default();
        // 64 MiB at 4 KiB: 32 PTE + 1 PMD + 1 PUD tables predicted; the PUD table may
        // already exist (shared 512 GiB slot). The slack absorbs other tests' allocations in
        // this process; the 1 GiB run below is the tight check.
        let z = run(
            &Workload::ZeroPage {
                stride: Bytes(4096),
                span: Bytes(64 << 20),
            },
            &ctx,
        )
        .unwrap();
        assert_eq!(z.faults_attempted, 16_384);
        assert_eq!(z.predicted_table_bytes, Some(34 * 4096));
        delta_close(&z, 0.05, 32);
        let z = run(
            &Workload::ZeroPage {
                stride: Bytes(4096),
                span: Bytes(1 << 30),
            },
            &ctx,
        )
        .unwrap();
        assert_eq!(z.predicted_table_bytes, Some((512 + 1 + 1) * 4096));
        delta_close(&z, 0.05, 8);

        // 2048 reads over 64 TiB: all in the first PMD pass, 128 of them at 12 KiB.
        let b = run(
            &Workload::BreadthFirst {
                faults: Some(2048),
                span: DEFAULT_BREADTH_FIRST_SPAN,
            },
            &ctx,
        )
        .unwrap();
        assert_eq!(b.predicted_table_bytes, Some((2048 + 2048 + 128) * 4096));
        delta_close(&b, 0.05, 8);

        // Over 1 TiB (2 PGD slots) the first pass ends after 1024 reads: 4 KiB per read after.
        let small = run(
            &Workload::BreadthFirst {
                faults: Some(2048),
                span: Bytes(1 << 40),
            },
            &ctx,
        )
        .unwrap();
        assert_eq!(small.predicted_table_bytes, Some((2048 + 1024 + 2) * 4096));
        delta_close(&small, 0.05, 8);

        // MADV_FREE gives no tables back.
        let free = run(
            &Workload::Madvise {
                advice: Advice::Free,
                faults: 1000,
            },
            &ctx,
        )
        .unwrap();
        delta_close(&free, 0.05, 8);
    }

    #[test]
    fn madvise_both_advices_run() {
        let _g = serial();
        let mut deltas = vec![];
        for advice in [Advice::Free, Advice::DontNeed] {
            let s = run(
                &Workload::Madvise {
                    advice,
                    faults: 1000,
                },
                &RunContext::default(),
            )
            .unwrap();
            assert_eq!(s.faults_attempted, 1000);
            assert_eq!(s.params["advice"], advice.as_str());
            deltas.push(s.vm_pte_delta_kb().unwrap());
        }
        // MADV_DONTNEED never keeps more tables than MADV_FREE; whether it keeps fewer depends
        // on THP and CONFIG_PT_RECLAIM (on 6.18 it frees all 1000 leaf tables).
        assert!(deltas[1] <= deltas[0] + deltas[0] / 20, "{deltas:?}");
    }

    #[test]
    fn vma_fragment_splits_and_prefault_merges() {
        let _g = serial();
        let before = maps_stats(None).0;
        let split = run(
            &Workload::VmaFragment {
                cells: 1000,
                prefault: false,
            },
            &RunContext::default(),
        )
        .unwrap();
        assert!(split.mapping_vmas.unwrap() >= 1000, "{}", split.line);
        // Other tests' threads come and go (a stack and a guard each), hence the slack.
        assert!(split.maps_lines + 64 >= before + 1000, "{}", split.line);
        assert_eq!(split.faults_attempted, 2000);
        let merged = run(
            &Workload::VmaFragment {
                cells: 1000,
                prefault: true,
            },
            &RunContext::default(),
        )
        .unwrap();
        assert!(merged.mapping_vmas.unwrap() <= 10, "{}", merged.line);
        // Everything was unmapped again.
        assert!(maps_stats(None).0 < before + 50);
    }

    #[test]
    fn checkpoints_are_written() {
        let _g = serial();
        let dir = std::env::temp_dir().join(format!("faultline-wl-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ctx = RunContext {
            checkpoint_dir: Some(dir.clone()),
            ..RunContext::default()
        };
        let s = run(
            &Workload::ZeroPage {
                stride: Bytes(4096),
                span: Bytes(256 << 20),
            },
            &ctx,
        )
        .unwrap();
        // 65,536 reads: mapped, 3 periodic (every 16,384), end.
        assert_eq!(s.checkpoints, 5);
        let log = fs::read_to_string(dir.join("proc/checkpoints.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["label"], "mapped");
        assert_eq!(lines[0]["dir"], "checkpoints/0000-mapped");
        assert_eq!(lines[1]["faults"], 16_384);
        assert_eq!(lines[4]["label"], "end");
        for l in &lines {
            let d = dir.join("proc").join(l["dir"].as_str().unwrap());
            let status = fs::read_to_string(d.join("status")).unwrap();
            assert!(status_kb(&status, "VmPTE").is_some());
            // smaps_rollup walks every page table: only at the start and the end.
            let edge = l["label"] == "mapped" || l["label"] == "end";
            assert_eq!(d.join("smaps_rollup").exists(), edge, "{l}");
            assert!(d.join("maps").exists());
        }
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("workload.json")).unwrap()).unwrap();
        assert_eq!(json["name"], "zero-page");
        assert_eq!(json["faults_attempted"], 65_536);
        assert!(json["mono_end_ns"].as_u64() >= json["mono_start_ns"].as_u64());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zero_page_timestamps_are_written() {
        let _g = serial();
        let dir = std::env::temp_dir().join(format!("faultline-ts-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ctx = RunContext {
            checkpoint_dir: Some(dir.clone()),
            timestamps: true,
        };
        let w = Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(64 << 20),
        };
        let s = run(&w, &ctx).unwrap();
        assert_eq!(s.faults_attempted, 16_384);
        let bytes = fs::read(dir.join(ACCESS_TIMES_FILE)).unwrap();
        assert_eq!(bytes.len(), 16_384 * 8);
        let times: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert!(times.windows(2).all(|p| p[0] <= p[1]), "not in order");
        assert!(
            times[0] >= s.mono_start_ns,
            "{} < {}",
            times[0],
            s.mono_start_ns
        );
        assert!(times[times.len() - 1] <= s.mono_end_ns);
        // Without the flag nothing is written.
        fs::remove_file(dir.join(ACCESS_TIMES_FILE)).unwrap();
        let plain = RunContext {
            timestamps: false,
            ..ctx.clone()
        };
        run(&w, &plain).unwrap();
        assert!(!dir.join(ACCESS_TIMES_FILE).exists());
        // Timestamps need a run directory, and refuse more than 256 MiB of them (2^26 reads
        // here) before mapping anything.
        let no_dir = RunContext {
            checkpoint_dir: None,
            timestamps: true,
        };
        let err = run(&w, &no_dir).unwrap_err();
        assert!(err.to_string().contains(RUN_DIR_ENV), "{err}");
        let huge = Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(256 << 30),
        };
        let err = run(&huge, &ctx).unwrap_err();
        assert!(
            matches!(err, WorkloadError::InvalidParams { .. })
                && err.to_string().contains("256 MiB"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checkpoint_schedule_stays_bounded() {
        let dir = std::env::temp_dir().join(format!("faultline-cp-test-{}", std::process::id()));
        let ctx = RunContext {
            checkpoint_dir: Some(dir.clone()),
            ..RunContext::default()
        };
        // Count how often periodic checkpoints come due, without taking them.
        for expected in [Some(1u64 << 30), None] {
            let mut cp = Checkpoints::new(&ctx, expected).unwrap();
            cp.proc_dir = None; // take() then writes nothing
            let mut due = 0;
            let mut last = 0;
            loop {
                let faults = cp.next_at;
                if faults >= 1 << 30 {
                    break;
                }
                cp.periodic(faults).unwrap();
                due += 1;
                last = faults;
            }
            // At most MAX_CHECKPOINTS - 2 are taken; one more comes due and is refused.
            assert!(due < MAX_CHECKPOINTS, "{expected:?}: {due}");
            if expected.is_some() {
                // A run of known length is covered to its end.
                assert!(last >= (1 << 30) / 5 * 4, "{expected:?}: last at {last}");
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_parameters_are_errors() {
        let bad = [
            Workload::ZeroPage {
                stride: Bytes(0),
                span: Bytes(1 << 20),
            },
            Workload::ZeroPage {
                stride: Bytes(2 << 20),
                span: Bytes(1 << 20),
            },
            Workload::ZeroPage {
                stride: Bytes(4096),
                span: Bytes(200 << 40),
            },
            Workload::BreadthFirst {
                faults: Some(0),
                span: Bytes(1 << 40),
            },
            Workload::BreadthFirst {
                faults: Some(600_000),
                span: Bytes(1 << 40),
            },
            Workload::BreadthFirst {
                faults: None,
                span: Bytes(0),
            },
            Workload::Madvise {
                advice: Advice::Free,
                faults: 0,
            },
            Workload::MemoryHog {
                limit: Some(Bytes(100)),
            },
            Workload::VmaFragment {
                cells: 0,
                prefault: false,
            },
        ];
        for w in bad {
            let err = run(&w, &RunContext::default()).unwrap_err();
            assert!(
                matches!(err, WorkloadError::InvalidParams { .. }),
                "{w:?}: {err}"
            );
        }
        let err = run(
            &Workload::VmaFragment {
                cells: 1_000_000,
                prefault: false,
            },
            &RunContext::default(),
        )
        .unwrap_err();
        assert!(matches!(err, WorkloadError::MapCount { .. }), "{err}");
        assert!(err.to_string().contains("max_map_count"));
    }

    #[test]
    fn oom_prone_workloads() {
        let avail = Bytes(24 << 30);
        assert!(
            Workload::MemoryHog {
                limit: Some(Bytes(1 << 20))
            }
            .is_oom_prone(avail)
        );
        assert!(
            Workload::BreadthFirst {
                faults: None,
                span: DEFAULT_BREADTH_FIRST_SPAN
            }
            .is_oom_prone(avail)
        );
        assert!(
            !Workload::BreadthFirst {
                faults: Some(200_000),
                span: DEFAULT_BREADTH_FIRST_SPAN
            }
            .is_oom_prone(avail)
        );
        // 64 TiB of 4 KiB zero-page reads would need 128 GiB of tables.
        assert!(
            Workload::ZeroPage {
                stride: DEFAULT_ZERO_PAGE_STRIDE,
                span: Bytes(64 << 40)
            }
            .is_oom_prone(avail)
        );
        let defaults = [
            Workload::ZeroPage {
                stride: DEFAULT_ZERO_PAGE_STRIDE,
                span: DEFAULT_ZERO_PAGE_SPAN,
            },
            Workload::Madvise {
                advice: Advice::Free,
                faults: DEFAULT_MADVISE_FAULTS,
            },
            Workload::VmaFragment {
                cells: DEFAULT_VMA_CELLS,
                prefault: false,
            },
        ];
        for w in defaults {
            assert!(!w.is_oom_prone(avail), "{w:?}");
            assert!(w.is_oom_prone(Bytes(64 << 20)), "{w:?}");
        }
    }

    #[test]
    fn memory_hog_needs_a_cap() {
        let _g = serial();
        let w = Workload::MemoryHog {
            limit: Some(Bytes(1 << 20)),
        };
        match (memory_cap(), run(&w, &RunContext::default())) {
            (None, Err(WorkloadError::NeedsMemoryCap { .. })) => {}
            // Inside a capped cgroup the 1 MiB run is harmless and must succeed.
            (Some(_), Ok(s)) => assert_eq!(s.faults_attempted, 256),
            (Some(_), Err(WorkloadError::NeedsMemoryCap { .. })) => {}
            (cap, other) => panic!("cap {cap:?}: {other:?}"),
        }
    }

    #[test]
    fn advice_parses() {
        assert_eq!("free".parse(), Ok(Advice::Free));
        assert_eq!("MADV_DONTNEED".parse(), Ok(Advice::DontNeed));
        assert_eq!("dont-need".parse(), Ok(Advice::DontNeed));
        assert!("never".parse::<Advice>().is_err());
    }

    #[test]
    fn status_parser() {
        let text = "Name:\tx\nVmRSS:\t     704 kB\nVmPTE:\t  131364 kB\nVmPTEx:\t1 kB\n";
        assert_eq!(status_kb(text, "VmRSS"), Some(704));
        assert_eq!(status_kb(text, "VmPTE"), Some(131_364));
        assert_eq!(status_kb(text, "RssAnon"), None);
        assert_eq!(
            status_kb("MemAvailable:   24304524 kB\n", "MemAvailable"),
            Some(24_304_524)
        );
    }

    fn reader(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        move |p| map.get(p).cloned()
    }

    #[test]
    fn memory_cap_v1() {
        let cgroup = "9:name=systemd:/\n4:memory:/faultline/run-1\n1:cpu,cpuacct:/\n0::/\n";
        let unlimited = "9223372036854771712\n";
        let files = [
            (
                "/sys/fs/cgroup/memory/faultline/run-1/memory.limit_in_bytes",
                "67108864\n",
            ),
            (
                "/sys/fs/cgroup/memory/faultline/memory.limit_in_bytes",
                unlimited,
            ),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", unlimited),
        ];
        assert_eq!(
            memory_cap_from(cgroup, reader(&files)),
            Some(Bytes(64 << 20))
        );
        // This machine's layout: a v1 cgroup without a limit anywhere.
        let here = "4:memory:/process_api/bd7e\n0::/\n";
        let files = [
            (
                "/sys/fs/cgroup/memory/process_api/bd7e/memory.limit_in_bytes",
                unlimited,
            ),
            (
                "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
                unlimited,
            ),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", unlimited),
        ];
        assert_eq!(memory_cap_from(here, reader(&files)), None);
        // A parent's limit caps the child.
        let files = [
            (
                "/sys/fs/cgroup/memory/process_api/bd7e/memory.limit_in_bytes",
                unlimited,
            ),
            (
                "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
                "1073741824",
            ),
        ];
        assert_eq!(memory_cap_from(here, reader(&files)), Some(Bytes(1 << 30)));
    }

    #[test]
    fn memory_cap_v2() {
        let cgroup = "0::/user.slice/faultline.scope\n";
        let files = [
            (
                "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
                "max\n",
            ),
            ("/sys/fs/cgroup/user.slice/memory.max", "536870912\n"),
        ];
        assert_eq!(
            memory_cap_from(cgroup, reader(&files)),
            Some(Bytes(512 << 20))
        );
        let files = [(
            "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
            "max\n",
        )];
        assert_eq!(memory_cap_from(cgroup, reader(&files)), None);
        let files = [(
            "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
            "268435456\n",
        )];
        assert_eq!(
            memory_cap_from(cgroup, reader(&files)),
            Some(Bytes(256 << 20))
        );
        // Hybrid layout: v2 mounted under unified/.
        let files = [("/sys/fs/cgroup/unified/user.slice/memory.max", "1048576")];
        assert_eq!(
            memory_cap_from(cgroup, reader(&files)),
            Some(Bytes(1 << 20))
        );
        assert_eq!(memory_cap_from("", reader(&[])), None);
        assert_eq!(memory_cap_from("garbage\n", reader(&[])), None);
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(parse_limit("max\n", false), None);
        assert_eq!(parse_limit("max", true), None);
        assert_eq!(parse_limit("9223372036854771712", true), None);
        assert_eq!(parse_limit("67108864", true), Some(Bytes(64 << 20)));
        assert_eq!(parse_limit("67108864\n", false), Some(Bytes(64 << 20)));
        assert_eq!(parse_limit("", false), None);
    }

    #[test]
    fn params_and_names() {
        let w = Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(1 << 30),
        };
        assert_eq!(w.name(), "zero-page");
        assert_eq!(w.params()["stride_bytes"], 4096);
        let w = Workload::BreadthFirst {
            faults: None,
            span: DEFAULT_BREADTH_FIRST_SPAN,
        };
        assert!(w.params()["faults"].is_null());
    }
}
