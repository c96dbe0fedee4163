//! Reading the live system: open the `/proc` and `/sys` files and hand their text
//! to the pure parsers. Every error names the file.
//!
//! `pid: None` means the calling process (`/proc/self`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{
    CgroupLine, Meminfo, ProcError, SmapsRollup, Status, ThpSettings, VmSysctls, Vma, Vmstat,
    parse_cgroup, parse_flag, parse_maps, parse_sysctl_u64, parse_thp_choice,
};

/// The directory of transparent huge page settings.
pub const THP_DIR: &str = "/sys/kernel/mm/transparent_hugepage";

/// `/proc/<pid>/<file>`, or `/proc/self/<file>` when `pid` is `None`.
pub fn proc_path(pid: Option<i32>, file: &str) -> PathBuf {
    match pid {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/{file}")),
        None => PathBuf::from(format!("/proc/self/{file}")),
    }
}

/// Reads `path` into `buf`, replacing its contents and reusing its allocation: the
/// sampler's fast path, which reads the same few files every 20 ms.
///
/// Bytes that are not UTF-8 (possible in file names in `maps`) are replaced with
/// U+FFFD rather than failing the read.
pub fn read_to_string_reuse(path: &Path, buf: &mut String) -> io::Result<()> {
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.clear();
    let result = File::open(path).and_then(|mut f| f.read_to_end(&mut bytes));
    *buf = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let mut bytes = e.into_bytes();
            bytes.clear();
            // Keep the larger allocation for the next read.
            let mut s = String::from_utf8(bytes).unwrap_or_default();
            s.push_str(&lossy);
            s
        }
    };
    if result.is_err() {
        buf.clear();
    }
    result.map(|_| ())
}

/// Reads a whole file as text, naming it in the error.
fn read_text(path: &Path) -> Result<String, ProcError> {
    let mut buf = String::new();
    read_to_string_reuse(path, &mut buf).map_err(|e| ProcError::io(path, e))?;
    Ok(buf)
}

/// Reads and parses a file with a pure parser.
fn read_with<T>(
    path: &Path,
    parse: impl FnOnce(&str, &Path) -> Result<T, ProcError>,
) -> Result<T, ProcError> {
    parse(&read_text(path)?, path)
}

/// Reads `/proc/<pid>/status`.
pub fn read_status(pid: Option<i32>) -> Result<Status, ProcError> {
    read_with(&proc_path(pid, "status"), Status::parse)
}

/// Reads `/proc/<pid>/maps`.
pub fn read_maps(pid: Option<i32>) -> Result<Vec<Vma>, ProcError> {
    read_with(&proc_path(pid, "maps"), parse_maps)
}

/// Reads `/proc/<pid>/smaps_rollup` (Linux 4.14 and later).
pub fn read_smaps_rollup(pid: Option<i32>) -> Result<SmapsRollup, ProcError> {
    read_with(&proc_path(pid, "smaps_rollup"), SmapsRollup::parse)
}

/// Reads `/proc/<pid>/cgroup`.
pub fn read_cgroup(pid: Option<i32>) -> Result<Vec<CgroupLine>, ProcError> {
    read_with(&proc_path(pid, "cgroup"), parse_cgroup)
}

/// Reads `/proc/meminfo`.
pub fn read_meminfo() -> Result<Meminfo, ProcError> {
    read_with(Path::new("/proc/meminfo"), Meminfo::parse)
}

/// Reads `/proc/vmstat`.
pub fn read_vmstat() -> Result<Vmstat, ProcError> {
    read_with(Path::new("/proc/vmstat"), Vmstat::parse)
}

/// Reads `enabled`, `defrag` and `use_zero_page` under [`THP_DIR`]. Fails (with
/// a not-found [`ProcError::Io`]) on kernels built without transparent huge pages.
pub fn read_thp() -> Result<ThpSettings, ProcError> {
    let dir = Path::new(THP_DIR);
    Ok(ThpSettings {
        enabled: read_with(&dir.join("enabled"), parse_thp_choice)?,
        defrag: read_with(&dir.join("defrag"), parse_thp_choice)?,
        use_zero_page: read_with(&dir.join("use_zero_page"), parse_flag)?,
    })
}

/// Reads `vm.overcommit_memory`, `vm.overcommit_ratio` and `vm.max_map_count`
/// from `/proc/sys/vm/`.
pub fn read_vm_sysctls() -> Result<VmSysctls, ProcError> {
    let dir = Path::new("/proc/sys/vm");
    Ok(VmSysctls {
        overcommit_memory: read_with(&dir.join("overcommit_memory"), parse_sysctl_u64)?,
        overcommit_ratio: read_with(&dir.join("overcommit_ratio"), parse_sysctl_u64)?,
        max_map_count: read_with(&dir.join("max_map_count"), parse_sysctl_u64)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::{count_vmas, memory_cgroup_path, unmerged_runs};

    #[test]
    fn paths() {
        assert_eq!(proc_path(None, "maps"), Path::new("/proc/self/maps"));
        assert_eq!(proc_path(Some(42), "status"), Path::new("/proc/42/status"));
    }

    #[test]
    fn live_status() {
        let s = read_status(None).unwrap();
        assert!(s.vm_rss().is_some_and(|b| b.0 > 0));
        assert!(s.vm_size().is_some() && s.vm_pte().is_some());
        assert!(s.rss_anon().is_some() && s.rss_file().is_some());
        assert!(s.vm_swap().is_some() && s.vm_hwm().is_some());
        let pid = std::process::id() as i32;
        let by_pid = read_status(Some(pid)).unwrap();
        assert_eq!(by_pid.get("Pid"), Some(pid.to_string().as_str()));
    }

    #[test]
    fn live_maps() {
        let v = read_maps(None).unwrap();
        assert!(!v.is_empty());
        assert!(v.iter().any(|m| m.path.as_deref() == Some("[stack]")));
        assert!(v.windows(2).all(|w| w[0].end <= w[1].start));
        let runs = unmerged_runs(&v);
        assert_eq!(runs.count, v.len());
        let mut buf = String::new();
        read_to_string_reuse(&proc_path(None, "maps"), &mut buf).unwrap();
        // The test harness may map or unmap between the two reads.
        assert!(count_vmas(&buf) > 0);
    }

    #[test]
    fn live_smaps_rollup() {
        let r = read_smaps_rollup(None).unwrap();
        assert!(r.rss().is_some_and(|b| b.0 > 0));
        assert!(r.pss().is_some());
    }

    #[test]
    fn live_cgroup() {
        let lines = read_cgroup(None).unwrap();
        assert!(!lines.is_empty());
        let _ = memory_cgroup_path(&lines);
    }

    #[test]
    fn live_meminfo() {
        let m = read_meminfo().unwrap();
        assert!(m.mem_total().is_some_and(|b| b.0 > 0));
        assert!(m.mem_available().is_some() && m.page_tables().is_some());
        assert!(m.commit_limit().is_some() && m.committed_as().is_some());
    }

    #[test]
    fn live_vmstat() {
        let v = read_vmstat().unwrap();
        assert!(v.pgfault().is_some_and(|n| n > 0));
        assert!(v.pgmajfault().is_some());
    }

    #[test]
    fn live_thp() {
        if !Path::new(THP_DIR).exists() {
            return;
        }
        let t = read_thp().unwrap();
        assert!(["always", "madvise", "never"].contains(&t.enabled.as_str()));
        assert!(!t.defrag.is_empty());
    }

    #[test]
    fn live_vm_sysctls() {
        let s = read_vm_sysctls().unwrap();
        assert!(s.overcommit_memory <= 2);
        assert!(s.max_map_count > 0);
    }

    #[test]
    fn missing_pid_and_reuse() {
        // PIDs are below 2^22 on Linux, so this one never exists.
        let e = read_status(Some(i32::MAX)).unwrap_err();
        assert!(e.is_process_gone(), "{e}");
        assert!(
            e.to_string().starts_with("/proc/2147483647/status: "),
            "{e}"
        );

        let mut buf = String::with_capacity(1 << 16);
        buf.push_str("stale");
        let cap = buf.capacity();
        let path = proc_path(None, "status");
        read_to_string_reuse(&path, &mut buf).unwrap();
        assert!(buf.starts_with("Name:"));
        assert_eq!(buf.capacity(), cap);
        let e = read_to_string_reuse(Path::new("/proc/self/no_such_file"), &mut buf);
        assert!(e.is_err());
        assert!(buf.is_empty());
    }

    #[test]
    fn reuse_replaces_invalid_utf8() {
        let dir = std::env::temp_dir().join(format!("faultline-procfs-{}", std::process::id()));
        std::fs::write(&dir, b"a\xffb").unwrap();
        let mut buf = String::from("old");
        let r = read_to_string_reuse(&dir, &mut buf);
        let _ = std::fs::remove_file(&dir);
        r.unwrap();
        assert_eq!(buf, "a\u{fffd}b");
    }
}
