//! `Key: N kB` tables: `/proc/meminfo` and `/proc/<pid>/smaps_rollup`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::maps::Vma;
use super::{Number, ProcError, numbered_lines, parse_number, snippet, split_key};
use crate::units::Bytes;

/// The numbers of a `Key: N kB` file: `kB` figures and plain counts, by kernel name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct Table {
    #[serde(flatten)]
    kb: BTreeMap<String, u64>,
    #[serde(flatten)]
    counts: BTreeMap<String, u64>,
}

impl Table {
    /// Parses `Key: N kB` and `Key: N` lines; when `header` is set, a first line
    /// in `/proc/<pid>/maps` format (the `[rollup]` line) is accepted and ignored.
    fn parse(text: &str, source: &Path, header: bool) -> Result<Table, ProcError> {
        let mut table = Table::default();
        let mut first = true;
        for (n, line) in numbered_lines(text) {
            if std::mem::take(&mut first) && header && Vma::parse_line(line).is_ok() {
                continue;
            }
            let err = |message: String| ProcError::parse(source, Some(n), message);
            let Some((key, value)) = split_key(line) else {
                return Err(err(format!(
                    "expected `Key: N kB` or `Key: N`, found {}",
                    snippet(line)
                )));
            };
            match parse_number(value) {
                Some(Ok(Number::Kib(kib))) => {
                    table.counts.remove(key);
                    table.kb.insert(key.to_owned(), kib);
                }
                Some(Ok(Number::Plain(count))) => {
                    table.kb.remove(key);
                    table.counts.insert(key.to_owned(), count);
                }
                Some(Err(message)) => return Err(err(format!("{key}: {message}"))),
                None => {
                    return Err(err(format!(
                        "{key}: expected `N kB` or `N`, found {}",
                        snippet(value.trim())
                    )));
                }
            }
        }
        Ok(table)
    }

    fn bytes(&self, key: &str) -> Option<Bytes> {
        self.kb.get(key).copied().map(Bytes::from_kib)
    }
}

/// `/proc/meminfo`: system-wide memory figures by kernel name.
///
/// `kB` lines are kept in KiB; lines without a unit (`HugePages_Total: 0`) keep
/// their plain number. Serializes as one object of kernel names to numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Meminfo(Table);

impl Meminfo {
    /// Parses the text of `/proc/meminfo`; `source` names the file in errors.
    ///
    /// ```text
    /// MemTotal:       24684084 kB
    /// MemAvailable:   24292260 kB
    /// Active(anon):       1520 kB
    /// PageTables:         1944 kB
    /// Committed_AS:      54680 kB
    /// HugePages_Total:       0
    /// ```
    ///
    /// A line that is not `Key: N kB` or `Key: N` is an error naming the line.
    pub fn parse(text: &str, source: &Path) -> Result<Meminfo, ProcError> {
        Table::parse(text, source, false).map(Meminfo)
    }

    /// A `kB` figure in KiB (`MemTotal`, `PageTables`...); `None` when missing or
    /// not a `kB` line.
    pub fn kb(&self, key: &str) -> Option<u64> {
        self.0.kb.get(key).copied()
    }

    /// A figure without a unit (`HugePages_Total`, `HugePages_Free`...); `None` when
    /// missing or a `kB` line.
    pub fn count(&self, key: &str) -> Option<u64> {
        self.0.counts.get(key).copied()
    }

    /// Every `kB` figure, in KiB, by kernel name.
    pub fn kb_fields(&self) -> &BTreeMap<String, u64> {
        &self.0.kb
    }

    /// Every figure without a unit, by kernel name.
    pub fn count_fields(&self) -> &BTreeMap<String, u64> {
        &self.0.counts
    }

    /// `MemTotal`: usable RAM.
    pub fn mem_total(&self) -> Option<Bytes> {
        self.0.bytes("MemTotal")
    }

    /// `MemAvailable`: the kernel's estimate of memory available without swapping.
    pub fn mem_available(&self) -> Option<Bytes> {
        self.0.bytes("MemAvailable")
    }

    /// `PageTables`: memory in page tables, all processes.
    pub fn page_tables(&self) -> Option<Bytes> {
        self.0.bytes("PageTables")
    }

    /// `CommitLimit`: the commit limit under `vm.overcommit_memory = 2`.
    pub fn commit_limit(&self) -> Option<Bytes> {
        self.0.bytes("CommitLimit")
    }

    /// `Committed_AS`: memory committed by all processes.
    pub fn committed_as(&self) -> Option<Bytes> {
        self.0.bytes("Committed_AS")
    }

    /// `AnonHugePages`: anonymous memory in transparent huge pages.
    pub fn anon_huge_pages(&self) -> Option<Bytes> {
        self.0.bytes("AnonHugePages")
    }
}

/// `/proc/<pid>/smaps_rollup`: the `smaps` figures of a process summed over all its
/// VMAs, in KiB by kernel name. Serializes as one object of names to numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SmapsRollup(Table);

impl SmapsRollup {
    /// Parses the text of `/proc/<pid>/smaps_rollup`; `source` names the file in
    /// errors. The first line may be the `[rollup]` header, which is skipped.
    ///
    /// ```text
    /// 5600eb7eb000-7ffc51765000 ---p 00000000 00:00 0                          [rollup]
    /// Rss:                1772 kB
    /// Pss:                 488 kB
    /// Pss_Anon:            112 kB
    /// Anonymous:           112 kB
    /// AnonHugePages:         0 kB
    /// Swap:                  0 kB
    /// ```
    ///
    /// Any other line that is not `Key: N kB` (or `Key: N`) is an error naming the
    /// line.
    pub fn parse(text: &str, source: &Path) -> Result<SmapsRollup, ProcError> {
        Table::parse(text, source, true).map(SmapsRollup)
    }

    /// A `kB` figure in KiB (`Rss`, `Pss_Dirty`, `SwapPss`...); `None` when missing.
    pub fn kb(&self, key: &str) -> Option<u64> {
        self.0.kb.get(key).copied()
    }

    /// Every `kB` figure, in KiB, by kernel name.
    pub fn kb_fields(&self) -> &BTreeMap<String, u64> {
        &self.0.kb
    }

    /// `Rss`: resident memory.
    pub fn rss(&self) -> Option<Bytes> {
        self.0.bytes("Rss")
    }

    /// `Pss`: proportional set size (shared pages divided among their sharers).
    pub fn pss(&self) -> Option<Bytes> {
        self.0.bytes("Pss")
    }

    /// `Pss_Anon`: the anonymous part of `Pss`.
    pub fn pss_anon(&self) -> Option<Bytes> {
        self.0.bytes("Pss_Anon")
    }

    /// `Anonymous`: resident anonymous memory.
    pub fn anonymous(&self) -> Option<Bytes> {
        self.0.bytes("Anonymous")
    }

    /// `AnonHugePages`: anonymous memory in transparent huge pages.
    pub fn anon_huge_pages(&self) -> Option<Bytes> {
        self.0.bytes("AnonHugePages")
    }

    /// `Swap`: anonymous memory swapped out.
    pub fn swap(&self) -> Option<Bytes> {
        self.0.bytes("Swap")
    }

    /// `SwapPss`: proportional share of `Swap`.
    pub fn swap_pss(&self) -> Option<Bytes> {
        self.0.bytes("SwapPss")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/meminfo` on the development machine (Linux 6.18), trimmed.
    const MEMINFO: &str = "\
MemTotal:       24684084 kB
MemFree:        22868468 kB
MemAvailable:   24292260 kB
Active(anon):       1520 kB
Inactive(anon):     3712 kB
AnonPages:          8888 kB
KernelStack:        1368 kB
PageTables:         1944 kB
SecPageTables:         0 kB
CommitLimit:    12342040 kB
Committed_AS:      54680 kB
VmallocTotal:   34359738367 kB
AnonHugePages:         0 kB
FileHugePages:      8192 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
DirectMap1G:    25165824 kB
";

    /// `cat /proc/self/smaps_rollup` on the development machine (Linux 6.18).
    const ROLLUP: &str = "\
5600eb7eb000-7ffc51765000 ---p 00000000 00:00 0                          [rollup]
Rss:                1772 kB
Pss:                 488 kB
Pss_Dirty:           112 kB
Pss_Anon:            112 kB
Pss_File:            376 kB
Pss_Shmem:             0 kB
Shared_Clean:       1616 kB
Shared_Dirty:          0 kB
Private_Clean:        44 kB
Private_Dirty:       112 kB
Referenced:         1772 kB
Anonymous:           112 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn meminfo_real_sample() {
        let m = Meminfo::parse(MEMINFO, Path::new("meminfo")).unwrap();
        assert_eq!(m.mem_total(), Some(Bytes::from_kib(24684084)));
        assert_eq!(m.mem_available(), Some(Bytes::from_kib(24292260)));
        assert_eq!(m.page_tables(), Some(Bytes::from_kib(1944)));
        assert_eq!(m.commit_limit(), Some(Bytes::from_kib(12342040)));
        assert_eq!(m.committed_as(), Some(Bytes::from_kib(54680)));
        assert_eq!(m.anon_huge_pages(), Some(Bytes(0)));
        assert_eq!(m.kb("Active(anon)"), Some(1520));
        assert_eq!(m.kb("VmallocTotal"), Some(34359738367));
        assert_eq!(m.kb("Hugepagesize"), Some(2048));
        assert_eq!(m.count("HugePages_Total"), Some(0));
        assert_eq!(m.kb("HugePages_Total"), None);
        assert_eq!(m.count("MemTotal"), None);
        assert_eq!(m.kb_fields().len(), 16);
        assert_eq!(m.count_fields().len(), 4);
        let j = serde_json::to_value(&m).unwrap();
        assert_eq!(j["PageTables"], 1944);
        assert_eq!(j["HugePages_Total"], 0);
        assert_eq!(j.as_object().unwrap().len(), 20);
    }

    #[test]
    fn meminfo_malformed_lines_name_the_line() {
        let src = Path::new("meminfo");
        let e = Meminfo::parse("MemTotal: 1 kB\nMemFree 2 kB\n", src).unwrap_err();
        assert!(
            e.to_string().starts_with("meminfo:2: expected `Key: N kB`"),
            "{e}"
        );
        let e = Meminfo::parse("MemTotal: 1 kB\nMemFree: 2 MB\n", src).unwrap_err();
        assert_eq!(
            e.to_string(),
            "meminfo:2: MemFree: expected `N kB` or `N`, found \"2 MB\""
        );
        let e = Meminfo::parse("MemTotal: one kB\n", src).unwrap_err();
        assert_eq!(
            e.to_string(),
            "meminfo:1: MemTotal: \"one kB\" is not a number of kB"
        );
        let e = Meminfo::parse("MemTotal:\n", src).unwrap_err();
        assert_eq!(e.line(), Some(1));
        // A maps-like line is only a header in smaps_rollup.
        let e = Meminfo::parse(ROLLUP, src).unwrap_err();
        assert_eq!(e.line(), Some(1));
    }

    #[test]
    fn rollup_real_sample() {
        let r = SmapsRollup::parse(ROLLUP, Path::new("smaps_rollup")).unwrap();
        assert_eq!(r.rss(), Some(Bytes::from_kib(1772)));
        assert_eq!(r.pss(), Some(Bytes::from_kib(488)));
        assert_eq!(r.pss_anon(), Some(Bytes::from_kib(112)));
        assert_eq!(r.anonymous(), Some(Bytes::from_kib(112)));
        assert_eq!(r.anon_huge_pages(), Some(Bytes(0)));
        assert_eq!(r.swap(), Some(Bytes(0)));
        assert_eq!(r.swap_pss(), Some(Bytes(0)));
        assert_eq!(r.kb("Private_Dirty"), Some(112));
        assert_eq!(r.kb_fields().len(), 22);
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["Rss"], 1772);
    }

    #[test]
    fn rollup_without_header_and_malformed() {
        let src = Path::new("smaps_rollup");
        let r = SmapsRollup::parse("Rss: 4 kB\n", src).unwrap();
        assert_eq!(r.rss(), Some(Bytes::from_kib(4)));
        assert_eq!(SmapsRollup::parse("", src).unwrap(), SmapsRollup::default());
        // The header is only accepted as the first line.
        let twice = format!("{}{}", ROLLUP, ROLLUP.lines().next().unwrap());
        let e = SmapsRollup::parse(&twice, src).unwrap_err();
        assert_eq!(e.line(), Some(24));
        // A broken first line that is not a header either.
        let e = SmapsRollup::parse("5600eb7eb000 ---p [rollup]\nRss: 1 kB\n", src).unwrap_err();
        assert!(e.to_string().starts_with("smaps_rollup:1: "), "{e}");
        let e = SmapsRollup::parse("Rss: 1 kB\nPss: x kB\n", src).unwrap_err();
        assert_eq!(
            e.to_string(),
            "smaps_rollup:2: Pss: \"x kB\" is not a number of kB"
        );
    }
}
