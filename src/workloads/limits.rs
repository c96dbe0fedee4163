//! The memory cgroup limit that applies to this process.

use std::fs;
use std::path::Path;

use crate::units::Bytes;

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
    use crate::procfs::{CgroupVersion, memory_cgroup_path, parse_cgroup, parse_memory_limit};
    let lines = parse_cgroup(proc_self_cgroup, Path::new("/proc/self/cgroup")).ok()?;
    let (version, path) = memory_cgroup_path(&lines)?;
    let (roots, file): (&[&str], &str) = match version {
        CgroupVersion::V1 => (&["/sys/fs/cgroup/memory"], "memory.limit_in_bytes"),
        CgroupVersion::V2 => (&["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "memory.max"),
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
            parse_memory_limit(&text, version)
        });
        if let Some(limit) = limit {
            cap = Some(cap.map_or(limit, |c| c.min(limit)));
        }
    }
    cap
}
