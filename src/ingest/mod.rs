//! Input layer: bytes in ([`input`]), `perf script` text parsed ([`script`]), an interned
//! profile out ([`profile`], [`intern`], [`symbols`]). [`load`] is the one way in for
//! every command (run directories, `--strict`, inputs without samples); [`clock`] decides
//! what kind of clock an event's samples came from.

pub mod clock;
pub mod input;
pub mod intern;
pub mod load;
mod mapguard;
pub mod memo;
pub mod perf_data;
pub mod profile;
pub mod script;
pub mod symbols;
