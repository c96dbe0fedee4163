//! `/proc/vmstat`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{ProcError, numbered_lines, snippet};

/// `/proc/vmstat`: system-wide virtual memory counters by kernel name. Most are
/// event counts since boot (`pgfault`); the `nr_*` ones are current page counts.
/// Serializes as one object of names to numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Vmstat {
    counters: BTreeMap<String, u64>,
}

impl Vmstat {
    /// Parses the text of `/proc/vmstat`; `source` names the file in errors.
    ///
    /// ```text
    /// nr_free_pages 1109107
    /// pgfault 23989638
    /// pgmajfault 4961
    /// oom_kill 0
    /// thp_fault_alloc 0
    /// thp_zero_page_alloc 0
    /// ```
    ///
    /// A line that is not a name and an unsigned number is an error naming the line.
    pub fn parse(text: &str, source: &Path) -> Result<Vmstat, ProcError> {
        let mut counters = BTreeMap::new();
        for (n, line) in numbered_lines(text) {
            let mut words = line.split_ascii_whitespace();
            let parsed = match (words.next(), words.next(), words.next()) {
                (Some(name), Some(value), None) => value.parse::<u64>().ok().map(|v| (name, v)),
                _ => None,
            };
            let Some((name, value)) = parsed else {
                return Err(ProcError::parse(
                    source,
                    Some(n),
                    format!("expected `name value`, found {}", snippet(line)),
                ));
            };
            counters.insert(name.to_owned(), value);
        }
        Ok(Vmstat { counters })
    }

    /// The counter `name`; `None` when this kernel does not have it.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.counters.get(name).copied()
    }

    /// Every counter by kernel name.
    pub fn counters(&self) -> &BTreeMap<String, u64> {
        &self.counters
    }

    /// `pgfault`: page faults, minor and major, since boot.
    pub fn pgfault(&self) -> Option<u64> {
        self.get("pgfault")
    }

    /// `pgmajfault`: page faults that needed I/O, since boot.
    pub fn pgmajfault(&self) -> Option<u64> {
        self.get("pgmajfault")
    }

    /// `thp_fault_alloc`: faults that allocated a transparent huge page.
    pub fn thp_fault_alloc(&self) -> Option<u64> {
        self.get("thp_fault_alloc")
    }

    /// `thp_zero_page_alloc`: allocations of the huge zero page.
    pub fn thp_zero_page_alloc(&self) -> Option<u64> {
        self.get("thp_zero_page_alloc")
    }

    /// `oom_kill`: processes killed by the OOM killer since boot.
    pub fn oom_kill(&self) -> Option<u64> {
        self.get("oom_kill")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/vmstat` on the development machine (Linux 6.18), trimmed.
    const REAL: &str = "\
nr_free_pages 1109107
nr_zone_inactive_anon 932
numa_hit 17770463
nr_anon_pages 2232
nr_mapped 2696
pgfault 23989638
pgmajfault 4961
oom_kill 0
thp_fault_alloc 0
thp_fault_fallback 0
thp_file_mapped 1104
thp_zero_page_alloc 0
thp_zero_page_alloc_failed 0
";

    #[test]
    fn real_sample() {
        let v = Vmstat::parse(REAL, Path::new("vmstat")).unwrap();
        assert_eq!(v.pgfault(), Some(23989638));
        assert_eq!(v.pgmajfault(), Some(4961));
        assert_eq!(v.thp_fault_alloc(), Some(0));
        assert_eq!(v.thp_zero_page_alloc(), Some(0));
        assert_eq!(v.oom_kill(), Some(0));
        assert_eq!(v.get("thp_file_mapped"), Some(1104));
        assert_eq!(v.get("no_such_counter"), None);
        assert_eq!(v.counters().len(), 13);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["pgfault"], 23989638);
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let src = Path::new("vmstat");
        for bad in ["pgfault", "pgfault -1", "pgfault 1 2", "pgfault x"] {
            let e = Vmstat::parse(&format!("nr_free_pages 1\n{bad}\n"), src).unwrap_err();
            assert!(
                e.to_string().starts_with("vmstat:2: expected `name value`"),
                "{e}"
            );
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert_eq!(Vmstat::parse("", src).unwrap(), Vmstat::default());
    }
}
