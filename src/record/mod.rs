//! Recording: perf under a memory-cgroup cap ([`cgroup`]), a THP mode ([`thp`]), the
//! workload launcher ([`exec`]), the /proc sampler ([`sampler`]) and the runner that ties
//! them into a run directory ([`runner`]).

pub mod cgroup;
pub mod exec;
pub mod runner;
pub mod sampler;
pub mod thp;
