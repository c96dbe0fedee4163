//! faultline turns `perf script` recordings of memory-heavy programs into answers:
//! folded stacks and flame graphs today; fault versus exit cost, page-table cost and
//! regression gates as they land.
//!
//! Data flows one way: input bytes ([`input`]) → parsed samples ([`script`]) → an
//! interned profile ([`profile`], [`intern`]) → outputs ([`collapse`], [`flame`]).
//! Recordings come from [`runner`] (perf under a [`cgroup`] cap, [`thp`] mode, the
//! [`sampler`] of [`procfs`]) running built-in [`workloads`], whose page-table cost
//! [`pagetable`] predicts.
#![warn(missing_docs)]

pub mod cgroup;
pub mod collapse;
pub mod commands;
pub mod error;
pub mod exec;
pub mod flame;
pub mod input;
pub mod intern;
pub mod pagetable;
pub mod procfs;
pub mod profile;
pub mod runner;
pub mod sampler;
pub mod script;
pub mod symbols;
pub mod thp;
pub mod units;
pub mod workloads;

pub use error::{Error, Result};
pub mod analyze;
pub mod compare;
pub mod irq;
pub mod phases;
pub mod report;
