//! One way in for every command that reads a recording: find the recording (a file, standard
//! input, or a run directory's `perf.script`), parse it, and apply one policy for unusable
//! lines (`strict`) and for inputs without samples. What was left out comes back as data
//! ([`LoadWarning`]); the binary decides how to print it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ingest::input::Input;
use crate::ingest::profile::{BuildOptions, Profile};
use crate::ingest::script::{SkipKind, SkippedLine};

/// The recording inside a run directory (`perf script --header` output). The recorder
/// writes it under this name.
pub const RUN_DIR_RECORDING: &str = "perf.script";

/// The recording `faultline record` writes, read directly when present.
pub const RUN_DIR_PERF_DATA: &str = "perf.data";

/// The report `faultline analyze -o` writes; a directory holding it is a report directory.
const REPORT_FILE: &str = "report.json";

/// How a recording is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Fail on the first line that cannot be used, naming file and line.
    pub strict: bool,
    /// Accept an input with no samples and nothing skipped (an empty file) with a
    /// [`LoadWarning::NoSamples`]; otherwise it is [`Error::NoSamples`]. Filters that
    /// print what they read allow it; analyses, which need samples, do not.
    pub allow_empty: bool,
    /// Interning and parser threads.
    pub build: BuildOptions,
}

/// Where a recording was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The `perf script` text (`-` for standard input).
    pub recording: PathBuf,
    /// The run directory it belongs to, when a run directory was given.
    pub run_dir: Option<PathBuf>,
}

/// Something left out while loading, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// Lines of one kind that could not be used.
    Skipped {
        /// What was wrong with them.
        kind: SkipKind,
        /// How many.
        count: u64,
        /// The first few, with their line numbers.
        examples: Vec<SkippedLine>,
    },
    /// Event lines read by guessing where the comm ends (the text fits two readings).
    Guessed {
        /// How many.
        count: u64,
        /// The first few, with their line numbers.
        examples: Vec<SkippedLine>,
    },
    /// The input holds no samples (only with [`LoadOptions::allow_empty`]).
    NoSamples,
    /// The file changed while it was read; the sentence says what the output covers.
    Changed(String),
    /// What reading a perf.data file met: missing symbols, lost or unreadable records.
    PerfData(String),
}

/// What loading said about one input: its name and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// The recording's path as messages should name it.
    pub path: PathBuf,
    /// What was left out, in a fixed order.
    pub warnings: Vec<LoadWarning>,
}

/// A parsed recording.
pub struct Loaded {
    /// The interned profile.
    pub profile: Profile,
    /// Where it came from.
    pub located: Located,
    /// What was left out.
    pub summary: LoadSummary,
}

/// Finds the recording `input` names: standard input for `None` or `-`, a file as it is,
/// or a run directory's [`RUN_DIR_RECORDING`]. A directory that is not a run says what
/// to give instead.
pub fn locate(input: Option<&Path>) -> Result<Located> {
    let Some(path) = input.filter(|p| *p != Path::new("-")) else {
        return Ok(Located {
            recording: "-".into(),
            run_dir: None,
        });
    };
    if !path.is_dir() {
        return Ok(Located {
            recording: path.to_path_buf(),
            run_dir: None,
        });
    }
    // The recording itself when it is there (no `perf script` step), else its text.
    let data = path.join(RUN_DIR_PERF_DATA);
    let text = path.join(RUN_DIR_RECORDING);
    let recording = if data.is_file() { data } else { text };
    if recording.is_file() {
        return Ok(Located {
            recording,
            run_dir: Some(path.to_path_buf()),
        });
    }
    Err(Error::NotARecording {
        path: path.to_path_buf(),
        hint: directory_hint(path),
    })
}

/// What to do with a directory that has no recording.
fn directory_hint(dir: &Path) -> String {
    if dir.join(REPORT_FILE).is_file() {
        "is a directory holding a report from `faultline analyze`; give the run directory or `perf script` file it was made from".into()
    } else {
        format!(
            "is a directory without {RUN_DIR_RECORDING} (or {RUN_DIR_PERF_DATA}); give a perf.data file, a `perf script` file or a run directory from `faultline record`"
        )
    }
}

/// Finds, reads and parses a recording ([`locate`], then [`parse`]).
pub fn load(input: Option<&Path>, opts: &LoadOptions) -> Result<Loaded> {
    load_with_progress(input, opts, &|_| {})
}

/// [`load`], calling `progress` with the bytes parsed as parsing goes.
pub fn load_with_progress(
    input: Option<&Path>,
    opts: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Loaded> {
    let located = locate(input)?;
    let data = Input::open(Some(&located.recording))?;
    let (profile, summary) = parse(&data, opts, progress)?;
    Ok(Loaded {
        profile,
        located,
        summary,
    })
}

/// Parses input already open and applies the load policy: `--strict`, the no-samples
/// error, and the summary of what was skipped.
pub fn parse(
    input: &Input,
    opts: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Profile, LoadSummary)> {
    if input.is_perf_data() {
        return parse_perf_data(input, opts, progress);
    }
    let profile = match input.stream() {
        Some(stream) => Profile::build_stream(stream, opts.build, progress)?,
        None => Profile::build(input.bytes(), opts.build, progress),
    };
    let mut warnings = check(&profile, input.path(), opts)?;
    let d = &profile.diagnostics;
    if d.guessed > 0 {
        warnings.push(LoadWarning::Guessed {
            count: d.guessed,
            examples: d.guessed_examples.clone(),
        });
    }
    profile.check_weights(input.path())?;
    // Parsing has read every byte: a change from here on is not in the profile.
    warnings.extend(input.changed().map(LoadWarning::Changed));
    let summary = LoadSummary {
        path: input.path().to_path_buf(),
        warnings,
    };
    Ok((profile, summary))
}

/// Reads a perf.data file ([`crate::ingest::perf_data`]); it has no lines to skip, so
/// `strict` has nothing to refuse, and a file without samples is an error there.
fn parse_perf_data(
    input: &Input,
    opts: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Profile, LoadSummary)> {
    let loaded = crate::ingest::perf_data::load(input.bytes(), input.path(), opts.build)?;
    progress(input.bytes().len() as u64);
    loaded.profile.check_weights(input.path())?;
    let mut warnings: Vec<LoadWarning> = loaded
        .warnings
        .into_iter()
        .map(LoadWarning::PerfData)
        .collect();
    warnings.extend(input.changed().map(LoadWarning::Changed));
    let summary = LoadSummary {
        path: input.path().to_path_buf(),
        warnings,
    };
    Ok((loaded.profile, summary))
}

/// The load policy over a parsed profile: an error for `strict` with a skipped line or
/// for no samples, else what was skipped.
fn check(profile: &Profile, path: &Path, opts: &LoadOptions) -> Result<Vec<LoadWarning>> {
    let d = &profile.diagnostics;
    let Some(first) = d.first_skipped() else {
        if d.samples > 0 {
            return Ok(Vec::new());
        }
        if opts.allow_empty {
            return Ok(vec![LoadWarning::NoSamples]);
        }
        return Err(Error::NoSamples {
            path: path.to_path_buf(),
            lines: d.lines,
            line: 0,
            text: String::new(),
        });
    };
    if opts.strict {
        return Err(Error::Strict {
            path: path.to_path_buf(),
            line: first.line,
            kind: first.kind.to_string(),
            text: first.text.clone(),
            total: d.total_skipped(),
        });
    }
    if d.samples == 0 {
        return Err(Error::NoSamples {
            path: path.to_path_buf(),
            lines: d.lines,
            line: first.line,
            text: first.text.clone(),
        });
    }
    Ok(SkipKind::ALL
        .into_iter()
        .filter(|&kind| d.skipped(kind) > 0)
        .map(|kind| LoadWarning::Skipped {
            kind,
            count: d.skipped(kind),
            examples: d
                .examples
                .iter()
                .filter(|e| e.kind == kind)
                .cloned()
                .collect(),
        })
        .collect())
}

impl LoadSummary {
    /// Takes the [`LoadWarning::Changed`] and [`LoadWarning::PerfData`] sentences out, for callers that report them
    /// with their own output (analyze puts them in its report).
    pub fn take_changed(&mut self) -> Vec<String> {
        let mut changed = Vec::new();
        self.warnings.retain(|w| match w {
            LoadWarning::Changed(msg) => {
                changed.push(msg.clone());
                false
            }
            LoadWarning::PerfData(msg) => {
                changed.push(format!("{}: {msg}", self.path.display()));
                false
            }
            _ => true,
        });
        changed
    }

    /// Lines skipped, all kinds together.
    pub fn skipped(&self) -> u64 {
        self.warnings
            .iter()
            .map(|w| match w {
                LoadWarning::Skipped { count, .. } => *count,
                LoadWarning::Guessed { .. }
                | LoadWarning::NoSamples
                | LoadWarning::Changed(_)
                | LoadWarning::PerfData(_) => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str, opts: LoadOptions) -> Result<LoadSummary> {
        let input = Input::from_bytes("t.txt", text.as_bytes().to_vec())?;
        parse(&input, &opts, &|_| {}).map(|(_, s)| s)
    }

    // Padded as perf pads it: an unpadded line would also be counted as a guess.
    const WEIRD: &str = "pf     1     1.000000:          1 cpu-clock:\n\t1 f (d)\n\tWEIRD\n\n";

    #[test]
    fn skipped_lines_are_data_or_a_strict_error() {
        let s = parsed(WEIRD, LoadOptions::default()).unwrap();
        assert_eq!(s.skipped(), 1);
        assert!(matches!(
            &s.warnings[..],
            [LoadWarning::Skipped { kind: SkipKind::StackLine, count: 1, examples }]
                if examples[0].line == 3
        ));
        let strict = LoadOptions {
            strict: true,
            ..LoadOptions::default()
        };
        let e = parsed(WEIRD, strict).unwrap_err().to_string();
        assert!(e.starts_with("t.txt:3:"), "{e}");
    }

    #[test]
    fn no_samples_is_one_rule() {
        // Text that is not perf script: always an error, naming the first line.
        let e = parsed("hello\n", LoadOptions::default()).unwrap_err();
        assert!(matches!(e, Error::NoSamples { line: 1, .. }), "{e}");
        // Empty input: an error unless the caller allows it.
        assert!(matches!(
            parsed("", LoadOptions::default()),
            Err(Error::NoSamples { line: 0, .. })
        ));
        let allow = LoadOptions {
            allow_empty: true,
            ..LoadOptions::default()
        };
        assert_eq!(
            parsed("", allow).unwrap().warnings,
            [LoadWarning::NoSamples]
        );
    }

    #[test]
    fn directories_are_runs_or_say_what_to_give() {
        let dir = std::env::temp_dir().join(format!("faultline-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = locate(Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("is a directory without perf.script"), "{e}");
        std::fs::write(dir.join(RUN_DIR_RECORDING), WEIRD).unwrap();
        let l = locate(Some(&dir)).unwrap();
        assert_eq!(l.recording, dir.join(RUN_DIR_RECORDING));
        assert_eq!(l.run_dir.as_deref(), Some(dir.as_path()));
        // The recording itself wins over its text when both are there.
        std::fs::write(dir.join(RUN_DIR_PERF_DATA), b"PERFILE2").unwrap();
        let l = locate(Some(&dir)).unwrap();
        assert_eq!(l.recording, dir.join(RUN_DIR_PERF_DATA));
        std::fs::remove_file(dir.join(RUN_DIR_RECORDING)).unwrap();
        assert_eq!(
            locate(Some(&dir)).unwrap().recording,
            dir.join(RUN_DIR_PERF_DATA)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
