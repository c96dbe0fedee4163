//! Outputs made from a profile: folded stacks ([`collapse`]) and flame graphs ([`flame`]).

pub mod collapse;
pub mod flame;
