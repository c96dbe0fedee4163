//! The `faultline` subcommands over plain option structs: they call the library, print
//! what it returns as data (warnings, reports) and leave exit codes to `super`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use faultline::error::{Error, Result};
use faultline::fold::collapse::{self, FoldOptions, Folded};
use faultline::fold::flame::{self, FlameOptions};
use faultline::ingest::input::Input;
use faultline::ingest::load::{self, LoadOptions, LoadSummary, LoadWarning};
use faultline::ingest::profile::Profile;
use faultline::outfile::{self, OutFile};
use faultline::text::{count, escape_controls, escape_message};

use super::CliError;

/// Options shared by the commands that read `perf script` text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// A file, a run directory, or `None`/`-` for standard input.
    pub input: Option<PathBuf>,
    /// Strictness, empty inputs, interning and threads.
    pub load: LoadOptions,
}

/// `faultline collapse`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollapseOptions {
    /// Input and parsing.
    pub read: ReadOptions,
    /// Naming and counting of folded stacks.
    pub fold: FoldOptions,
}

/// `faultline flamegraph`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlamegraphOptions {
    /// Input and parsing.
    pub read: ReadOptions,
    /// Naming and counting of stacks.
    pub fold: FoldOptions,
    /// Where to write the SVG; `-` is standard output.
    pub output: PathBuf,
    /// Overrides the generated title.
    pub title: Option<String>,
}

/// Opens the recording `input` names (a run directory's `perf.script` included).
fn open_recording(input: Option<&Path>) -> Result<Input> {
    let located = load::locate(input)?;
    Input::open(Some(&located.recording))
}

/// Parses open input under the load policy, with a progress bar for large inputs, and
/// prints what was left out.
fn load_profile(read: &ReadOptions, input: &Input, warn: &mut dyn Write) -> Result<Profile> {
    let bar = progress_bar(input.bytes().len() as u64);
    let loaded = load::parse(input, &read.load, &|n| bar.inc(n));
    bar.finish_and_clear();
    let (profile, summary) = loaded?;
    print_load_summary(&summary, warn);
    Ok(profile)
}

/// Prints what loading a recording left out: the same words in every command.
pub fn print_load_summary(summary: &LoadSummary, warn: &mut dyn Write) {
    let path = summary.path.display();
    for w in &summary.warnings {
        match w {
            LoadWarning::Skipped {
                kind,
                count,
                examples,
            } => {
                let _ = writeln!(warn, "faultline: {path}: skipped {count} {kind}:");
                for e in examples {
                    // One input line (it has no newline); its leading tab is kept as read.
                    let _ = writeln!(warn, "  line {}: {}", e.line, escape_message(&e.text));
                }
            }
            LoadWarning::Guessed { count, examples } => {
                let _ = writeln!(
                    warn,
                    "faultline: {path}: {count} event lines were ambiguous (where the comm ends); read by the shortest comm:"
                );
                for e in examples {
                    let _ = writeln!(warn, "  line {}: {}", e.line, escape_message(&e.text));
                }
            }
            LoadWarning::NoSamples => {
                let _ = writeln!(warn, "faultline: {path}: no samples");
            }
            LoadWarning::Changed(msg) => {
                let _ = writeln!(warn, "faultline: {msg}");
            }
            LoadWarning::PerfData(msg) => {
                let _ = writeln!(warn, "faultline: {path}: {msg}");
            }
        }
    }
}

/// A progress bar on stderr for inputs big enough to take a while; hidden otherwise.
fn progress_bar(len: u64) -> ProgressBar {
    // Small inputs finish before a bar would be readable.
    if len < 64 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} parsing {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Folds the profile as asked and tells `warn` what was left out. `keep_empty` counts
/// samples without a callchain under their process instead of leaving them out.
pub fn fold_profile(
    profile: &Profile,
    fold: &FoldOptions,
    keep_empty: bool,
    warn: &mut dyn Write,
) -> Result<Folded> {
    let events = collapse::select_events(profile, fold.event.as_deref())?;
    let folded = if keep_empty {
        collapse::fold_keeping_empty(profile, &events, fold)
    } else {
        collapse::fold(profile, &events, fold)
    };
    let others: Vec<String> = profile
        .events
        .iter()
        .filter(|e| !folded.events.contains(&e.name))
        .map(|e| {
            format!(
                "{} ({})",
                escape_controls(&e.name),
                count(e.samples, "sample")
            )
        })
        .collect();
    if !others.is_empty() {
        let folded_names: Vec<_> = folded.events.iter().map(|e| escape_controls(e)).collect();
        let _ = writeln!(
            warn,
            "faultline: folded {} ({}); other events, not folded: {} (choose with --event)",
            folded_names.join(", "),
            count(folded.samples, "sample"),
            others.join(", ")
        );
    }
    if folded.empty_samples > 0 && !keep_empty {
        let _ = writeln!(
            warn,
            "faultline: left out {} without a callchain, as in inferno (flamegraph and analyze count them under their process)",
            count(folded.empty_samples, "sample")
        );
    }
    Ok(folded)
}

/// `faultline collapse`: prints folded stacks to `out`.
pub fn collapse(opts: &CollapseOptions, out: impl Write, warn: &mut dyn Write) -> Result<()> {
    let input = open_recording(opts.read.input.as_deref())?;
    let profile = load_profile(&opts.read, &input, warn)?;
    let folded = fold_profile(&profile, &opts.fold, false, warn)?;
    folded
        .write_to(BufWriter::with_capacity(1 << 16, out))
        .map_err(|source| Error::Write {
            what: "folded stacks".into(),
            source,
        })?;
    // The process ends next: freeing the profile piece by piece, or unmapping the input
    // before exit does, would only delay that (unmapping it on another thread measured
    // no faster than leaving it to exit).
    std::mem::forget(profile);
    std::mem::forget(input);
    Ok(())
}

/// Folded stacks with their counts.
type Stacks = Vec<(Vec<u8>, u64)>;

/// Stacks, a title and the unit of their counts, from folded text or a recording.
fn flame_stacks(
    opts: &FlamegraphOptions,
    input: &Input,
    warn: &mut dyn Write,
) -> Result<(Stacks, String, String)> {
    if !input.is_perf_data() && flame::looks_folded(input.bytes()) {
        let stacks = flame::read_folded(input.bytes(), input.path())?;
        let total: u64 = stacks.iter().map(|(_, c)| c).sum();
        let title = format!("{}: {total} (folded)", file_label(input.path()));
        if let Some(msg) = input.changed() {
            let _ = writeln!(warn, "faultline: {msg}");
        }
        return Ok((stacks, title, "samples".to_string()));
    }
    let profile = load_profile(&opts.read, input, warn)?;
    let folded = fold_profile(&profile, &opts.fold, true, warn)?;
    let event = folded.events.join(", ");
    let clocks: Vec<_> = folded
        .events
        .iter()
        .map(|e| faultline::ingest::clock::SampleClock::decide(e, profile.header.event(e)).0)
        .collect();
    let count_name = if opts.fold.count_samples {
        "samples"
    } else if !clocks.is_empty() && clocks.iter().all(|c| c.is_hrtimer()) {
        "ns"
    } else {
        "events"
    };
    let title = format!("{event}: {}", count(folded.samples, "sample"));
    Ok((folded.stacks, title, count_name.to_string()))
}

/// `faultline flamegraph`: writes an SVG from `perf script` text or folded stacks.
pub fn flamegraph(
    opts: &FlamegraphOptions,
    stdout: impl Write,
    warn: &mut dyn Write,
) -> Result<()> {
    let input = open_recording(opts.read.input.as_deref())?;
    let (stacks, title, count_name) = flame_stacks(opts, &input, warn)?;
    let fopts = FlameOptions {
        title: opts.title.clone().unwrap_or(title),
        subtitle: None,
        count_name,
        colors: Vec::new(),
        min_width_px: None,
        fixed_width: false,
    };
    if opts.output == Path::new("-") {
        flame::render(&stacks, &fopts, BufWriter::new(stdout))
    } else {
        let mut w = OutFile::create(&opts.output)?;
        flame::render(&stacks, &fopts, &mut w)?;
        w.commit()
    }
}

fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `faultline analyze`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeCommand {
    /// What to analyse and how.
    pub analyze: faultline::analyze::AnalyzeOptions,
    /// Where to write flame graphs, report.json, report.md and index.html.
    pub report_dir: Option<PathBuf>,
    /// Write into a non-empty report directory that holds no earlier report.
    pub force: bool,
    /// Print report.json to standard output instead of the terminal report.
    pub json: bool,
}

/// The files `analyze -o` writes.
const REPORT_FILES: [&str; 7] = [
    "flamegraph.workload.svg",
    "flamegraph.svg",
    "flamegraph.corrected.svg",
    "flamegraph.phases.svg",
    "report.json",
    "report.md",
    "index.html",
];

/// `faultline analyze`: the terminal report (or JSON) on `out`, files in the report dir.
pub fn analyze(
    opts: &AnalyzeCommand,
    mut out: impl Write,
    warn: &mut dyn Write,
) -> Result<(), CliError> {
    if let Some(dir) = &opts.report_dir {
        check_report_dir(dir, opts.force)?;
    }
    let size = load::locate(Some(&opts.analyze.input))
        .ok()
        .and_then(|l| std::fs::metadata(l.recording).ok())
        .map_or(0, |m| m.len());
    let bar = progress_bar(size);
    // Without a report directory no flame graph is drawn: skip folding them.
    let analysis = if opts.report_dir.is_some() {
        faultline::analyze::analyze(&opts.analyze, &|n| bar.inc(n))
    } else {
        faultline::analyze::analyze_report(&opts.analyze, &|n| bar.inc(n))
    };
    bar.finish_and_clear();
    let analysis = analysis?;
    print_load_summary(&analysis.load, warn);
    for w in &analysis.report.input.warnings {
        let _ = writeln!(warn, "faultline: {w}");
    }
    let json = serde_json::to_string_pretty(&analysis.report).expect("reports serialise") + "\n";
    if let Some(dir) = &opts.report_dir {
        write_report_dir(dir, &analysis, &json)?;
    }
    let write_err = |source| Error::Write {
        what: "report".into(),
        source,
    };
    if opts.json {
        out.write_all(json.as_bytes()).map_err(write_err)?;
    } else {
        faultline::report::terminal::render(&analysis.report, &mut out).map_err(write_err)?;
        if let Some(dir) = &opts.report_dir {
            writeln!(out, "\nReport: {}", dir.join("index.html").display()).map_err(write_err)?;
        }
    }
    Ok(out.flush().map_err(write_err)?)
}

/// Refuses a report directory that holds files but no report of ours, unless forced:
/// `analyze -o` must not overwrite what it did not write.
fn check_report_dir(dir: &Path, force: bool) -> Result<(), CliError> {
    if force || !std::fs::exists(dir).unwrap_or(false) {
        // Absent: it will be created.
        return Ok(());
    }
    if holds_our_report(dir) || only_links_at_our_names(dir) {
        return Ok(());
    }
    Err(CliError::Refused(format!(
        "{}: not empty and holds no report from `faultline analyze`; choose another directory, or add --force to write {} into it",
        dir.display(),
        REPORT_FILES.join(", ")
    )))
}

/// Whether every entry of `dir` (none, too) is a symbolic link named as one of the
/// report files: writing replaces the link and leaves its target alone (see
/// `faultline::outfile`), so nothing faultline did not write is overwritten.
fn only_links_at_our_names(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Unreadable: creating the files will say why.
        return true;
    };
    entries.into_iter().all(|e| {
        e.is_ok_and(|e| {
            REPORT_FILES.iter().any(|n| e.file_name() == *n)
                && e.file_type().is_ok_and(|t| t.is_symlink())
        })
    })
}

/// Whether `dir/report.json` is a report this program wrote: a JSON object with the
/// report's own top-level keys.
fn holds_our_report(dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(dir.join("report.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    ["input", "clock", "irq_sticky", "phases", "findings"]
        .iter()
        .all(|k| v.get(k).is_some())
}

/// A flame graph SVG of folded stacks, or a placeholder when there are none.
fn graph_svg(
    stacks: &[(Vec<u8>, u64)],
    title: String,
    colors: Vec<(String, [u8; 3])>,
    count_name: &str,
) -> Result<String> {
    if stacks.is_empty() {
        // Samples without callchains (perf record without -g): keep the report.
        return Ok(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">{}: no stacks to draw</text></svg>",
            faultline::report::html::esc(&title)
        ));
    }
    let mut svg = Vec::new();
    let fopts = FlameOptions {
        title,
        subtitle: None,
        count_name: count_name.into(),
        colors,
        min_width_px: Some(1),
        fixed_width: true,
    };
    flame::render(stacks, &fopts, &mut svg)?;
    Ok(String::from_utf8_lossy(&svg).into_owned())
}

/// The phase graphs' colours, as [`faultline::analyze`] assigns them.
const PHASE_LEGEND: &str = "fault orange, exit red, syscall blue, user green, other grey";

/// The workload's flame graph and its caption: its own samples and the exit work other
/// tasks did for it, coloured by phase; `None` without a workload.
fn workload_svg(analysis: &faultline::analyze::Analysis) -> Result<Option<(String, String)>> {
    let r = &analysis.report;
    let Some(p) = r.processes.iter().find(|p| p.workload) else {
        return Ok(None);
    };
    if analysis.workload.is_empty() {
        return Ok(None);
    }
    let tied: u64 = p.tied.iter().map(|t| t.samples).sum();
    let what = format!(
        "the workload, {} (pid {}): {}, {} of them exit work by other tasks",
        escape_controls(&p.comm),
        p.pid,
        count(p.samples, "sample"),
        count(tied, "sample"),
    );
    let svg = graph_svg(
        &analysis.workload,
        format!("{}: {what}, by phase ({PHASE_LEGEND})", r.clock.event),
        analysis.workload_colors.clone(),
        r.clock.kind.weight_unit(),
    )?;
    Ok(Some((format!("Flame graph: {what}"), svg)))
}

/// Writes the flame graphs (the workload's first), report.json, report.md and
/// index.html into `dir`.
fn write_report_dir(dir: &Path, analysis: &faultline::analyze::Analysis, json: &str) -> Result<()> {
    use faultline::report;
    let r = &analysis.report;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let unit = r.clock.kind.weight_unit();
    let event = &r.clock.event;
    let samples = r.events.get(event).copied().unwrap_or(0);
    let raw = graph_svg(
        &analysis.raw,
        format!("{event}: {}, as recorded", count(samples, "sample")),
        Vec::new(),
        unit,
    )?;
    let corrected = graph_svg(
        &analysis.corrected,
        format!(
            "{event}: {}, {} moved off IRQ re-enable sites",
            count(samples, "sample"),
            r.irq_sticky.moved_samples
        ),
        Vec::new(),
        unit,
    )?;
    let phases = graph_svg(
        &analysis.by_phase,
        format!("{event}: whole recording by phase ({PHASE_LEGEND})"),
        analysis.phase_colors.clone(),
        unit,
    )?;
    let workload = workload_svg(analysis)?;
    let mut graphs = Vec::new();
    if let Some((title, svg)) = &workload {
        graphs.push((title.as_str(), svg.as_str()));
    }
    graphs.extend([
        ("Flame graph: whole recording, as recorded", raw.as_str()),
        (
            "Flame graph: whole recording, IRQ-sticky corrected",
            corrected.as_str(),
        ),
        ("Flame graph: whole recording by phase", phases.as_str()),
    ]);
    let html = report::html::render(r, &graphs);
    let markdown = report::markdown::render(r);
    // Without a workload the file holds the whole recording's phase graph, so the
    // report directory always has the same files.
    let workload = workload.map_or_else(|| phases.clone(), |(_, svg)| svg);
    let contents: [&[u8]; 7] = [
        workload.as_bytes(),
        raw.as_bytes(),
        corrected.as_bytes(),
        phases.as_bytes(),
        json.as_bytes(),
        markdown.as_bytes(),
        html.as_bytes(),
    ];
    for (name, bytes) in REPORT_FILES.into_iter().zip(contents) {
        outfile::write(&dir.join(name), bytes)?;
    }
    Ok(())
}

/// `faultline compare` output choices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareCommand {
    /// What to compare.
    pub compare: faultline::compare::CompareOptions,
    /// How to print the comparison.
    pub format: super::Format,
    /// Write the report here instead of standard output.
    pub output: Option<PathBuf>,
    /// Write a differential flame graph here.
    pub diff_svg: Option<PathBuf>,
    /// Report without failing.
    pub exit_zero: bool,
    /// Exit 3 when a fail-severity budget is inconclusive.
    pub fail_on_inconclusive: bool,
}

/// `faultline compare`: returns the exit code (0 pass, 1 regressed, 3 inconclusive).
pub fn compare(opts: &CompareCommand, mut out: impl Write, warn: &mut dyn Write) -> Result<u8> {
    use super::Format;
    use faultline::compare::{self, render};
    let (cmp, base, new) = compare::compare_with_runs(&opts.compare)?;
    for a in base.iter().chain(&new) {
        print_load_summary(&a.load, warn);
    }
    if let Some(path) = &opts.diff_svg {
        let mut w = OutFile::create(path)?;
        compare::diff_svg(&base, &new, &cmp, &mut w)?;
        w.commit()?;
    }
    let svg_link = opts.diff_svg.as_ref().map(|p| p.display().to_string());
    let links: Vec<(&str, &str)> = svg_link
        .iter()
        .map(|p| ("differential flame graph", p.as_str()))
        .collect();
    let text = match opts.format {
        Format::Json => serde_json::to_string_pretty(&cmp).expect("comparisons serialise") + "\n",
        Format::Md => render::markdown(&cmp, &links),
        Format::Junit => render::junit(&cmp, opts.fail_on_inconclusive),
        Format::Text => render::text(&cmp),
    };
    match &opts.output {
        Some(path) => outfile::write(path, text.as_bytes())?,
        None => out
            .write_all(text.as_bytes())
            .map_err(|source| Error::Write {
                what: "comparison".into(),
                source,
            })?,
    }
    Ok(match cmp.outcome.as_str() {
        _ if opts.exit_zero => super::exit::SUCCESS,
        "fail" => super::exit::GATE_FAILED,
        "inconclusive" if opts.fail_on_inconclusive => super::exit::INCONCLUSIVE,
        _ => super::exit::SUCCESS,
    })
}

/// `faultline calibrate`: noise across A/A runs, as text or JSON.
pub fn calibrate(
    paths: &[PathBuf],
    opts: &faultline::compare::CompareOptions,
    json: bool,
    mut out: impl Write,
    warn: &mut dyn Write,
) -> Result<()> {
    let (c, loads) = faultline::compare::calibrate(paths, opts)?;
    for l in &loads {
        print_load_summary(l, warn);
    }
    let text = if json {
        serde_json::to_string_pretty(&c).expect("calibrations serialise") + "\n"
    } else {
        faultline::compare::render::calibration_text(&c)
    };
    out.write_all(text.as_bytes())
        .map_err(|source| Error::Write {
            what: "calibration".into(),
            source,
        })
}
