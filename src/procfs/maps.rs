//! `/proc/<pid>/maps` and the unmerged-VMA analysis.

use std::fmt;
use std::path::Path;

use serde::{Serialize, Serializer};

use super::{ProcError, numbered_lines, snippet};
use crate::units::Bytes;

/// The four permission characters of a mapping, as the kernel prints them:
/// `r`/`-`, `w`/`-`, `x`/`-`, then `p` (private) or `s` (shared). Serializes as the
/// four-character string (`"rw-p"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perms([u8; 4]);

impl Perms {
    /// Parses `rw-p`, `r-xp`, `---p`, `r--s`...; `None` for anything else.
    pub fn parse(s: &str) -> Option<Perms> {
        let b: [u8; 4] = s.as_bytes().try_into().ok()?;
        let ok = matches!(b[0], b'r' | b'-')
            && matches!(b[1], b'w' | b'-')
            && matches!(b[2], b'x' | b'-')
            && matches!(b[3], b'p' | b's');
        ok.then_some(Perms(b))
    }

    /// The four characters (`"rw-p"`).
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// The raw bytes (`*b"rw-p"`).
    pub fn bytes(&self) -> [u8; 4] {
        self.0
    }

    /// Readable.
    pub fn read(&self) -> bool {
        self.0[0] == b'r'
    }

    /// Writable.
    pub fn write(&self) -> bool {
        self.0[1] == b'w'
    }

    /// Executable.
    pub fn exec(&self) -> bool {
        self.0[2] == b'x'
    }

    /// Shared (`s`) rather than private copy-on-write (`p`).
    pub fn shared(&self) -> bool {
        self.0[3] == b's'
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Perms {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One virtual memory area: a line of `/proc/<pid>/maps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions.
    pub perms: Perms,
    /// Offset into the file; 0 for anonymous memory.
    pub offset: u64,
    /// Device `major:minor` in hex, as printed (`fe:00`, `00:00`).
    pub dev: String,
    /// Inode of the file, 0 for anonymous memory.
    pub inode: u64,
    /// The path, pseudo-path (`[heap]`, `[stack]`, `[vdso]`, `[anon:name]`) or
    /// `path (deleted)`; `None` for an anonymous mapping.
    pub path: Option<String>,
}

impl Vma {
    /// Parses one line of `/proc/<pid>/maps`; the message says what is wrong.
    pub(super) fn parse_line(line: &str) -> Result<Vma, String> {
        let mut rest = line;
        let mut field = |what: &str| {
            let s = rest.trim_start_matches([' ', '\t']);
            let end = s.find([' ', '\t']).unwrap_or(s.len());
            let (f, r) = s.split_at(end);
            rest = r;
            if f.is_empty() {
                Err(format!("missing {what}"))
            } else {
                Ok(f)
            }
        };
        let range = field("address range")?;
        let perms = field("permissions")?;
        let offset = field("offset")?;
        let dev = field("device")?;
        let inode = field("inode")?;

        let (start, end) = range
            .split_once('-')
            .and_then(|(s, e)| Some((hex(s)?, hex(e)?)))
            .ok_or_else(|| format!("bad address range {range:?}"))?;
        if end < start {
            return Err(format!("address range {range:?} ends before it starts"));
        }
        let perms = Perms::parse(perms).ok_or_else(|| format!("bad permissions {perms:?}"))?;
        let offset = hex(offset).ok_or_else(|| format!("bad offset {offset:?}"))?;
        if !dev
            .split_once(':')
            .is_some_and(|(maj, min)| hex(maj).is_some() && hex(min).is_some())
        {
            return Err(format!("bad device {dev:?}"));
        }
        let inode = inode
            .parse::<u64>()
            .map_err(|_| format!("bad inode {inode:?}"))?;
        // Everything after the padding is the path, spaces included.
        let path = rest.trim_start_matches([' ', '\t']);
        Ok(Vma {
            start,
            end,
            perms,
            offset,
            dev: dev.to_owned(),
            inode,
            path: (!path.is_empty()).then(|| path.to_owned()),
        })
    }

    /// The size of the area (0 if `end < start`, which parsing rejects).
    pub fn len(&self) -> Bytes {
        Bytes(self.end.saturating_sub(self.start))
    }

    /// True when the area has no path: private or shared anonymous memory that is
    /// not the heap, a stack or a named special mapping.
    pub fn is_anonymous(&self) -> bool {
        self.path.is_none()
    }

    /// True when the mapped file has been deleted (the path ends in ` (deleted)`).
    pub fn is_deleted(&self) -> bool {
        self.path
            .as_deref()
            .is_some_and(|p| p.ends_with(" (deleted)"))
    }
}

fn hex(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parses the text of `/proc/<pid>/maps`, one [`Vma`] per line, in file order
/// (ascending addresses); `source` names the file in errors.
///
/// Accepts `start-end perms offset dev inode [path]`; the path is everything after
/// the padding that follows the inode, so it may contain spaces. Anonymous
/// mappings have no path (the kernel ends their line with a space):
///
/// ```text
/// 55d580bdc000-55d580bde000 r--p 00000000 fe:00 247030                     /usr/bin/cat
/// 55d5af62e000-55d5af64f000 rw-p 00000000 00:00 0                          [heap]
/// 7f07d10ab000-7f07d10cd000 rw-p 00000000 00:00 0
/// 7f07d1313000-7f07d131a000 r--s 00000000 fe:00 325745                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
/// 7f07d1400000-7f07d1401000 rw-s 00000000 00:01 1034                       /memfd:my buf (deleted)
/// ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
/// ```
///
/// A line with a missing or malformed field is an error naming the line
/// (`maps:7: bad permissions "rw"`).
pub fn parse_maps(text: &str, source: &Path) -> Result<Vec<Vma>, ProcError> {
    numbered_lines(text)
        .map(|(n, line)| {
            Vma::parse_line(line).map_err(|message| {
                ProcError::parse(source, Some(n), format!("{message} in {}", snippet(line)))
            })
        })
        .collect()
}

/// The number of VMAs in the text of `/proc/<pid>/maps` (its non-empty lines),
/// without parsing them: cheap enough for a sampler that compares the count with
/// `vm.max_map_count` every few milliseconds.
pub fn count_vmas(text: &str) -> usize {
    let bytes = text.as_bytes();
    let newlines = memchr::memchr_iter(b'\n', bytes).count();
    // A final line without a newline still counts; blank lines (`\n\n`) do not
    // appear in real maps files and are not worth a second pass.
    newlines + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

/// Runs of adjacent anonymous VMAs that the kernel did not merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VmaRuns {
    /// VMAs examined.
    pub count: usize,
    /// Runs of two or more unmerged neighbours.
    pub runs: usize,
    /// VMAs in the longest run; 0 when there is no run.
    pub longest: usize,
    /// VMAs that merging every run into one VMA would save: the sum over runs of
    /// `len - 1`.
    pub mergeable_savings: usize,
}

/// Finds runs of VMAs that look mergeable but were not merged: each touches the
/// next (`prev.end == next.start`), has the same permissions and is anonymous (no
/// path). `vmas` must be in address order, as [`parse_maps`] returns them.
///
/// This is the symptom of seed 003: a program that commits pieces of a reserved
/// range one at a time (`mmap` then `mprotect`, or `MAP_FIXED` over a reservation)
/// can leave thousands of small neighbouring VMAs, each costing one of the
/// `vm.max_map_count` slots, because the pieces got different `anon_vma`s. The
/// maps file cannot show every reason two VMAs stay apart (`anon_vma`, `madvise`
/// flags such as `MADV_DONTFORK` or `MADV_NOHUGEPAGE`, `mlock`, NUMA policy,
/// `userfaultfd`), so these are candidates; `/proc/<pid>/smaps` `VmFlags` narrows
/// them down.
pub fn unmerged_runs(vmas: &[Vma]) -> VmaRuns {
    let mut out = VmaRuns {
        count: vmas.len(),
        ..VmaRuns::default()
    };
    let mut close = |len: usize| {
        if len >= 2 {
            out.runs += 1;
            out.longest = out.longest.max(len);
            out.mergeable_savings += len - 1;
        }
    };
    let mut current = 1;
    for pair in vmas.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.end == b.start && a.perms == b.perms && a.is_anonymous() && b.is_anonymous() {
            current += 1;
        } else {
            close(current);
            current = 1;
        }
    }
    close(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/self/maps` on the development machine (Linux 6.18), trimmed. The
    /// anonymous lines end in a space, as the kernel prints them.
    const REAL: &str = "\
55d580bdc000-55d580bde000 r--p 00000000 fe:00 247030                     /usr/bin/cat
55d580bde000-55d580be3000 r-xp 00002000 fe:00 247030                     /usr/bin/cat
55d580be7000-55d580be8000 rw-p 0000a000 fe:00 247030                     /usr/bin/cat
55d5af62e000-55d5af64f000 rw-p 00000000 00:00 0                          [heap]
7f07d10ab000-7f07d10cd000 rw-p 00000000 00:00 0 
7f07d1128000-7f07d1129000 r--p 00000000 fe:00 316538                     /usr/lib/locale/C.utf8/LC_MESSAGES/SYS_LC_MESSAGES
7f07d1303000-7f07d1305000 rw-p 001d3000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f07d1305000-7f07d1312000 rw-p 00000000 00:00 0 
7f07d1313000-7f07d131a000 r--s 00000000 fe:00 325745                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
7f07d131d000-7f07d1321000 r--p 00000000 00:00 0                          [vvar]
7f07d1321000-7f07d1323000 r--p 00000000 00:00 0                          [vvar_vclock]
7f07d1323000-7f07d1325000 r-xp 00000000 00:00 0                          [vdso]
7ffe5f8e9000-7ffe5f90a000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    fn parse(text: &str) -> Result<Vec<Vma>, ProcError> {
        parse_maps(text, Path::new("maps"))
    }

    #[test]
    fn real_sample() {
        let v = parse(REAL).unwrap();
        assert_eq!(v.len(), 14);
        assert_eq!(count_vmas(REAL), 14);
        assert_eq!(
            v[0],
            Vma {
                start: 0x55d580bdc000,
                end: 0x55d580bde000,
                perms: Perms::parse("r--p").unwrap(),
                offset: 0,
                dev: "fe:00".into(),
                inode: 247030,
                path: Some("/usr/bin/cat".into()),
            }
        );
        assert_eq!(v[0].len(), Bytes(0x2000));
        assert_eq!(v[1].offset, 0x2000);
        assert!(v[1].perms.exec() && !v[1].perms.write());
        assert_eq!(v[3].path.as_deref(), Some("[heap]"));
        assert!(!v[3].is_anonymous());
        assert!(v[4].is_anonymous());
        assert_eq!(v[4].path, None);
        assert_eq!(v[4].perms.to_string(), "rw-p");
        assert!(v[8].perms.shared());
        assert_eq!(v[11].path.as_deref(), Some("[vdso]"));
        assert_eq!(v[13].start, 0xffffffffff600000);
        assert!(!v.iter().any(Vma::is_deleted));
        // Nothing here is a run of unmerged anonymous neighbours.
        assert_eq!(
            unmerged_runs(&v),
            VmaRuns {
                count: 14,
                ..VmaRuns::default()
            }
        );
    }

    #[test]
    fn paths_with_spaces_and_deleted() {
        let text = "7f0000000000-7f0000001000 rw-s 00000000 00:01 1034                       /memfd:my buf (deleted)\n\
                    7f0000001000-7f0000002000 r--p 00001000 08:02 77 /home/a b/lib c.so\n";
        let v = parse(text).unwrap();
        assert_eq!(v[0].path.as_deref(), Some("/memfd:my buf (deleted)"));
        assert!(v[0].is_deleted());
        assert_eq!(v[1].path.as_deref(), Some("/home/a b/lib c.so"));
        assert_eq!(v[1].dev, "08:02");
        assert!(!v[1].is_deleted());
    }

    #[test]
    fn anonymous_without_trailing_space_or_newline() {
        let v = parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0").unwrap();
        assert!(v[0].is_anonymous());
        assert_eq!(
            count_vmas("7f0000000000-7f0000001000 rw-p 00000000 00:00 0"),
            1
        );
        assert_eq!(count_vmas(""), 0);
    }

    #[test]
    fn perms_serialize_as_text() {
        let v = parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n").unwrap();
        let j = serde_json::to_value(&v[0]).unwrap();
        assert_eq!(j["perms"], "rw-p");
        assert_eq!(j["path"], serde_json::Value::Null);
        assert_eq!(Perms::parse("rw-p").unwrap().bytes(), *b"rw-p");
        assert!(Perms::parse("rwxq").is_none());
        assert!(Perms::parse("rw-").is_none());
        assert!(Perms::parse("rw-pp").is_none());
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let good = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n";
        let cases = [
            (
                "7f00-zz rw-p 00000000 00:00 0",
                "bad address range \"7f00-zz\"",
            ),
            ("7f00 rw-p 00000000 00:00 0", "bad address range \"7f00\""),
            ("2000-1000 rw-p 00000000 00:00 0", "ends before it starts"),
            ("1000-2000 rw 00000000 00:00 0", "bad permissions \"rw\""),
            ("1000-2000 rw-p 0000g000 00:00 0", "bad offset"),
            ("1000-2000 rw-p 00000000 0000 0", "bad device \"0000\""),
            ("1000-2000 rw-p 00000000 00:00 x1", "bad inode \"x1\""),
            ("1000-2000 rw-p 00000000 00:00", "missing inode"),
            ("1000-2000", "missing permissions"),
            ("1000-2000 rw-p +0 00:00 0", "bad offset \"+0\""),
        ];
        for (bad, want) in cases {
            let text = format!("{good}{good}{bad}\n{good}");
            let e = parse(&text).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("maps:3: "), "{msg}");
            assert!(msg.contains(want), "{bad:?}: {msg}");
            assert_eq!(e.line(), Some(3));
        }
    }

    /// Hand-made maps text: two runs, broken by an anonymous VMA with other
    /// permissions, a file-backed neighbour and a gap.
    const RUNS: &str = "\
7f8bd6800000-7f8bd6801000 rw-p 00000000 00:00 0 
7f8bd6801000-7f8bd6830000 rw-p 00000000 00:00 0 
7f8bd6830000-7f8bd6832000 rw-p 00000000 00:00 0 
7f8bd6832000-7f8bd6862000 ---p 00000000 00:00 0 
7f8bd6862000-7f8bd6864000 rw-p 00000000 00:00 0 
7f8bd6864000-7f8bd6870000 rw-p 00000000 00:00 0 
7f8bd6870000-7f8bd6871000 rw-p 00000000 00:00 0 
7f8bd6871000-7f8bd6872000 rw-p 00000000 00:00 0 
7f8bd6872000-7f8bd6880000 rw-p 00000000 fe:00 1234                       /tmp/data
7f8bd6880000-7f8bd6881000 rw-p 00000000 00:00 0 
7f8bd6890000-7f8bd6891000 rw-p 00000000 00:00 0 
";

    #[test]
    fn unmerged_runs_on_hand_made_maps() {
        let v = parse(RUNS).unwrap();
        // Run 1: lines 1-3 (three rw-p), broken by the ---p line 4.
        // Run 2: lines 5-8 (four rw-p), broken by the file-backed line 9.
        // Line 10 touches line 9 but line 9 has a path; line 11 is past a gap.
        assert_eq!(
            unmerged_runs(&v),
            VmaRuns {
                count: 11,
                runs: 2,
                longest: 4,
                mergeable_savings: 2 + 3,
            }
        );
    }

    #[test]
    fn unmerged_runs_edges() {
        assert_eq!(unmerged_runs(&[]), VmaRuns::default());
        let v = parse(RUNS).unwrap();
        // A single VMA is no run.
        assert_eq!(unmerged_runs(&v[..1]).runs, 0);
        // A run that reaches the end of the list is counted.
        let r = unmerged_runs(&v[4..8]);
        assert_eq!((r.runs, r.longest, r.mergeable_savings), (1, 4, 3));
        // Shared anonymous neighbours with equal perms count too.
        let shared = "1000-2000 rw-s 00000000 00:00 0 \n2000-3000 rw-s 00000000 00:00 0 \n";
        assert_eq!(unmerged_runs(&parse(shared).unwrap()).runs, 1);
        let j = serde_json::to_value(unmerged_runs(&v)).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"count": 11, "runs": 2, "longest": 4, "mergeable_savings": 5})
        );
    }
}
