//! `/proc/<pid>/cgroup`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ProcError, numbered_lines, snippet};

/// Which cgroup interface the memory controller uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// cgroup v1, one hierarchy per controller (`7:memory:/foo`): `memory.limit_in_bytes`,
    /// `memory.oom_control`.
    V1,
    /// The unified hierarchy (`0::/foo`): `memory.max`, `memory.events`.
    V2,
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-ID:controller-list:cgroup-path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupLine {
    /// Hierarchy ID; 0 for the v2 hierarchy.
    pub hierarchy_id: u32,
    /// Controllers bound to the hierarchy (`memory`, `cpu`, `name=systemd`); empty
    /// for v2.
    pub controllers: Vec<String>,
    /// The cgroup's path relative to the hierarchy's root (`/`, `/user.slice/x`).
    pub path: String,
}

impl CgroupLine {
    /// The hierarchy's version: v2 is hierarchy 0 with no controllers.
    pub fn version(&self) -> CgroupVersion {
        if self.hierarchy_id == 0 && self.controllers.is_empty() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        }
    }
}

/// Parses the text of `/proc/<pid>/cgroup`; `source` names the file in errors.
///
/// ```text
/// 9:name=systemd:/
/// 4:memory:/process_api/a0e31e6f5643fab8ac72dd4e8039db03
/// 2:cpu,cpuacct:/user.slice
/// 0::/
/// ```
///
/// The path is everything after the second colon, colons included. A line with
/// fewer than three fields or a non-numeric hierarchy ID is an error naming the line.
pub fn parse_cgroup(text: &str, source: &Path) -> Result<Vec<CgroupLine>, ProcError> {
    numbered_lines(text)
        .map(|(n, line)| {
            let mut parts = line.splitn(3, ':');
            let parsed = match (parts.next(), parts.next(), parts.next()) {
                (Some(id), Some(controllers), Some(path)) => {
                    id.parse::<u32>().ok().map(|hierarchy_id| CgroupLine {
                        hierarchy_id,
                        controllers: controllers
                            .split(',')
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        path: path.to_owned(),
                    })
                }
                _ => None,
            };
            parsed.ok_or_else(|| {
                ProcError::parse(
                    source,
                    Some(n),
                    format!(
                        "expected `hierarchy-ID:controller-list:cgroup-path`, found {}",
                        snippet(line)
                    ),
                )
            })
        })
        .collect()
}

/// The cgroup whose memory controller governs the process: the v1 hierarchy that
/// lists `memory` if there is one (v1 or hybrid systems), else the v2 hierarchy.
/// `None` when neither is present.
pub fn memory_cgroup_path(lines: &[CgroupLine]) -> Option<(CgroupVersion, String)> {
    lines
        .iter()
        .find(|l| l.controllers.iter().any(|c| c == "memory"))
        .or_else(|| lines.iter().find(|l| l.version() == CgroupVersion::V2))
        .map(|l| (l.version(), l.path.clone()))
}

/// A finite memory limit from a cgroup's `memory.max` (v2: `max` means none) or
/// `memory.limit_in_bytes` (v1: "no limit" is a huge number near 2^63, so anything from
/// 2^60 up counts as none).
pub fn parse_memory_limit(text: &str, version: CgroupVersion) -> Option<crate::units::Bytes> {
    let t = text.trim();
    let v1 = version == CgroupVersion::V1;
    if !v1 && t == "max" {
        return None;
    }
    let n: u64 = t.parse().ok()?;
    if v1 && n >= 1 << 60 {
        return None;
    }
    Some(crate::units::Bytes(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/self/cgroup` on the development machine (a hybrid v1 + v2 host).
    const HYBRID: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
4:memory:/process_api/a0e31e6f5643fab8ac72dd4e8039db03
2:cpuacct:/
1:cpu:/
0::/
";

    fn parse(text: &str) -> Result<Vec<CgroupLine>, ProcError> {
        parse_cgroup(text, Path::new("cgroup"))
    }

    #[test]
    fn hybrid_real_sample_prefers_v1_memory() {
        let lines = parse(HYBRID).unwrap();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0].controllers, ["name=systemd"]);
        assert_eq!(lines[0].version(), CgroupVersion::V1);
        assert_eq!(
            lines[6],
            CgroupLine {
                hierarchy_id: 0,
                controllers: vec![],
                path: "/".into()
            }
        );
        assert_eq!(lines[6].version(), CgroupVersion::V2);
        assert_eq!(
            memory_cgroup_path(&lines),
            Some((
                CgroupVersion::V1,
                "/process_api/a0e31e6f5643fab8ac72dd4e8039db03".into()
            ))
        );
    }

    #[test]
    fn v2_only_and_multi_controller_lines() {
        let lines = parse("0::/user.slice/user-1000.slice/session-2.scope\n").unwrap();
        assert_eq!(
            memory_cgroup_path(&lines),
            Some((
                CgroupVersion::V2,
                "/user.slice/user-1000.slice/session-2.scope".into()
            ))
        );
        let lines = parse("3:cpu,cpuacct:/a:b\n5:memory,hugetlb:/m\n").unwrap();
        assert_eq!(lines[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(lines[0].path, "/a:b");
        assert_eq!(
            memory_cgroup_path(&lines),
            Some((CgroupVersion::V1, "/m".into()))
        );
        assert_eq!(memory_cgroup_path(&lines[..1]), None);
        assert_eq!(memory_cgroup_path(&[]), None);
        assert_eq!(
            serde_json::to_value(CgroupVersion::V2).unwrap(),
            serde_json::json!("v2")
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for bad in ["7:memory", "x:memory:/", "-1::/", "/foo"] {
            let e = parse(&format!("0::/\n{bad}\n")).unwrap_err();
            assert!(e.to_string().starts_with("cgroup:2: expected"), "{e}");
        }
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(parse_memory_limit("max\n", CgroupVersion::V2), None);
        assert_eq!(parse_memory_limit("max", CgroupVersion::V1), None);
        assert_eq!(
            parse_memory_limit("9223372036854771712", CgroupVersion::V1),
            None
        );
        assert_eq!(
            parse_memory_limit("67108864", CgroupVersion::V1),
            Some(crate::units::Bytes(64 << 20))
        );
        assert_eq!(
            parse_memory_limit("67108864\n", CgroupVersion::V2),
            Some(crate::units::Bytes(64 << 20))
        );
        assert_eq!(parse_memory_limit("", CgroupVersion::V2), None);
    }
}
