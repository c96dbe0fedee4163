//! One-value settings files: transparent huge page modes and `vm.*` sysctls.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ProcError, snippet};

/// Transparent huge page settings from `/sys/kernel/mm/transparent_hugepage/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThpSettings {
    /// `enabled`: `always`, `madvise` or `never`.
    pub enabled: String,
    /// `defrag`: `always`, `defer`, `defer+madvise`, `madvise` or `never`.
    pub defrag: String,
    /// `use_zero_page`: whether read faults on untouched anonymous memory map the
    /// huge zero page.
    pub use_zero_page: bool,
}

/// Virtual memory sysctls from `/proc/sys/vm/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSysctls {
    /// `overcommit_memory`: 0 heuristic, 1 always, 2 never (strict accounting).
    pub overcommit_memory: u64,
    /// `overcommit_ratio`: percent of RAM in `CommitLimit` under mode 2.
    pub overcommit_ratio: u64,
    /// `max_map_count`: the most VMAs a process may have (65530 by default).
    pub max_map_count: u64,
}

/// The bracketed choice of a kernel mode file: `always [madvise] never` →
/// `madvise`. `None` when there is no non-empty `[...]`.
pub fn parse_bracketed(text: &str) -> Option<String> {
    let (_, after) = text.split_once('[')?;
    let (choice, _) = after.split_once(']')?;
    let choice = choice.trim();
    (!choice.is_empty()).then(|| choice.to_owned())
}

/// Parses a transparent huge page mode file (`enabled`, `defrag`,
/// `shmem_enabled`) into its selected choice; `source` names the file in errors.
///
/// ```text
/// always [madvise] never
/// always defer defer+madvise [madvise] never
/// ```
pub fn parse_thp_choice(text: &str, source: &Path) -> Result<String, ProcError> {
    parse_bracketed(text).ok_or_else(|| {
        ProcError::parse(
            source,
            Some(1),
            format!(
                "expected choices with one in brackets, found {}",
                snippet(text.trim())
            ),
        )
    })
}

/// Parses a `0`/`1` flag file such as `use_zero_page`; `source` names the file in
/// errors.
///
/// ```text
/// 1
/// ```
pub fn parse_flag(text: &str, source: &Path) -> Result<bool, ProcError> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(ProcError::parse(
            source,
            Some(1),
            format!("expected 0 or 1, found {}", snippet(other)),
        )),
    }
}

/// Parses a one-number sysctl file (`overcommit_memory`, `overcommit_ratio`,
/// `max_map_count`); `source` names the file in errors.
///
/// ```text
/// 65530
/// ```
pub fn parse_sysctl_u64(text: &str, source: &Path) -> Result<u64, ProcError> {
    let t = text.trim();
    t.parse::<u64>().map_err(|_| {
        ProcError::parse(
            source,
            Some(1),
            format!("expected a non-negative integer, found {}", snippet(t)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_real_samples() {
        // `cat /sys/kernel/mm/transparent_hugepage/*` on the development machine.
        assert_eq!(
            parse_bracketed("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(
            parse_bracketed("always defer defer+madvise [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(
            parse_bracketed("always within_size advise [never] deny force\n").as_deref(),
            Some("never")
        );
        assert_eq!(
            parse_bracketed("[always] madvise never").as_deref(),
            Some("always")
        );
        assert_eq!(parse_bracketed("always madvise never"), None);
        assert_eq!(parse_bracketed("always [madvise never"), None);
        assert_eq!(parse_bracketed("[] never"), None);
        assert_eq!(parse_bracketed(""), None);
    }

    #[test]
    fn thp_choice_errors_name_the_file() {
        let src = Path::new("/sys/kernel/mm/transparent_hugepage/enabled");
        assert_eq!(
            parse_thp_choice("always [madvise] never\n", src).unwrap(),
            "madvise"
        );
        let e = parse_thp_choice("always madvise never\n", src).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/sys/kernel/mm/transparent_hugepage/enabled:1: expected choices with one in \
             brackets, found \"always madvise never\""
        );
    }

    #[test]
    fn flags_and_sysctls() {
        let src = Path::new("use_zero_page");
        assert!(parse_flag("1\n", src).unwrap());
        assert!(!parse_flag("0", src).unwrap());
        let e = parse_flag("2\n", src).unwrap_err();
        assert_eq!(
            e.to_string(),
            "use_zero_page:1: expected 0 or 1, found \"2\""
        );

        let src = Path::new("max_map_count");
        assert_eq!(parse_sysctl_u64("65530\n", src).unwrap(), 65530);
        assert_eq!(parse_sysctl_u64("0\n", src).unwrap(), 0);
        assert_eq!(parse_sysctl_u64("50\n", src).unwrap(), 50);
        for bad in ["", "-1", "12 kB", "x"] {
            let e = parse_sysctl_u64(bad, src).unwrap_err();
            assert!(e.to_string().starts_with("max_map_count:1: "), "{e}");
        }
    }
}
