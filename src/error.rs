//! Errors that name the file, and the line when there is one.

use std::io;
use std::path::PathBuf;

/// Everything that can stop faultline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or mapping a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A directory was given where a file was expected.
    #[error("{}: is a directory, not a `perf script` file", path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A directory without a recording where one was expected; `hint` says what to give.
    #[error("{}: {hint}", path.display())]
    NotARecording {
        /// The directory.
        path: PathBuf,
        /// What it is and what to give instead.
        hint: String,
    },
    /// A version 1 (`PERFFILE`) perf.data file, which only `perf script` reads.
    #[error("{}: this is an old (version 1) perf.data file; convert it with `perf script --header -i {}`", path.display(), path.display())]
    PerfData {
        /// The file.
        path: PathBuf,
    },
    /// A perf.data file could not be read.
    #[error("{}: {message}", path.display())]
    PerfDataRead {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The input has NUL bytes: it is not text.
    #[error("{}:{line}: binary data (NUL byte at offset {offset}); expected `perf script` text", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first NUL.
        offset: usize,
        /// 1-based line of the first NUL.
        line: usize,
    },
    /// `--strict` and a line could not be used.
    #[error("{}:{line}: {kind}: {text:?} ({total} such lines in all)", path.display())]
    Strict {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What was wrong with it.
        kind: String,
        /// The line.
        text: String,
        /// Lines skipped in all.
        total: u64,
    },
    /// The input had text but not a single sample.
    #[error("{}: no samples found in {lines} lines; first unreadable line {line}: {text:?}", path.display())]
    NoSamples {
        /// The file.
        path: PathBuf,
        /// Lines read.
        lines: u64,
        /// The first unreadable line.
        line: u64,
        /// Its text.
        text: String,
    },
    /// `--event` named an event the input does not have.
    #[error("no event matches `{requested}`; the input has: {available}")]
    NoSuchEvent {
        /// What was asked for.
        requested: String,
        /// The events present.
        available: String,
    },
    /// A folded-stack line without a count.
    #[error("{}:{line}: not a folded stack line (expected `frame;frame count`): {text:?}", path.display())]
    BadFolded {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A `--rules` file could not be used.
    #[error("{}: not a valid rules file: {message}", path.display())]
    Rules {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A `--budgets` file could not be used.
    #[error("{}: not a valid budgets file: {message}", path.display())]
    Budgets {
        /// The file.
        path: PathBuf,
        /// What was wrong, naming the key.
        message: String,
    },
    /// An input that is neither a regular file nor a pipe: reading a device such as
    /// `/dev/zero` whole would never end.
    #[error("{}: is a {kind}, not a file or a pipe; give a `perf script` file, a pipe or standard input", path.display())]
    NotRegular {
        /// The input.
        path: PathBuf,
        /// What it is (`character device`, `socket`…).
        kind: &'static str,
    },
    /// Weights that add up past the largest 64-bit count: no real recording has them.
    #[error("{}{}: {what} add up to more than {max} (the largest 64-bit count); the input's {what} are corrupt", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), max = u64::MAX)]
    Overflow {
        /// The input.
        path: PathBuf,
        /// The line where the sum passed the limit, when one line did.
        line: Option<usize>,
        /// What overflowed (`sample periods`, `folded counts`).
        what: &'static str,
    },
    /// Recordings that cannot be compared, or a comparison that cannot be made.
    #[error("cannot compare: {0}")]
    Mismatch(String),
    /// Writing output failed.
    #[error("writing {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// A profile could not be pushed to a profiling server.
    #[error("push to {url}: {message}")]
    Push {
        /// The request URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
