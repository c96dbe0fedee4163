//! The `faultline` subcommands as library functions over plain option structs; the
//! binary only turns flags into these structs and errors into exit codes.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use faultline::error::{Error, Result};
use faultline::fold::collapse::{self, FoldOptions, Folded};
use faultline::fold::flame::{self, FlameOptions};
use faultline::ingest::input::Input;
use faultline::ingest::profile::{BuildOptions, Profile};
use faultline::ingest::script::{SampleClock, SkipKind};
use faultline::outfile::{self, OutFile};
use faultline::text::{escape_controls, escape_message};

/// Options shared by the commands that read `perf script` text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The input file; `None` or `-` reads standard input.
    pub input: Option<PathBuf>,
    /// Fail on the first line that cannot be used instead of counting it.
    pub strict: bool,
    /// How frames are interned and how many threads parse.
    pub build: BuildOptions,
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

/// Reads and parses the input, reporting progress on a terminal for large inputs.
pub fn load_profile(read: &ReadOptions, input: &Input, warn: &mut dyn Write) -> Result<Profile> {
    let data = input.bytes();
    let bar = progress_bar(data.len() as u64);
    let profile = Profile::build(data, read.build, &|n| bar.inc(n));
    bar.finish_and_clear();
    check_diagnostics(read, input.path(), &profile, warn)?;
    profile.check_weights(input.path())?;
    Ok(profile)
}

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

fn check_diagnostics(
    read: &ReadOptions,
    path: &Path,
    profile: &Profile,
    warn: &mut dyn Write,
) -> Result<()> {
    let d = &profile.diagnostics;
    if let Some(first) = d.first_skipped() {
        if read.strict {
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
        for kind in SkipKind::ALL {
            let n = d.skipped(kind);
            if n == 0 {
                continue;
            }
            let _ = writeln!(warn, "faultline: {}: skipped {n} {kind}:", path.display());
            for e in d.examples.iter().filter(|e| e.kind == kind) {
                // One input line (it has no newline); its leading tab is kept as read.
                let _ = writeln!(warn, "  line {}: {}", e.line, escape_message(&e.text));
            }
        }
    } else if d.samples == 0 {
        let _ = writeln!(warn, "faultline: {}: no samples", path.display());
    }
    Ok(())
}

/// Folds the profile as asked and tells `warn` what was left out.
pub fn fold_profile(profile: &Profile, fold: &FoldOptions, warn: &mut dyn Write) -> Result<Folded> {
    let events = collapse::select_events(profile, fold.event.as_deref())?;
    let folded = collapse::fold(profile, &events, fold);
    let others: Vec<String> = profile
        .events
        .iter()
        .filter(|e| !folded.events.contains(&e.name))
        .map(|e| format!("{} ({} samples)", escape_controls(&e.name), e.samples))
        .collect();
    if !others.is_empty() {
        let folded_names: Vec<_> = folded.events.iter().map(|e| escape_controls(e)).collect();
        let _ = writeln!(
            warn,
            "faultline: folded {} ({} samples); other events, not folded: {} (choose with --event)",
            folded_names.join(", "),
            folded.samples,
            others.join(", ")
        );
    }
    if folded.empty_samples > 0 {
        let _ = writeln!(
            warn,
            "faultline: {} samples had no usable frame and are not in the output",
            folded.empty_samples
        );
    }
    Ok(folded)
}

/// `faultline collapse`: prints folded stacks to `out`.
pub fn collapse(opts: &CollapseOptions, out: impl Write, warn: &mut dyn Write) -> Result<()> {
    let input = Input::open(opts.read.input.as_deref())?;
    let profile = load_profile(&opts.read, &input, warn)?;
    let folded = fold_profile(&profile, &opts.fold, warn)?;
    folded
        .write_to(BufWriter::with_capacity(1 << 16, out))
        .map_err(|source| Error::Write {
            what: "folded stacks".into(),
            source,
        })?;
    warn_if_changed(&input, warn);
    Ok(())
}

/// Says so when the input file changed while it was read.
fn warn_if_changed(input: &Input, warn: &mut dyn Write) {
    if let Some(msg) = input.changed() {
        let _ = writeln!(warn, "faultline: {msg}");
    }
}

/// `faultline flamegraph`: writes an SVG from `perf script` text or folded stacks.
pub fn flamegraph(
    opts: &FlamegraphOptions,
    stdout: impl Write,
    warn: &mut dyn Write,
) -> Result<()> {
    let input = Input::open(opts.read.input.as_deref())?;
    let (stacks, title, count_name) = if flame::looks_folded(input.bytes()) {
        let stacks = flame::read_folded(input.bytes(), input.path())?;
        let total: u64 = stacks.iter().map(|(_, c)| c).sum();
        let title = format!("{}: {total} (folded)", file_label(input.path()));
        (stacks, title, "samples".to_string())
    } else {
        let profile = load_profile(&opts.read, &input, warn)?;
        let folded = fold_profile(&profile, &opts.fold, warn)?;
        let event = folded.events.join(", ");
        let hrtimer = folded.events.iter().all(|e| {
            profile.header.event(e).map(|d| d.clock()) == Some(SampleClock::Hrtimer)
                || matches!(
                    faultline::ingest::script::header::base_name(e),
                    "cpu-clock" | "task-clock"
                )
        });
        let count_name = if opts.fold.count_samples {
            "samples"
        } else if hrtimer && !folded.events.is_empty() {
            "ns"
        } else {
            "events"
        };
        let title = format!("{event}: {} samples", folded.samples);
        (folded.stacks, title, count_name.to_string())
    };
    let fopts = FlameOptions {
        title: opts.title.clone().unwrap_or(title),
        subtitle: None,
        count_name,
        colors: Vec::new(),
    };
    if opts.output == Path::new("-") {
        flame::render(&stacks, &fopts, BufWriter::new(stdout))?;
    } else {
        let mut w = OutFile::create(&opts.output)?;
        flame::render(&stacks, &fopts, &mut w)?;
        w.commit()?;
    }
    warn_if_changed(&input, warn);
    Ok(())
}

fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `faultline record`: checks the host, runs the recording, and prints a summary.
pub fn record(
    opts: &faultline::record::runner::RecordOptions,
    warn: &mut dyn Write,
) -> Result<(), super::CliError> {
    use faultline::record::runner::{self, HostFacts, PerfExecutor};
    let host = HostFacts::probe();
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "/proc/self/exe".into(),
        source,
    })?;
    let plan = runner::plan(opts, &host, &exe)?;
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let outcome = runner::record(opts, &host, &plan, &mut PerfExecutor, &|msg| {
        spinner.set_message(msg.to_string());
        spinner.tick();
    });
    spinner.finish_and_clear();
    let outcome = outcome?;
    let m = &outcome.manifest;
    let exit = match outcome.exit {
        Some(e) => match (e.code, e.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (_, Some(9)) if outcome.oom_kills > 0 => {
                "killed by the OOM killer (SIGKILL)".to_string()
            }
            (_, Some(s)) => format!("killed by signal {s}"),
            _ => "ended".to_string(),
        },
        None => "exit status unknown".to_string(),
    };
    let _ = writeln!(
        warn,
        "faultline: recorded {} into {}: workload {exit}; {} OOM kills; samples {}",
        m["event"].as_str().unwrap_or("?"),
        opts.run_dir.display(),
        outcome.oom_kills,
        m["samples"]
    );
    if outcome.interrupted {
        let _ = writeln!(warn, "faultline: interrupted; the recording is partial");
    }
    Ok(())
}

/// `faultline analyze`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeCommand {
    /// What to analyse and how.
    pub analyze: faultline::analyze::AnalyzeOptions,
    /// Where to write flame graphs, report.json, report.md and index.html.
    pub report_dir: Option<PathBuf>,
    /// Print report.json to standard output instead of the terminal report.
    pub json: bool,
}

/// `faultline analyze`: the terminal report (or JSON) on `out`, files in the report dir.
pub fn analyze(opts: &AnalyzeCommand, mut out: impl Write, warn: &mut dyn Write) -> Result<()> {
    use faultline::report;
    let size = std::fs::metadata(&opts.analyze.input).map_or(0, |m| m.len());
    let bar = progress_bar(size);
    let analysis = faultline::analyze::analyze(&opts.analyze, &|n| bar.inc(n));
    bar.finish_and_clear();
    let analysis = analysis?;
    let r = &analysis.report;
    for w in &r.input.warnings {
        let _ = writeln!(warn, "faultline: {w}");
    }
    if r.input.skipped_lines > 0 {
        let _ = writeln!(
            warn,
            "faultline: {}: skipped {} unreadable lines (run `faultline collapse --strict` to see where)",
            opts.analyze.input.display(),
            r.input.skipped_lines
        );
    }
    let json = serde_json::to_string_pretty(r).expect("reports serialise") + "\n";
    let write_err = |what: &str| {
        let what = what.to_string();
        move |source| Error::Write { what, source }
    };
    if let Some(dir) = &opts.report_dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let count_name = if r.clock.kind == "hrtimer" {
            "ns"
        } else {
            "events"
        };
        let graph = |stacks: &[(Vec<u8>, u64)], title: String, colors: Vec<(String, [u8; 3])>| {
            if stacks.is_empty() {
                // Samples without callchains (perf record without -g): keep the report.
                return Ok(format!(
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">{}: no stacks to draw</text></svg>",
                    faultline::report::html::esc(&title)
                ));
            }
            let mut svg = Vec::new();
            flame::render(
                stacks,
                &FlameOptions {
                    title,
                    subtitle: None,
                    count_name: count_name.into(),
                    colors,
                },
                &mut svg,
            )
            .map(|()| String::from_utf8_lossy(&svg).into_owned())
        };
        let samples = r.events.get(&r.clock.event).copied().unwrap_or(0);
        let raw = graph(
            &analysis.raw,
            format!("{}: {samples} samples, as recorded", r.clock.event),
            Vec::new(),
        )?;
        let corrected = graph(
            &analysis.corrected,
            format!(
                "{}: {samples} samples, {} moved off IRQ re-enable sites",
                r.clock.event, r.irq_sticky.moved_samples
            ),
            Vec::new(),
        )?;
        let phases = graph(
            &analysis.by_phase,
            format!(
                "{}: by phase (fault orange, exit red, syscall blue, user green)",
                r.clock.event
            ),
            analysis.phase_colors.clone(),
        )?;
        let markdown = report::markdown::render(r);
        let files: [(&str, &[u8]); 5] = [
            ("flamegraph.svg", raw.as_bytes()),
            ("flamegraph.corrected.svg", corrected.as_bytes()),
            ("flamegraph.phases.svg", phases.as_bytes()),
            ("report.json", json.as_bytes()),
            ("report.md", markdown.as_bytes()),
        ];
        for (name, bytes) in files {
            outfile::write(&dir.join(name), bytes)?;
        }
        let html = report::html::render(
            r,
            &[
                ("Flame graph (as recorded)", raw.as_str()),
                ("Flame graph (IRQ-sticky corrected)", corrected.as_str()),
                ("Flame graph by phase", phases.as_str()),
            ],
        );
        outfile::write(&dir.join("index.html"), html.as_bytes())?;
    }
    if opts.json {
        out.write_all(json.as_bytes())
            .map_err(write_err("report.json"))?;
    } else {
        report::terminal::render(r, &mut out).map_err(write_err("report"))?;
        if let Some(dir) = &opts.report_dir {
            writeln!(out, "\nReport: {}", dir.join("index.html").display())
                .map_err(write_err("report"))?;
        }
    }
    out.flush().map_err(write_err("report"))
}

/// `faultline compare` output choices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareCommand {
    /// What to compare.
    pub compare: faultline::compare::CompareOptions,
    /// `text`, `md`, `json` or `junit`.
    pub format: String,
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
pub fn compare(opts: &CompareCommand, mut out: impl Write) -> Result<u8> {
    use faultline::compare::{self, render};
    let (cmp, base, new) = compare::compare_with_runs(&opts.compare)?;
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
    let text = match opts.format.as_str() {
        "json" => serde_json::to_string_pretty(&cmp).expect("comparisons serialise") + "\n",
        "md" => render::markdown(&cmp, &links),
        "junit" => render::junit(&cmp, opts.fail_on_inconclusive),
        _ => render::text(&cmp),
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
    Ok(if opts.exit_zero {
        0
    } else {
        cmp.exit_code(opts.fail_on_inconclusive)
    })
}

/// `faultline calibrate`: noise across A/A runs, as text or JSON.
pub fn calibrate(paths: &[PathBuf], json: bool, threads: usize, mut out: impl Write) -> Result<()> {
    let c = faultline::compare::calibrate(paths, threads)?;
    let text = if json {
        serde_json::to_string_pretty(&c).expect("calibrations serialise") + "\n"
    } else {
        let mut s = format!(
            "faultline calibrate: {} runs; sample-count overdispersion {:.2} (use --overdispersion {:.2} or \"overdispersion\" in a budgets file)\n\n{:<24} {:>12} {:>8} {:>10} {:>14} {:>14}\n",
            c.runs,
            c.overdispersion,
            c.overdispersion,
            "metric",
            if c.unit == "ns" {
                "mean ms"
            } else {
                "mean events"
            },
            "cv",
            "overdisp.",
            "detect@3 runs",
            "detect@5 runs"
        );
        for m in &c.metrics {
            s.push_str(&format!(
                "{:<24} {:>12.1} {:>7.1}% {:>10.2} {:>13.0}% {:>13.0}%\n",
                m.metric,
                if c.unit == "ns" { m.mean / 1e6 } else { m.mean },
                m.cv * 100.0,
                m.overdispersion,
                m.detectable_3_runs * 100.0,
                m.detectable_5_runs * 100.0
            ));
        }
        s.push_str("\nSuggested tolerances: at least the detectable change for your run count; budgets below it will mostly be inconclusive.\n");
        s
    };
    out.write_all(text.as_bytes())
        .map_err(|source| Error::Write {
            what: "calibration".into(),
            source,
        })
}
