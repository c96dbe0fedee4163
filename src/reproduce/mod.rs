//! `faultline reproduce`: the seed articles' experiments, one command each, run safely
//! on this machine. Each prints the claim, the article's figure, the figure measured
//! here, and whether the claim holds. Where a claim compares two setups the runs are
//! repeated and interleaved (the VM's speed drifts) and compare's statistics decide.
//!
//! Recordings go through the record module's public API, so every OOM-prone run is
//! capped by a memory cgroup (the record module refuses otherwise) and THP is pinned
//! for the runs whose meaning depends on it, then restored.

mod oomsday;
pub mod render;
mod runs;
mod seeds;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::record::runner::RecordError;

/// What can stop a reproduction.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// A recording failed.
    #[error("recording {run}: {source}")]
    Record {
        /// The run's label.
        run: String,
        /// The cause.
        source: RecordError,
    },
    /// The workload exited with an error, so its recording measures nothing.
    #[error("recording {run}: the workload exited with code {code} (its run directory says why)")]
    Workload {
        /// The run's label.
        run: String,
        /// Its exit code.
        code: i32,
    },
    /// A recording could not be analysed.
    #[error("analysing {run}: {source}")]
    Analyze {
        /// The run's label.
        run: String,
        /// The cause.
        source: crate::Error,
    },
    /// The output directory holds something faultline did not write.
    #[error("{}: exists and is not a previous `faultline reproduce` output (no reproduce.json); refusing to write into it", path.display())]
    NotOurs {
        /// The directory.
        path: PathBuf,
    },
    /// A previous output is there and `--force` was not given.
    #[error("{}: holds a previous reproduction; pass --force to replace its runs", path.display())]
    Exists {
        /// The directory.
        path: PathBuf,
    },
    /// Writing the output failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No such experiment.
    #[error("no experiment {0:?}; `faultline reproduce --list` lists them")]
    Unknown(String),
}

/// The experiments, as `--list` prints them.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "oomsday",
        "seed 000, \"The OOMsday device\": zero-page 4 KiB vs 2 MiB stride, breadth-first VmPTE against the 12/8/4 KiB arithmetic, THP never vs always exit cost, breadth-first exit vs fault cost, MADV_FREE vs MADV_DONTNEED page tables, the IRQ-sticky site",
    ),
    (
        "vma-merge",
        "seed 003: VMAs split by mprotect with different anon_vmas do not merge; touching first (--prefault) lets them merge",
    ),
    (
        "memory-hog",
        "seed 001: malloc(4096)+memset in a loop under a memory cap runs into the OOM killer, whose report names the victim",
    ),
];

/// `faultline reproduce` options.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproduceOptions {
    /// The experiment: a name from [`EXPERIMENTS`].
    pub experiment: String,
    /// A small version, for CI.
    pub quick: bool,
    /// Where run directories and the summaries go.
    pub output: PathBuf,
    /// Replace a previous reproduction's runs in `output`.
    pub force: bool,
    /// The faultline binary, which the recordings run as the workload wrapper.
    pub self_exe: PathBuf,
}

/// Whether a claim held here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The measurement agrees with the article.
    Holds,
    /// It contradicts the article.
    Fails,
    /// The data cannot tell (too few runs, or an interval spanning the limit).
    Inconclusive,
}

impl Outcome {
    /// The word printed in the table.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "does not hold",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One claim and what this machine says about it.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// Short id (`zero-page-stride`).
    pub id: String,
    /// The claim, in words.
    pub claim: String,
    /// The article's figure.
    pub article: String,
    /// The figure measured here.
    pub measured: String,
    /// Whether it holds.
    pub outcome: Outcome,
    /// How it was decided (statistic, runs).
    pub how: String,
    /// Run directories the figure comes from, relative to the output directory.
    pub runs: Vec<String>,
}

/// A whole reproduction, as `reproduce.json` holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The experiment.
    pub experiment: String,
    /// Whether this was the `--quick` version.
    pub quick: bool,
    /// The kernel it ran on.
    pub kernel: Option<String>,
    /// The claims.
    pub claims: Vec<Claim>,
}

/// Runs an experiment; `progress` receives status lines.
pub fn run(
    opts: &ReproduceOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Summary, ReproduceError> {
    if !EXPERIMENTS.iter().any(|(n, _)| *n == opts.experiment) {
        return Err(ReproduceError::Unknown(opts.experiment.clone()));
    }
    prepare_output(&opts.output, opts.force)?;
    let mut lab = runs::Lab::new(opts, progress);
    let claims = match opts.experiment.as_str() {
        "oomsday" => oomsday::run(&mut lab, opts.quick)?,
        "vma-merge" => seeds::vma_merge(&mut lab, opts.quick)?,
        _ => seeds::memory_hog(&mut lab)?,
    };
    let summary = Summary {
        experiment: opts.experiment.clone(),
        quick: opts.quick,
        kernel: lab.kernel(),
        claims,
    };
    write_summary(&opts.output, &summary)?;
    Ok(summary)
}

/// The summary's file names in the output directory.
pub const SUMMARY_JSON: &str = "reproduce.json";
/// The Markdown summary.
pub const SUMMARY_MD: &str = "reproduce.md";

/// Creates the output directory, or accepts a previous reproduction's with `force`.
fn prepare_output(dir: &Path, force: bool) -> Result<(), ReproduceError> {
    let io = |source| ReproduceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_none() {
                return Ok(());
            }
            if !dir.join(SUMMARY_JSON).is_file() {
                return Err(ReproduceError::NotOurs {
                    path: dir.to_path_buf(),
                });
            }
            if !force {
                return Err(ReproduceError::Exists {
                    path: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// Writes `reproduce.json` and `reproduce.md`.
fn write_summary(dir: &Path, s: &Summary) -> Result<(), ReproduceError> {
    let json = serde_json::to_string_pretty(s).expect("summaries serialise") + "\n";
    for (name, text) in [(SUMMARY_JSON, json), (SUMMARY_MD, render::markdown(s))] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReproduceError::Io { path, source })?;
    }
    Ok(())
}
