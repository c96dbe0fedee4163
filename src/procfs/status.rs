//! `/proc/<pid>/status`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{Number, ProcError, numbered_lines, parse_number, snippet, split_key};
use crate::units::Bytes;

/// `/proc/<pid>/status`: every `Key:\tvalue` line, with typed access to the `kB`
/// fields.
///
/// Serializes as the raw map of kernel names to values (as text).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Status {
    fields: BTreeMap<String, String>,
    #[serde(skip)]
    kb: BTreeMap<String, u64>,
}

impl Status {
    /// Parses the text of `/proc/<pid>/status`; `source` names the file in errors.
    ///
    /// Accepts `Key:` followed by tabs or spaces and any value; values ending in
    /// `kB` must be a number of KiB. Blank lines are skipped. The kernel separates
    /// key and value with a tab (shown here as spaces):
    ///
    /// ```text
    /// Name:   cat
    /// Pid:    5402
    /// Uid:    0       0       0       0
    /// Groups:
    /// VmRSS:      1728 kB
    /// VmPTE:        44 kB
    /// SigQ:   0/96365
    /// ```
    ///
    /// A line without a colon, or a `kB` value that is not a number, is an error
    /// naming the line (`status:3: ...`).
    pub fn parse(text: &str, source: &Path) -> Result<Status, ProcError> {
        let mut status = Status::default();
        for (n, line) in numbered_lines(text) {
            let Some((key, value)) = split_key(line) else {
                return Err(ProcError::parse(
                    source,
                    Some(n),
                    format!("expected `Key:\\tvalue`, found {}", snippet(line)),
                ));
            };
            match parse_number(value) {
                Some(Ok(Number::Kib(kib))) => {
                    status.kb.insert(key.to_owned(), kib);
                }
                Some(Err(message)) => {
                    return Err(ProcError::parse(
                        source,
                        Some(n),
                        format!("{key}: {message}"),
                    ));
                }
                Some(Ok(Number::Plain(_))) | None => {}
            }
            status
                .fields
                .insert(key.to_owned(), value.trim().to_owned());
        }
        Ok(status)
    }

    /// The raw value of `key`, trimmed (`"cat"`, `"1728 kB"`, `"0\t0\t0\t0"`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// Every field, by kernel name, with its raw trimmed value.
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// The number of a `kB` field (`VmRSS`, `VmPTE`...), in KiB; `None` when the
    /// field is missing or is not a `kB` field.
    pub fn kb(&self, key: &str) -> Option<u64> {
        self.kb.get(key).copied()
    }

    fn bytes(&self, key: &str) -> Option<Bytes> {
        self.kb(key).map(Bytes::from_kib)
    }

    /// `VmSize`: total virtual memory mapped.
    pub fn vm_size(&self) -> Option<Bytes> {
        self.bytes("VmSize")
    }

    /// `VmRSS`: resident memory (`RssAnon + RssFile + RssShmem`).
    pub fn vm_rss(&self) -> Option<Bytes> {
        self.bytes("VmRSS")
    }

    /// `VmHWM`: peak resident memory.
    pub fn vm_hwm(&self) -> Option<Bytes> {
        self.bytes("VmHWM")
    }

    /// `RssAnon`: resident anonymous memory.
    pub fn rss_anon(&self) -> Option<Bytes> {
        self.bytes("RssAnon")
    }

    /// `RssFile`: resident file-backed memory.
    pub fn rss_file(&self) -> Option<Bytes> {
        self.bytes("RssFile")
    }

    /// `VmPTE`: memory in page tables, all levels.
    pub fn vm_pte(&self) -> Option<Bytes> {
        self.bytes("VmPTE")
    }

    /// `VmSwap`: anonymous memory swapped out.
    pub fn vm_swap(&self) -> Option<Bytes> {
        self.bytes("VmSwap")
    }

    /// The `kB` fields by the kernel's names, in KiB.
    pub fn kb_fields(&self) -> &BTreeMap<String, u64> {
        &self.kb
    }

    /// The `kB` fields as a JSON object with the kernel's names and KiB numbers,
    /// for a timeline file: `{"VmPTE": 131364, "VmRSS": 704, ...}`.
    pub fn kb_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.kb
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/self/status` on the development machine (Linux 6.18), trimmed.
    const REAL: &str = "Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t5402
Pid:\t5402
PPid:\t5397
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
VmPeak:\t    3060 kB
VmSize:\t    3060 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t    1728 kB
VmRSS:\t    1728 kB
RssAnon:\t     112 kB
RssFile:\t    1616 kB
RssShmem:\t       0 kB
VmData:\t     360 kB
VmStk:\t     132 kB
VmExe:\t      20 kB
VmLib:\t    1528 kB
VmPTE:\t      44 kB
VmSwap:\t       0 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t1
SigQ:\t0/96365
CapEff:\t000001fffeffffff
Speculation_Store_Bypass:\tvulnerable
SpeculationIndirectBranch:\talways enabled
Cpus_allowed_list:\t0-1
voluntary_ctxt_switches:\t0
nonvoluntary_ctxt_switches:\t0
";

    fn parse(text: &str) -> Result<Status, ProcError> {
        Status::parse(text, Path::new("status"))
    }

    #[test]
    fn real_sample() {
        let s = parse(REAL).unwrap();
        assert_eq!(s.get("Name"), Some("cat"));
        assert_eq!(s.get("State"), Some("R (running)"));
        assert_eq!(s.get("Uid"), Some("0\t0\t0\t0"));
        assert_eq!(s.get("Groups"), Some(""));
        assert_eq!(s.get("SpeculationIndirectBranch"), Some("always enabled"));
        assert_eq!(s.get("VmRSS"), Some("1728 kB"));
        assert_eq!(s.vm_size(), Some(Bytes::from_kib(3060)));
        assert_eq!(s.vm_rss(), Some(Bytes::from_kib(1728)));
        assert_eq!(s.vm_hwm(), Some(Bytes::from_kib(1728)));
        assert_eq!(s.rss_anon(), Some(Bytes::from_kib(112)));
        assert_eq!(s.rss_file(), Some(Bytes::from_kib(1616)));
        assert_eq!(s.vm_pte(), Some(Bytes::from_kib(44)));
        assert_eq!(s.vm_swap(), Some(Bytes(0)));
        assert_eq!(s.kb("VmPTE"), Some(44));
        // Not kB fields.
        assert_eq!(s.kb("Threads"), None);
        assert_eq!(s.kb("THP_enabled"), None);
        assert_eq!(s.kb("NoSuchField"), None);
        assert_eq!(s.fields().len(), 37);
    }

    #[test]
    fn kb_json_map_has_kernel_names_and_kib() {
        let s = parse(REAL).unwrap();
        let m = s.kb_json_map();
        assert_eq!(m["VmPTE"], serde_json::json!(44));
        assert_eq!(m["VmRSS"], serde_json::json!(1728));
        assert_eq!(m["HugetlbPages"], serde_json::json!(0));
        assert!(!m.contains_key("Threads"));
        assert!(!m.contains_key("Name"));
        assert_eq!(m.len(), 16);
    }

    #[test]
    fn serializes_raw_fields() {
        let s = parse("Name:\tx\nVmPTE:\t  131364 kB\n").unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"Name": "x", "VmPTE": "131364 kB"})
        );
    }

    #[test]
    fn empty_and_blank_lines() {
        assert_eq!(parse("").unwrap(), Status::default());
        let s = parse("Name:\tx\n\nVmRSS:\t704 kB\n").unwrap();
        assert_eq!(s.vm_rss(), Some(Bytes::from_kib(704)));
        assert_eq!(s.vm_pte(), None);
    }

    #[test]
    fn line_without_colon_names_the_line() {
        let e = parse("Name:\tcat\nUmask:\t0022\nVmRSS 1728 kB\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        let msg = e.to_string();
        assert!(
            msg.starts_with("status:3: expected `Key:\\tvalue`"),
            "{msg}"
        );
        assert!(msg.contains("VmRSS 1728 kB"), "{msg}");
    }

    #[test]
    fn bad_kb_value_names_the_line_and_key() {
        let e = parse("Name:\tcat\nVmRSS:\t  12x4 kB\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "status:2: VmRSS: \"12x4 kB\" is not a number of kB"
        );
        let e = parse("VmPTE:\t99999999999999999999 kB\n").unwrap_err();
        assert!(e.to_string().starts_with("status:1: VmPTE: "), "{e}");
    }

    #[test]
    fn empty_key_is_an_error() {
        let e = parse(":\t1\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
    }
}
