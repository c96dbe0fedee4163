//! Recording: perf under a memory-cgroup cap ([`cgroup`]), a THP mode ([`thp`]), the
//! workload launcher ([`exec`]), the /proc sampler ([`sampler`]) and the runner that ties
//! them into a run directory ([`runner`]), whose files [`run_dir`] names and types.
//! [`plan`] decides, [`system`] is the seam to the machine, [`state`] remembers machine
//! changes so that a killed run can be undone.

pub mod cgroup;
pub mod error;
pub mod exec;
pub mod plan;
pub mod run_dir;
pub mod runner;
pub mod sampler;
pub mod state;
pub mod system;
pub mod thp;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
