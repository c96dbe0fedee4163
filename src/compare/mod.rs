//! `faultline compare` and `faultline calibrate`: did fault or exit cost regress between
//! two sets of recordings, asked so that noise does not fail a build.
//!
//! Every input is analysed (IRQ-sticky correction included unless disabled); each phase,
//! the total and each frame become per-run values in the chosen mode, and the ratio
//! new/base gets an interval: Welch's on log values with ≥3 runs per side (cross-checked
//! by a permutation test over runs), else a Poisson rate ratio of sample counts widened
//! by an overdispersion factor, which can only warn. Budgets are tested one by one;
//! frames, being many, are controlled for the false discovery rate (Benjamini–Hochberg).

pub mod budget;
pub mod compat;
pub mod render;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyze::{Analysis, AnalyzeOptions};
use crate::error::{Error, Result};
use crate::ingest::load::LoadSummary;
use stats::{Method, RatioInterval};

/// What a metric is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Period-weighted CPU (ns for cpu-clock).
    #[default]
    Time,
    /// Fraction of the recording's (or workload's) total.
    Share,
    /// Divided by the run's work count (page faults).
    PerWork,
}

impl Mode {
    /// Parses `time`, `share` or `per-work`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "time" => Some(Mode::Time),
            "share" => Some(Mode::Share),
            "per-work" => Some(Mode::PerWork),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Time => "time",
            Mode::Share => "share",
            Mode::PerWork => "per-work",
        }
    }
}

/// How bad is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A confident regression fails the build.
    #[default]
    Fail,
    /// A confident regression is reported only.
    Warn,
}

/// A budget's limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// `"10%"`: new/base may grow by this fraction.
    Relative(f64),
    /// `"2pp"`: a share may grow by this many percentage points.
    Points(f64),
    /// An absolute ceiling on new's value, in the mode's unit.
    Ceiling(f64),
}

impl Limit {
    /// Parses `10%`, `2pp` or a number (a ceiling).
    pub fn parse(s: &str) -> Option<Limit> {
        let s = s.trim();
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        if let Some(p) = s.strip_suffix('%') {
            return number(p).map(|v| Limit::Relative(v / 100.0));
        }
        if let Some(p) = s.strip_suffix("pp") {
            return number(p).map(|v| Limit::Points(v / 100.0));
        }
        number(s).map(Limit::Ceiling)
    }

    fn describe(&self) -> String {
        match self {
            Limit::Relative(r) => format!("+{:.0}%", r * 100.0),
            Limit::Points(p) => format!("+{:.1}pp", p * 100.0),
            Limit::Ceiling(c) => format!("≤ {c}"),
        }
    }
}

/// One budget as written in a budgets file. Unknown keys are refused: a misspelt
/// `max_increse` must not silently become the default limit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// `total`, a phase path (`exit`, `fault/table-alloc`) or `frame:NAME` (inclusive).
    pub metric: String,
    /// A display name; defaults to the metric.
    #[serde(default)]
    pub name: Option<String>,
    /// Overrides `--mode` for this budget.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// `"10%"`, `"2pp"`.
    #[serde(default)]
    pub max_increase: Option<String>,
    /// An absolute ceiling instead, with its unit: `"250ms"`, `"30%"`.
    #[serde(default)]
    pub max: Option<budget::Max>,
    /// `fail` (default) or `warn`.
    #[serde(default)]
    pub severity: Severity,
}

/// A budgets file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetsFile {
    /// The budgets.
    pub budgets: Vec<BudgetSpec>,
    /// Overdispersion measured by `faultline calibrate`.
    #[serde(default)]
    pub overdispersion: Option<f64>,
}

/// The budgets used without a file: total, fault and exit at +10%, failing.
pub fn default_budgets() -> Vec<BudgetSpec> {
    ["total", "fault", "exit"]
        .into_iter()
        .map(|m| BudgetSpec {
            metric: m.into(),
            name: None,
            mode: None,
            max_increase: Some("10%".into()),
            max: None,
            severity: Severity::Fail,
        })
        .collect()
}

/// `faultline compare` options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareOptions {
    /// Base recordings (run directories or perf script files).
    pub base: Vec<PathBuf>,
    /// New recordings.
    pub new: Vec<PathBuf>,
    /// A budgets file (JSON).
    pub budgets: Option<PathBuf>,
    /// Default mode.
    pub mode: Mode,
    /// Compare even if events, clocks, frequencies or kernels differ.
    pub force: bool,
    /// Leave hrtimer samples uncorrected.
    pub no_irq_correction: bool,
    /// Overrides the budgets file's and the default overdispersion.
    pub overdispersion: Option<f64>,
    /// Parser threads.
    pub threads: usize,
    /// Fail on the first unusable line of any recording.
    pub strict: bool,
    /// Compare recordings a stop signal cut short (their manifest says `interrupted`).
    pub allow_partial: bool,
}

/// Per-run data for one side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// The metric in each run.
    pub values: Vec<f64>,
    /// Their arithmetic mean.
    pub mean: f64,
    /// The statistic the change is the ratio of ([`MetricResult::statistic`]): the
    /// geometric mean with ≥3 runs a side, else the arithmetic mean.
    pub center: f64,
    /// Samples in each run.
    #[serde(skip)]
    pub samples: Vec<u64>,
}

impl Side {
    fn new(values: Vec<f64>, samples: Vec<u64>) -> Side {
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        Side {
            values,
            mean,
            center: mean,
            samples,
        }
    }
}

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Confidently worse by more than the limit.
    Regressed,
    /// Confidently better by more than the limit.
    Improved,
    /// Confidently within the limit.
    Unchanged,
    /// The data cannot tell.
    Inconclusive,
}

/// One compared metric.
#[derive(Debug, Clone, Serialize)]
pub struct MetricResult {
    /// Display name.
    pub name: String,
    /// `total`, a phase path or `frame:NAME`.
    pub metric: String,
    /// The mode in force.
    pub mode: Mode,
    /// Base runs.
    pub base: Side,
    /// New runs.
    pub new: Side,
    /// What `base.center` and `new.center` are: `geometric mean` (≥3 runs a side,
    /// where the interval is on log values) or `mean`.
    pub statistic: String,
    /// new.center / base.center, as printed in the change column.
    pub change: f64,
    /// new/base as the test estimates it (the verdict's point estimate).
    pub ratio: f64,
    /// Lower bound of new/base (95%).
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// p-value for no change.
    pub p: f64,
    /// Permutation p-value over runs (≥3 runs per side).
    pub p_permutation: Option<f64>,
    /// Smallest relative change this setup would detect.
    pub detectable: f64,
    /// `welch` or `poisson`.
    pub method: Method,
    /// The limit, for budgets.
    pub limit: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The severity as written.
    pub severity: Option<Severity>,
    /// The severity in force (few-run comparisons only warn).
    pub effective_severity: Option<Severity>,
}

/// A frame whose inclusive weight changed.
#[derive(Debug, Clone, Serialize)]
pub struct FrameChange {
    /// The normalised frame name.
    pub frame: String,
    /// Mean inclusive value, base.
    pub base_mean: f64,
    /// Mean inclusive value, new.
    pub new_mean: f64,
    /// new/base.
    pub ratio: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Benjamini–Hochberg adjusted p-value.
    pub q: f64,
    /// The verdict (frames only warn).
    pub verdict: Verdict,
}

/// The comparison, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The mode in force by default.
    pub mode: Mode,
    /// What time-mode values count: `ns` for hrtimer clocks, else `events`.
    pub unit: String,
    /// Runs per side.
    pub runs: BTreeMap<String, usize>,
    /// `welch` (≥3 runs per side) or `poisson`.
    pub method: Method,
    /// Overdispersion used for Poisson intervals.
    pub overdispersion: f64,
    /// Budgets and their verdicts.
    pub budgets: Vec<MetricResult>,
    /// Every phase, for context (not gating).
    pub phases: Vec<MetricResult>,
    /// Frames whose change survived the false discovery rate control, largest first.
    pub frames_changed: Vec<FrameChange>,
    /// Frames present in every base run and no new run.
    pub frames_only_base: Vec<String>,
    /// Frames present in every new run and no base run.
    pub frames_only_new: Vec<String>,
    /// Warnings about the inputs.
    pub notes: Vec<String>,
    /// `pass`, `fail` or `inconclusive`.
    pub outcome: String,
}

/// Strips what changes between builds of the same code: `+0x` offsets, `.isra.N`,
/// `.constprop.N`, `.part.N`, `.cold` suffixes, and hex addresses.
pub fn normalize_symbol(name: &str) -> String {
    let mut s = name.to_string();
    if let Some(i) = s.rfind("+0x") {
        if s[i + 3..].chars().all(|c| c.is_ascii_hexdigit()) {
            s.truncate(i);
        }
    }
    loop {
        let before = s.len();
        for suffix in [".isra.", ".constprop.", ".part.", ".llvm."] {
            if let Some(i) = s.rfind(suffix) {
                if s[i + suffix.len()..].chars().all(|c| c.is_ascii_digit()) {
                    s.truncate(i);
                }
            }
        }
        if let Some(t) = s.strip_suffix(".cold") {
            s = t.to_string();
        }
        if s.len() == before {
            break;
        }
    }
    // `[unknown <7f12…>]`, `0x7f12…`: addresses differ from run to run.
    if let (Some(a), Some(b)) = (s.find(" <"), s.rfind(">]")) {
        if a < b {
            s.replace_range(a..b + 1, "");
        }
    }
    if s.starts_with("0x") && s[2..].chars().all(|c| c.is_ascii_hexdigit()) && s.len() > 2 {
        s = "[address]".into();
    }
    s
}

/// Analyses every input.
fn load(paths: &[PathBuf], opts: &CompareOptions) -> Result<Vec<Analysis>> {
    paths
        .iter()
        .map(|p| {
            refuse_partial(p, opts)?;
            let a = AnalyzeOptions {
                input: p.clone(),
                no_irq_correction: opts.no_irq_correction,
                threads: opts.threads,
                strict: opts.strict,
                ..AnalyzeOptions::default()
            };
            crate::analyze::analyze(&a, &|_| {}).map_err(|e| match e {
                // Say which of the runs lacks the event.
                Error::NoSuchEvent { .. } => Error::Mismatch(format!("{}: {e}", p.display())),
                other => other,
            })
        })
        .collect()
}

/// An interrupted recording measured less than a whole run: comparing it would report
/// a false improvement, so it takes `--allow-partial`.
fn refuse_partial(path: &std::path::Path, opts: &CompareOptions) -> Result<()> {
    if opts.allow_partial || !path.is_dir() {
        return Ok(());
    }
    let run = crate::record::run_dir::RunDir::new(path);
    if let Ok(Some(m)) = run.read_manifest()
        && m.interrupted
    {
        return Err(Error::Mismatch(format!(
            "{}: the recording was interrupted and is partial; pass --allow-partial to compare it anyway",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses recordings that were not made the same way.
fn check_compatible(paths: &[&PathBuf], runs: &[&Analysis]) -> Result<()> {
    let describe = |a: &Analysis| {
        let c = &a.report.clock;
        let mut facts = vec![
            ("event", c.event.clone()),
            ("sampling kind", c.kind.kind().to_string()),
            (
                "frequency",
                c.frequency_hz
                    .map_or_else(|| "unknown".into(), |f| format!("{f} Hz")),
            ),
            (
                "kernel",
                a.report
                    .input
                    .kernel
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            ),
        ];
        facts.extend(compat::workload_facts(a));
        facts
    };
    let diffs = compat::differences(paths, runs, describe);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Mismatch(format!(
            "the recordings differ: {} (pass --force to compare anyway)",
            diffs.join("; ")
        )))
    }
}

/// The phases compared: the workload's, or the whole recording's without one.
fn scope_phases(a: &Analysis) -> &BTreeMap<String, crate::analyze::model::Phase> {
    let r = &a.report;
    r.processes
        .iter()
        .find(|p| p.workload)
        .map_or(&r.phases, |p| &p.phases)
}

/// Whether a budget's metric names something: the total, a frame, a phase of the
/// built-in rules, or a phase seen in the runs.
fn known_metric(metric: &str, base: &[Analysis], new: &[Analysis]) -> bool {
    if metric == "total" || metric.starts_with("frame:") {
        return true;
    }
    fn paths(rules: &[crate::analyze::phases::Rule], prefix: &str, out: &mut BTreeSet<String>) {
        for r in rules {
            let p = if prefix.is_empty() {
                r.name.clone()
            } else {
                format!("{prefix}/{}", r.name)
            };
            paths(&r.children, &p, out);
            out.insert(p);
        }
    }
    let mut known = phase_paths(base.iter().chain(new));
    paths(
        &crate::analyze::phases::Rules::builtin().phases,
        "",
        &mut known,
    );
    known.insert(crate::analyze::phases::OTHER.to_string());
    known.contains(metric)
}

/// Every phase and sub-phase path in these runs.
fn phase_paths<'a>(runs: impl Iterator<Item = &'a Analysis>) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for a in runs {
        for (name, p) in scope_phases(a) {
            paths.insert(name.clone());
            for child in p.children.keys() {
                paths.insert(format!("{name}/{child}"));
            }
        }
    }
    paths
}

/// A run's value and sample count for a metric.
fn value(a: &Analysis, metric: &str, mode: Mode) -> Result<(f64, u64, f64)> {
    let r = &a.report;
    let phases = scope_phases(a);
    let total_w: u64 = phases.values().map(|p| p.weight).sum();
    let total_n: u64 = phases.values().map(|p| p.samples).sum();
    let (w, n) = if metric == "total" {
        (total_w, total_n)
    } else if let Some(frame) = metric.strip_prefix("frame:") {
        let mut w = 0;
        let mut n = 0;
        for (name, f) in &a.frames {
            if normalize_symbol(name) == frame {
                w += f.inclusive;
                n += f.samples;
            }
        }
        (w, n)
    } else {
        let mut parts = metric.split('/');
        let first = parts.next().unwrap_or_default();
        let mut node = phases.get(first);
        for part in parts {
            node = node.and_then(|n| n.children.get(part));
        }
        node.map_or((0, 0), |n| (n.weight, n.samples))
    };
    // Exposure for Poisson intervals: what the count is relative to.
    Ok(match mode {
        Mode::Time => (w as f64, n, 1.0),
        Mode::Share => (w as f64 / total_w.max(1) as f64, n, total_n.max(1) as f64),
        Mode::PerWork => {
            let faults = r.derived.faults.filter(|f| *f > 0).ok_or_else(|| {
                Error::Mismatch(format!(
                    "--mode per-work needs a fault count, and {} has none (record with the runner, or with the page-faults event)",
                    r.input.path
                ))
            })?;
            (w as f64 / faults as f64, n, faults as f64)
        }
    })
}

/// Compares one metric.
#[allow(clippy::too_many_arguments)]
fn compare_metric(
    base: &[Analysis],
    new: &[Analysis],
    metric: &str,
    name: &str,
    mode: Mode,
    limit: Option<Limit>,
    severity: Option<Severity>,
    overdispersion: f64,
) -> Result<MetricResult> {
    let (mut bv, mut bn, mut be) = (Vec::new(), Vec::new(), 0.0);
    for a in base {
        let (v, n, e) = value(a, metric, mode)?;
        bv.push(v);
        bn.push(n);
        be += e;
    }
    let (mut nv, mut nn, mut ne) = (Vec::new(), Vec::new(), 0.0);
    for a in new {
        let (v, n, e) = value(a, metric, mode)?;
        nv.push(v);
        nn.push(n);
        ne += e;
    }
    let welch = base.len() >= 3 && new.len() >= 3;
    let (eb, en) = match mode {
        Mode::Time => (base.len() as f64, new.len() as f64),
        _ => (be, ne),
    };
    let d = decide(&bv, &nv, &bn, &nn, (eb, en), limit, overdispersion);
    let (interval, p_permutation, verdict) = (d.interval, d.p_permutation, d.verdict);
    let mut base_side = Side::new(bv, bn);
    let mut new_side = Side::new(nv, nn);
    (base_side.center, new_side.center) = d.centers;
    let change = if d.centers.0 > 0.0 {
        d.centers.1 / d.centers.0
    } else {
        interval.ratio
    };
    let effective_severity = severity.map(|s| if welch { s } else { Severity::Warn });
    Ok(MetricResult {
        name: name.into(),
        metric: metric.into(),
        mode,
        statistic: d.statistic.into(),
        change,
        ratio: interval.ratio,
        lo: interval.lo,
        hi: interval.hi,
        p: interval.p,
        p_permutation,
        detectable: interval.detectable,
        method: interval.method,
        limit: limit.map(|l| l.describe()),
        verdict,
        severity,
        effective_severity,
        base: base_side,
        new: new_side,
    })
}

/// A decision on one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The interval on new/base.
    pub interval: RatioInterval,
    /// The permutation cross-check (≥3 runs a side).
    pub p_permutation: Option<f64>,
    /// The verdict against the limit.
    pub verdict: Verdict,
    /// The per-side statistic the estimate compares: (base, new).
    pub centers: (f64, f64),
    /// Its name: `geometric mean` (Welch, on logs) or `mean` (Poisson).
    pub statistic: &'static str,
}

/// Decides one metric from per-run values and sample counts: Welch's interval with a
/// permutation cross-check at ≥3 runs a side, else a Poisson rate ratio of the summed
/// counts over `exposures` (base, new), widened by `overdispersion`. Without a limit,
/// changes beyond 10% count.
pub fn decide(
    base: &[f64],
    new: &[f64],
    base_counts: &[u64],
    new_counts: &[u64],
    exposures: (f64, f64),
    limit: Option<Limit>,
    overdispersion: f64,
) -> Decision {
    let welch = base.len() >= 3 && new.len() >= 3;
    // One sample's worth, so that logs of empty phases stay finite.
    let floor = {
        let w: f64 = base.iter().chain(new).sum();
        let n: u64 = base_counts.iter().chain(new_counts).sum();
        if n > 0 { w / n as f64 } else { 1.0 }
    };
    let interval = match (welch, stats::welch_log_ratio(base, new, floor)) {
        (true, Some(i)) => i,
        _ => {
            let kb = base_counts.iter().sum::<u64>() as f64;
            let kn = new_counts.iter().sum::<u64>() as f64;
            let i = stats::poisson_ratio(kb, kn, exposures.0, exposures.1, overdispersion);
            // Counts set the width; the values (periods differ between samples and
            // runs) set the centre.
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let (mb, mn) = (mean(base), mean(new));
            if mb > 0.0 && mn > 0.0 {
                i.recentred(mn / mb)
            } else {
                i
            }
        }
    };
    let p_permutation = welch.then(|| stats::permutation_p(base, new, floor));
    let base_mean = base.iter().sum::<f64>() / base.len().max(1) as f64;
    let verdict = judge(&interval, p_permutation, limit, base_mean);
    let welch_used = interval.method == Method::Welch;
    let center = |v: &[f64]| {
        if welch_used {
            stats::geometric_mean(v, floor)
        } else {
            v.iter().sum::<f64>() / v.len().max(1) as f64
        }
    };
    Decision {
        interval,
        p_permutation,
        verdict,
        centers: (center(base), center(new)),
        statistic: if welch_used { "geometric mean" } else { "mean" },
    }
}

/// The significance level of a single test (two-sided).
pub const ALPHA: f64 = 1.0 - stats::CONFIDENCE;

fn judge(i: &RatioInterval, p_perm: Option<f64>, limit: Option<Limit>, base_mean: f64) -> Verdict {
    // With ≥3 runs the permutation test must agree before anything is called a change:
    // Welch's t assumes normal log values, which a few runs cannot show.
    let perm_ok = p_perm.is_none_or(|p| p <= ALPHA + 1e-9);
    let up = i.lo > 1.0 && perm_ok;
    let down = i.hi < 1.0 && perm_ok;
    match limit.unwrap_or(Limit::Relative(0.10)) {
        Limit::Relative(t) => {
            let (ceil, floor) = (1.0 + t, 1.0 / (1.0 + t));
            if up && i.ratio > ceil {
                Verdict::Regressed
            } else if down && i.ratio < floor {
                Verdict::Improved
            } else if i.lo >= floor && i.hi <= ceil {
                Verdict::Unchanged
            } else {
                Verdict::Inconclusive
            }
        }
        Limit::Points(pp) => {
            let delta = |r: f64| base_mean * (r - 1.0);
            if up && delta(i.ratio) > pp {
                Verdict::Regressed
            } else if down && delta(i.ratio) < -pp {
                Verdict::Improved
            } else if delta(i.lo) >= -pp && delta(i.hi) <= pp {
                Verdict::Unchanged
            } else {
                Verdict::Inconclusive
            }
        }
        Limit::Ceiling(c) => {
            let (lo, hi) = (base_mean * i.lo, base_mean * i.hi);
            if lo > c && perm_ok {
                Verdict::Regressed
            } else if hi <= c {
                Verdict::Unchanged
            } else {
                Verdict::Inconclusive
            }
        }
    }
}

/// Runs a comparison.
pub fn compare(opts: &CompareOptions) -> Result<Comparison> {
    compare_with_runs(opts).map(|(c, _, _)| c)
}

/// Runs a comparison and returns the analyses too (for the differential graph and for
/// what loading each recording left out).
pub fn compare_with_runs(
    opts: &CompareOptions,
) -> Result<(Comparison, Vec<Analysis>, Vec<Analysis>)> {
    if opts.base.is_empty() || opts.new.is_empty() {
        return Err(Error::Mismatch(
            "compare needs at least one --base and one --new recording".into(),
        ));
    }
    let file = read_budgets(opts.budgets.as_deref())?;
    let overdispersion = opts
        .overdispersion
        .or(file.as_ref().and_then(|f| f.overdispersion))
        .unwrap_or(stats::DEFAULT_OVERDISPERSION);
    let specs = file
        .as_ref()
        .map_or_else(default_budgets, |f| f.budgets.clone());
    let base = load(&opts.base, opts)?;
    let new = load(&opts.new, opts)?;
    let mut notes = Vec::new();
    let paths: Vec<&PathBuf> = opts.base.iter().chain(&opts.new).collect();
    let all: Vec<&Analysis> = base.iter().chain(&new).collect();
    if let Err(e) = check_compatible(&paths, &all) {
        if !opts.force {
            return Err(e);
        }
        notes.push(format!("compared despite differences (--force): {e}"));
    }
    notes.extend(compat::setting_notes(&paths, &all));
    let welch = base.len() >= 3 && new.len() >= 3;
    if !welch {
        notes.push(format!(
            "{} base and {} new runs: Poisson intervals widened by overdispersion {overdispersion}; with fewer than 3 runs a side results can only warn",
            base.len(),
            new.len()
        ));
    }
    let sides = Sides {
        base: &base,
        new: &new,
        overdispersion,
    };
    let budgets = specs
        .iter()
        .map(|spec| judge_budget(&sides, spec, opts))
        .collect::<Result<Vec<_>>>()?;
    // Every phase path seen on either side, for context.
    let phases = phase_paths(base.iter().chain(&new))
        .into_iter()
        .map(|path| sides.metric(&path, &path, opts.mode, None, None))
        .collect::<Result<Vec<_>>>()?;
    let (frames_changed, frames_only_base, frames_only_new) =
        compare_frames(&base, &new, opts.mode, overdispersion)?;
    let cmp = Comparison {
        mode: opts.mode,
        unit: base[0].report.clock.kind.weight_unit().into(),
        runs: BTreeMap::from([("base".into(), base.len()), ("new".into(), new.len())]),
        method: if welch {
            Method::Welch
        } else {
            Method::Poisson
        },
        overdispersion,
        outcome: outcome(&budgets).into(),
        budgets,
        phases,
        frames_changed,
        frames_only_base,
        frames_only_new,
        notes,
    };
    Ok((cmp, base, new))
}

/// A budgets file, when one is given.
fn read_budgets(path: Option<&Path>) -> Result<Option<BudgetsFile>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str::<BudgetsFile>(&text)
        .map(Some)
        .map_err(|e| Error::Budgets {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Both sides' analyses and the overdispersion in force.
struct Sides<'a> {
    base: &'a [Analysis],
    new: &'a [Analysis],
    overdispersion: f64,
}

impl Sides<'_> {
    fn metric(
        &self,
        metric: &str,
        name: &str,
        mode: Mode,
        limit: Option<Limit>,
        severity: Option<Severity>,
    ) -> Result<MetricResult> {
        compare_metric(
            self.base,
            self.new,
            metric,
            name,
            mode,
            limit,
            severity,
            self.overdispersion,
        )
    }
}

/// Checks one budget's limit, mode and metric, then decides it.
fn judge_budget(
    sides: &Sides<'_>,
    spec: &BudgetSpec,
    opts: &CompareOptions,
) -> Result<MetricResult> {
    // A budget that cannot gate is the budgets file's fault, and the message says so.
    let bad_budget = |message: String| match &opts.budgets {
        Some(path) => Error::Budgets {
            path: path.clone(),
            message,
        },
        None => Error::Mismatch(message),
    };
    let mode = spec.mode.unwrap_or(opts.mode);
    let unit = sides.base[0].report.clock.kind.weight_unit();
    let limit = match (&spec.max_increase, &spec.max) {
        (_, Some(c)) => Limit::Ceiling(
            budget::ceiling(c, mode, unit)
                .map_err(|m| bad_budget(format!("budget {}: {m}", spec.metric)))?,
        ),
        (Some(s), None) => match Limit::parse(s) {
            Some(Limit::Ceiling(_)) | None => {
                return Err(bad_budget(format!(
                    "budget {}: max_increase {s:?} is not \"N%\" or \"Npp\" (an absolute ceiling is \"max\" with a unit, as in \"250ms\")",
                    spec.metric
                )));
            }
            Some(l) => l,
        },
        (None, None) => Limit::Relative(0.10),
    };
    if matches!(limit, Limit::Points(_)) && mode != Mode::Share {
        return Err(bad_budget(format!(
            "budget {}: a limit in percentage points (\"pp\") needs \"mode\": \"share\"",
            spec.metric
        )));
    }
    if !known_metric(&spec.metric, sides.base, sides.new) {
        return Err(bad_budget(format!(
            "budget {}: no such metric (use \"total\", a phase path such as \"exit\" or \"fault/table-alloc\", or \"frame:NAME\")",
            spec.metric
        )));
    }
    // The default budgets are a starting point, not a claim the user made.
    if opts.budgets.is_some() && !budget::present_in_runs(&spec.metric, sides.base, sides.new) {
        return Err(bad_budget(format!(
            "budget {}: the metric occurs in none of the {} runs, so it cannot gate anything",
            spec.metric,
            sides.base.len() + sides.new.len()
        )));
    }
    let name = spec.name.clone().unwrap_or_else(|| spec.metric.clone());
    let mut result = sides.metric(&spec.metric, &name, mode, Some(limit), Some(spec.severity))?;
    if let Limit::Ceiling(c) = limit {
        result.limit = Some(budget::describe_ceiling(c, mode, unit));
    }
    Ok(result)
}

/// `fail` when a fail-severity budget confidently regressed, `inconclusive` when one
/// could not be decided, else `pass`.
fn outcome(budgets: &[MetricResult]) -> &'static str {
    let fails = budgets
        .iter()
        .any(|b| b.verdict == Verdict::Regressed && b.effective_severity == Some(Severity::Fail));
    // Like a regression, an inconclusive budget counts only at fail severity in force:
    // with fewer than 3 runs a side every result only warns.
    let inconclusive = budgets.iter().any(|b| {
        b.verdict == Verdict::Inconclusive && b.effective_severity == Some(Severity::Fail)
    });
    if fails {
        "fail"
    } else if inconclusive {
        "inconclusive"
    } else {
        "pass"
    }
}

type FrameLists = (Vec<FrameChange>, Vec<String>, Vec<String>);

fn compare_frames(
    base: &[Analysis],
    new: &[Analysis],
    mode: Mode,
    overdispersion: f64,
) -> Result<FrameLists> {
    let names = |runs: &[Analysis]| -> Vec<BTreeSet<String>> {
        runs.iter()
            .map(|a| a.frames.keys().map(|n| normalize_symbol(n)).collect())
            .collect()
    };
    let (bn, nn) = (names(base), names(new));
    let in_all = |sets: &[BTreeSet<String>], n: &str| sets.iter().all(|s| s.contains(n));
    let in_none = |sets: &[BTreeSet<String>], n: &str| sets.iter().all(|s| !s.contains(n));
    let mut union: BTreeSet<String> = BTreeSet::new();
    for s in bn.iter().chain(&nn) {
        union.extend(s.iter().cloned());
    }
    let only_base: Vec<String> = union
        .iter()
        .filter(|n| in_all(&bn, n) && in_none(&nn, n))
        .cloned()
        .collect();
    let only_new: Vec<String> = union
        .iter()
        .filter(|n| in_all(&nn, n) && in_none(&bn, n))
        .cloned()
        .collect();
    let mut results = Vec::new();
    for frame in &union {
        let metric = format!("frame:{frame}");
        let r = compare_metric(base, new, &metric, frame, mode, None, None, overdispersion)?;
        // Frames seen in a handful of samples cannot move a verdict; they would only
        // dilute the false discovery rate control.
        let samples: u64 = r.base.samples.iter().chain(&r.new.samples).sum();
        if samples < 10 {
            continue;
        }
        results.push(r);
    }
    let q = stats::benjamini_hochberg(
        &results
            .iter()
            .map(|r| r.p_permutation.unwrap_or(r.p).max(r.p))
            .collect::<Vec<_>>(),
    );
    let mut changed: Vec<FrameChange> = results
        .iter()
        .zip(q)
        .filter(|(r, q)| *q <= ALPHA && (r.ratio > 1.10 || r.ratio < 1.0 / 1.10))
        .map(|(r, q)| FrameChange {
            frame: r.name.clone(),
            base_mean: r.base.mean,
            new_mean: r.new.mean,
            ratio: r.ratio,
            lo: r.lo,
            hi: r.hi,
            q,
            verdict: if r.ratio > 1.0 {
                Verdict::Regressed
            } else {
                Verdict::Improved
            },
        })
        .collect();
    changed.sort_by(|a, b| {
        b.ratio
            .ln()
            .abs()
            .total_cmp(&a.ratio.ln().abs())
            .then(a.frame.cmp(&b.frame))
    });
    changed.truncate(30);
    Ok((changed, only_base, only_new))
}

/// A differential flame graph: widths are base + new (so removed frames show), frames
/// coloured red where their inclusive weight grew significantly, blue where it shrank,
/// grey where the change is not significant. It shows the workloads (their own stacks
/// and the exit work tied to them) when every run has one, as the report does; else
/// the whole recordings.
pub fn diff_svg(
    base: &[Analysis],
    new: &[Analysis],
    cmp: &Comparison,
    out: impl std::io::Write,
) -> Result<()> {
    let workloads = base.iter().chain(new).all(|a| !a.workload.is_empty());
    let mut stacks: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    for (runs, _) in [(base, 0), (new, 1)] {
        for a in runs {
            let lines = if workloads { &a.workload } else { &a.corrected };
            for (line, w) in lines {
                *stacks.entry(line.clone()).or_default() += *w as f64 / runs.len() as f64;
            }
        }
    }
    let changed: BTreeMap<&str, Verdict> = cmp
        .frames_changed
        .iter()
        .map(|f| (f.frame.as_str(), f.verdict))
        .collect();
    let mut colors = Vec::new();
    let mut seen = BTreeSet::new();
    for line in stacks.keys() {
        for frame in String::from_utf8_lossy(line).split(';') {
            if !seen.insert(frame.to_string()) {
                continue;
            }
            let norm = normalize_symbol(frame);
            let color = match changed.get(norm.as_str()) {
                Some(Verdict::Regressed) => [220, 60, 50],
                Some(Verdict::Improved) => [60, 110, 220],
                _ if cmp.frames_only_new.contains(&norm) => [220, 60, 50],
                _ if cmp.frames_only_base.contains(&norm) => [60, 110, 220],
                _ => [190, 190, 190],
            };
            colors.push((frame.to_string(), color));
        }
    }
    let folded: Vec<(Vec<u8>, u64)> = stacks
        .into_iter()
        .map(|(s, w)| (s, w.round() as u64))
        .collect();
    crate::fold::flame::render(
        &folded,
        &crate::fold::flame::FlameOptions {
            title: "faultline compare: width base + new; red grew, blue shrank (significant), grey not significant".into(),
            subtitle: Some(format!(
                "{} base runs vs {} new runs, {} mode; {}",
                base.len(),
                new.len(),
                cmp.mode.as_str(),
                if workloads {
                    "the workloads with the exit work tied to them"
                } else {
                    "whole recordings (a run without a workload)"
                }
            )),
            count_name: "ns".into(),
            colors,
            min_width_px: Some(1),
            fixed_width: false,
        },
        out,
    )
}

/// `faultline calibrate`: run-to-run noise of A/A recordings.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Runs measured.
    pub runs: usize,
    /// What the means count: `ns` for hrtimer clocks, else `events`.
    pub unit: String,
    /// Overdispersion of sample counts (variance / mean), median over phases with ≥20
    /// samples a run: pass it to compare with `--overdispersion` or in a budgets file.
    pub overdispersion: f64,
    /// Per metric: mean, coefficient of variation, and suggested tolerance.
    pub metrics: Vec<CalibratedMetric>,
}

/// Noise of one metric.
#[derive(Debug, Clone, Serialize)]
pub struct CalibratedMetric {
    /// `total` or a phase path.
    pub metric: String,
    /// Mean value (ns for cpu-clock).
    pub mean: f64,
    /// Standard deviation / mean across runs.
    pub cv: f64,
    /// Variance of sample counts / mean count.
    pub overdispersion: f64,
    /// Samples in an average run.
    pub mean_samples: f64,
    /// The smallest change 3 runs a side would detect with this noise (80% power);
    /// `None` with fewer than [`MIN_CALIBRATION_SAMPLES`] samples a run.
    pub detectable_3_runs: Option<f64>,
    /// The smallest change 5 runs a side would detect.
    pub detectable_5_runs: Option<f64>,
    /// A `max_increase` for 5 runs a side: the detectable change rounded up to 5%.
    pub suggested_max_increase: Option<String>,
}

/// Below this many samples in an average run a metric cannot gate: a phase seen once
/// per run has no measurable noise, which is not the same as none.
pub const MIN_CALIBRATION_SAMPLES: f64 = 10.0;

/// Measures noise across recordings of one build; returns what loading each left out too.
pub fn calibrate(
    paths: &[PathBuf],
    opts: &CompareOptions,
) -> Result<(Calibration, Vec<LoadSummary>)> {
    if paths.len() < 3 {
        return Err(Error::Mismatch(
            "calibrate needs at least 3 recordings of the same build".into(),
        ));
    }
    let runs = load(paths, opts)?;
    let refs: Vec<&PathBuf> = paths.iter().collect();
    check_compatible(&refs, &runs.iter().collect::<Vec<_>>())?;
    let mut metrics_seen = phase_paths(runs.iter());
    metrics_seen.insert("total".to_string());
    let mut metrics = Vec::new();
    let mut dispersions = Vec::new();
    for m in metrics_seen {
        let mut vals = Vec::new();
        let mut counts = Vec::new();
        for a in &runs {
            let (v, n, _) = value(a, &m, Mode::Time)?;
            vals.push(v);
            counts.push(n as f64);
        }
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd =
            (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64).sqrt();
        let cm = counts.iter().sum::<f64>() / counts.len() as f64;
        let cv_counts =
            counts.iter().map(|v| (v - cm).powi(2)).sum::<f64>() / (counts.len() - 1) as f64;
        let od = if cm > 0.0 { cv_counts / cm } else { 0.0 };
        if cm >= 20.0 {
            dispersions.push(od);
        }
        let cv = if mean > 0.0 { sd / mean } else { 0.0 };
        // Identical A/A runs show no spread, but counting alone varies by 1/sqrt(n).
        let noise = cv.max(1.0 / cm.max(1.0).sqrt());
        let detect = |n: f64| {
            let se = noise * (2.0 / n).sqrt();
            (cm >= MIN_CALIBRATION_SAMPLES).then(|| ((2.31 + 0.89) * se).exp() - 1.0)
        };
        let detectable_5_runs = detect(5.0);
        metrics.push(CalibratedMetric {
            metric: m,
            mean,
            cv,
            overdispersion: od,
            mean_samples: cm,
            detectable_3_runs: detect(3.0),
            detectable_5_runs,
            suggested_max_increase: detectable_5_runs
                .map(|d| format!("{:.0}%", ((d * 100.0) / 5.0).ceil().max(1.0) * 5.0)),
        });
    }
    dispersions.sort_by(f64::total_cmp);
    let overdispersion = dispersions
        .get(dispersions.len() / 2)
        .copied()
        .unwrap_or(stats::DEFAULT_OVERDISPERSION)
        .max(1.0);
    let calibration = Calibration {
        unit: runs[0].report.clock.kind.weight_unit().into(),
        runs: runs.len(),
        overdispersion,
        metrics,
    };
    Ok((calibration, runs.into_iter().map(|a| a.load).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_normalise_across_builds() {
        assert_eq!(
            normalize_symbol("finish_task_switch.isra.0"),
            "finish_task_switch"
        );
        assert_eq!(normalize_symbol("foo.constprop.3.isra.1"), "foo");
        assert_eq!(normalize_symbol("vms_clear_ptes.part.0"), "vms_clear_ptes");
        assert_eq!(normalize_symbol("bar.cold"), "bar");
        assert_eq!(normalize_symbol("exc_page_fault+0xd7"), "exc_page_fault");
        assert_eq!(normalize_symbol("[unknown <7f12ab>]"), "[unknown]");
        assert_eq!(normalize_symbol("0x7f12ab00"), "[address]");
        assert_eq!(normalize_symbol("unmap_page_range"), "unmap_page_range");
    }

    #[test]
    fn limits_parse() {
        assert_eq!(Limit::parse("10%"), Some(Limit::Relative(0.10)));
        assert_eq!(Limit::parse("2pp"), Some(Limit::Points(0.02)));
        assert_eq!(Limit::parse("5e8"), Some(Limit::Ceiling(5e8)));
        assert_eq!(Limit::parse("ten"), None);
    }
}
