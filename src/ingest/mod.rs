//! Input layer: bytes in ([`input`]), `perf script` text parsed ([`script`]), an interned
//! profile out ([`profile`], [`intern`], [`symbols`]).

pub mod clock;
pub mod input;
pub mod intern;
pub mod load;
mod mapguard;
pub mod profile;
pub mod script;
pub mod symbols;
