//! Parsers for the `/proc` and `/sys` files that explain a memory-heavy run.
//!
//! The parsers are pure: they take the file's text and a `source` path (used only in
//! error messages) and never touch the system, so they are tested from strings. Code
//! that reads the live system is in [`live`].
//!
//! Field names are kept as the kernel spells them (`VmPTE`, `RssAnon`, `PageTables`,
//! `pgfault`), and `kB` figures stay in KiB, which is what the kernel means by `kB`;
//! typed accessors return [`Bytes`](crate::units::Bytes).
//!
//! | File | Parser | Result |
//! |------|--------|--------|
//! | `/proc/<pid>/status` | [`Status::parse`] | [`Status`] |
//! | `/proc/<pid>/maps` | [`parse_maps`] | `Vec<`[`Vma`]`>`, analysed by [`unmerged_runs`] |
//! | `/proc/<pid>/smaps_rollup` | [`SmapsRollup::parse`] | [`SmapsRollup`] |
//! | `/proc/meminfo` | [`Meminfo::parse`] | [`Meminfo`] |
//! | `/proc/vmstat` | [`Vmstat::parse`] | [`Vmstat`] |
//! | `/sys/kernel/mm/transparent_hugepage/{enabled,defrag}` | [`parse_thp_choice`] | `String` |
//! | `/sys/kernel/mm/transparent_hugepage/use_zero_page` | [`parse_flag`] | `bool` |
//! | `/proc/sys/vm/{overcommit_memory,overcommit_ratio,max_map_count}` | [`parse_sysctl_u64`] | `u64` |
//! | `/proc/<pid>/cgroup` | [`parse_cgroup`] | `Vec<`[`CgroupLine`]`>` |

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

mod cgroup;
pub mod live;
mod maps;
mod meminfo;
mod settings;
mod status;
mod vmstat;

pub use cgroup::{CgroupLine, CgroupVersion, memory_cgroup_path, parse_cgroup, parse_memory_limit};
pub use maps::{Perms, Vma, VmaRuns, count_vmas, parse_maps, unmerged_runs};
pub use meminfo::{Meminfo, SmapsRollup};
pub use settings::{
    ThpSettings, VmSysctls, parse_bracketed, parse_flag, parse_sysctl_u64, parse_thp_choice,
};
pub use status::Status;
pub use vmstat::Vmstat;

/// A `/proc` or `/sys` file could not be read or understood.
///
/// Displays as `PATH: cause` for read errors and `PATH:LINE: message` for parse
/// errors (`PATH: message` when no single line is to blame).
#[derive(Debug)]
pub enum ProcError {
    /// Reading the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The text was not in the expected format.
    Parse {
        /// The file (as given to the parser).
        path: PathBuf,
        /// 1-based line number, when one line is to blame.
        line: Option<usize>,
        /// What was wrong, quoting the offending text.
        message: String,
    },
}

impl ProcError {
    /// A parse error at 1-based `line` of `path`.
    pub fn parse(path: &Path, line: Option<usize>, message: impl Into<String>) -> ProcError {
        ProcError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A read error on `path`.
    pub fn io(path: &Path, source: io::Error) -> ProcError {
        ProcError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ProcError::Io { path, .. } | ProcError::Parse { path, .. } => path,
        }
    }

    /// The 1-based line the error is about, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ProcError::Io { .. } => None,
            ProcError::Parse { line, .. } => *line,
        }
    }

    /// True when the error means the process is gone: its `/proc/<pid>` entry no
    /// longer exists (`ENOENT`) or its files no longer answer (`ESRCH`). A sampler
    /// treats this as the end of the run, not as a failure.
    pub fn is_process_gone(&self) -> bool {
        const ESRCH: i32 = 3;
        match self {
            ProcError::Io { source, .. } => {
                source.kind() == io::ErrorKind::NotFound || source.raw_os_error() == Some(ESRCH)
            }
            ProcError::Parse { .. } => false,
        }
    }
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ProcError::Parse {
                path,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ProcError::Parse {
                path,
                line: None,
                message,
            } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ProcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcError::Io { source, .. } => Some(source),
            ProcError::Parse { .. } => None,
        }
    }
}

/// Largest KiB figure whose byte count fits in a `u64`, so that
/// [`Bytes::from_kib`](crate::units::Bytes::from_kib) never overflows on parsed values.
const MAX_KIB: u64 = u64::MAX / 1024;

/// The line, shortened for an error message.
fn snippet(line: &str) -> String {
    const MAX: usize = 80;
    if line.len() <= MAX {
        return format!("{line:?}");
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &line[..end])
}

/// Lines with their 1-based numbers, skipping lines that are empty or all blanks
/// (a trailing newline, a hand-edited fixture).
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
}

/// A value in a `Key: value` file: a size in KiB (`1728 kB`) or a plain count
/// (`HugePages_Total: 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Kib(u64),
    Plain(u64),
}

/// Parses the value part of a `Key: value` line (`    3060 kB`, `0`). `None` when the
/// value is neither `N kB` nor `N`; `Some(Err)` when it ends in `kB` but is not a
/// usable number.
fn parse_number(value: &str) -> Option<Result<Number, String>> {
    let value = value.trim();
    if let Some(num) = value.strip_suffix("kB") {
        let num = num.trim_end();
        return Some(match num.parse::<u64>() {
            Ok(n) if n <= MAX_KIB => Ok(Number::Kib(n)),
            Ok(_) => Err(format!("{value:?} is too large")),
            Err(_) => Err(format!("{value:?} is not a number of kB")),
        });
    }
    value.parse::<u64>().ok().map(|n| Ok(Number::Plain(n)))
}

/// Splits `Key: value` at the first colon; the key must be a single non-empty word.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_names_path_and_line() {
        let e = ProcError::parse(Path::new("status"), Some(3), "bad");
        assert_eq!(e.to_string(), "status:3: bad");
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.path(), Path::new("status"));
        let e = ProcError::parse(Path::new("/proc/sys/vm/max_map_count"), None, "empty");
        assert_eq!(e.to_string(), "/proc/sys/vm/max_map_count: empty");
        let e = ProcError::io(
            Path::new("/proc/1/maps"),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(e.to_string().starts_with("/proc/1/maps: "));
        assert!(e.is_process_gone());
        assert!(ProcError::io(Path::new("x"), io::Error::from_raw_os_error(3)).is_process_gone());
        assert!(!ProcError::parse(Path::new("x"), None, "m").is_process_gone());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("    3060 kB"), Some(Ok(Number::Kib(3060))));
        assert_eq!(parse_number("0"), Some(Ok(Number::Plain(0))));
        assert_eq!(parse_number("0/96365"), None);
        assert!(matches!(parse_number("x kB"), Some(Err(_))));
        assert!(matches!(parse_number("-1 kB"), Some(Err(_))));
        assert!(matches!(
            parse_number("18446744073709551615 kB"),
            Some(Err(m)) if m.contains("too large")
        ));
    }

    #[test]
    fn snippet_shortens_on_char_boundary() {
        let long = "é".repeat(100);
        let s = snippet(&long);
        assert!(s.ends_with("..."));
        assert!(s.len() < 100);
    }
}
