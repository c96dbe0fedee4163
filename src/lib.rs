//! faultline turns `perf script` recordings of memory-heavy programs into answers:
//! folded stacks and flame graphs today; fault versus exit cost, page-table cost and
//! regression gates as they land.
//!
//! Data flows one way: input bytes ([`input`]) → parsed samples ([`script`]) → an
//! interned profile ([`profile`], [`intern`]) → outputs ([`collapse`], [`flame`]).
#![warn(missing_docs)]

pub mod collapse;
pub mod commands;
pub mod error;
pub mod flame;
pub mod input;
pub mod intern;
pub mod profile;
pub mod script;
pub mod symbols;
pub mod units;

pub use error::{Error, Result};
