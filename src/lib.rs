//! faultline turns Linux `perf` recordings of memory-heavy programs into answers: folded
//! stacks and flame graphs, fault versus exit cost, page-table cost and regression gates.
//!
//! The crate is grouped by layer; each layer uses only the layers below it
//! (`tests/architecture.rs` enforces this):
//!
//! | layer | modules |
//! |---|---|
//! | 0 base | [`units`], [`sys`], [`error`], [`text`], [`outfile`] |
//! | 1 input and system facts | [`ingest`], [`procfs`] |
//! | 2 outputs of a profile | [`fold`] |
//! | 3 recording | [`record`] |
//! | 4 analysis | [`analyze`] |
//! | 5 workloads, comparison, exports | [`workloads`], [`compare`], [`export`] |
//! | 6 renderings, experiments | [`report`], [`reproduce`] |
//!
//! Data flows one way: input bytes → parsed samples → an interned profile → transforms →
//! outputs. The binary (`src/main.rs`, `src/cli/`) is the only code that knows clap,
//! terminal wording and exit codes.
#![warn(missing_docs)]

pub mod error;
pub mod outfile;
pub mod sys;
pub mod text;
pub mod units;

pub mod ingest;
pub mod procfs;

pub mod fold;

pub mod record;

pub mod analyze;

pub mod compare;
pub mod export;
pub mod workloads;

pub mod report;
pub mod reproduce;

pub use error::{Error, Result};
