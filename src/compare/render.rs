//! Renderings of a comparison: text for a terminal, Markdown for a CI step summary,
//! JUnit XML with one test case per budget. JSON is the [`Comparison`] itself.

use std::fmt::Write;

use super::{Calibration, Comparison, MetricResult, Severity, Verdict};
use crate::text::{escape_controls, escape_message};

fn pct(r: f64) -> String {
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

fn value(v: f64, mode: super::Mode, unit: &str) -> String {
    match (mode, unit) {
        (super::Mode::Time, "ns") => format!("{:.1} ms", v / 1e6),
        (super::Mode::Time, _) => format!("{v:.0} {unit}"),
        (super::Mode::Share, _) => format!("{:.1}%", v * 100.0),
        (super::Mode::PerWork, _) => format!("{v:.0} {unit}/fault"),
    }
}

fn verdict(m: &MetricResult) -> String {
    let v = match m.verdict {
        Verdict::Regressed => "REGRESSED",
        Verdict::Improved => "improved",
        Verdict::Unchanged => "unchanged",
        Verdict::Inconclusive => "inconclusive",
    };
    match (m.verdict, m.effective_severity) {
        (Verdict::Regressed, Some(Severity::Warn)) => format!("{v} (warn)"),
        _ => v.to_string(),
    }
}

/// The cells of a budget row: name, limit, base, new, change, interval low and high,
/// smallest detectable change, verdict.
fn budget_cells(b: &MetricResult, unit: &str) -> [String; 9] {
    [
        escape_controls(&b.name).into_owned(),
        escape_controls(b.limit.as_deref().unwrap_or_default()).into_owned(),
        value(b.base.center, b.mode, unit),
        value(b.new.center, b.mode, unit),
        pct(b.change),
        pct(b.lo),
        pct(b.hi),
        format!("±{:.0}%", b.detectable * 100.0),
        verdict(b),
    ]
}

/// What the base and new columns hold, and so what the change is the ratio of.
fn statistic_line(c: &Comparison) -> String {
    let statistic = match c.method {
        super::stats::Method::Welch => "geometric means of the runs",
        super::stats::Method::Poisson => "arithmetic means of the runs",
    };
    format!("base and new are {statistic}; change is new/base of them")
}

/// The terminal report.
pub fn text(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "faultline compare: {} base vs {} new runs, {} mode, {} intervals (95%): {}",
        c.runs["base"],
        c.runs["new"],
        c.mode.as_str(),
        match c.method {
            super::stats::Method::Welch => "Welch + permutation",
            super::stats::Method::Poisson => "Poisson",
        },
        c.outcome.to_uppercase()
    );
    let _ = writeln!(s, "{}", statistic_line(c));
    let _ = writeln!(
        s,
        "\n{:<22} {:>8} {:>14} {:>14} {:>9} {:>20} {:>9}  verdict",
        "budget", "limit", "base", "new", "change", "95% interval", "detect"
    );
    for b in &c.budgets {
        let [name, limit, base, new, change, lo, hi, detect, v] = budget_cells(b, &c.unit);
        let _ = writeln!(
            s,
            "{name:<22} {limit:>8} {base:>14} {new:>14} {change:>9} {lo:>9} .. {hi:<8} {detect:>8}  {v}"
        );
    }
    let _ = writeln!(
        s,
        "\n{:<22} {:>14} {:>14} {:>9} {:>20}  verdict",
        "phase", "base", "new", "change", "95% interval"
    );
    for p in &c.phases {
        let _ = writeln!(
            s,
            "{:<22} {:>14} {:>14} {:>9} {:>9} .. {:<8}  {}",
            escape_controls(&p.name),
            value(p.base.center, p.mode, &c.unit),
            value(p.new.center, p.mode, &c.unit),
            pct(p.change),
            pct(p.lo),
            pct(p.hi),
            verdict(p)
        );
    }
    if !c.frames_changed.is_empty() {
        let _ = writeln!(s, "\nFrames that changed (inclusive, FDR 5%, warn only):");
        for f in c.frames_changed.iter().take(15) {
            let _ = writeln!(
                s,
                "  {:<40} {:>9}  [{} .. {}]  q={:.3}",
                escape_controls(&f.frame),
                pct(f.ratio),
                pct(f.lo),
                pct(f.hi),
                f.q
            );
        }
    }
    for (label, list) in [
        ("only in base", &c.frames_only_base),
        ("only in new", &c.frames_only_new),
    ] {
        if !list.is_empty() {
            let shown: Vec<_> = list.iter().take(10).map(|f| escape_controls(f)).collect();
            let more = if list.len() > 10 {
                format!(" (+{} more)", list.len() - 10)
            } else {
                String::new()
            };
            let _ = writeln!(s, "Frames {label}: {}{more}", shown.join(", "));
        }
    }
    for n in &c.notes {
        let _ = writeln!(s, "note: {}", escape_message(n));
    }
    s
}

/// Markdown for a CI step summary.
pub fn markdown(c: &Comparison, links: &[(&str, &str)]) -> String {
    let mut s = String::new();
    let icon = match c.outcome.as_str() {
        "fail" => "❌",
        "inconclusive" => "⚠️",
        _ => "✅",
    };
    let _ = writeln!(
        s,
        "### {icon} faultline compare: {}\n\n{} base vs {} new runs, {} mode, 95% intervals; {}.\n",
        c.outcome.to_uppercase(),
        c.runs["base"],
        c.runs["new"],
        c.mode.as_str(),
        statistic_line(c)
    );
    let _ = writeln!(
        s,
        "| budget | limit | base | new | change | 95% interval | smallest detectable | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for b in &c.budgets {
        let [name, limit, base, new, change, lo, hi, detect, v] = budget_cells(b, &c.unit);
        let _ = writeln!(
            s,
            "| {name} | {limit} | {base} | {new} | {change} | {lo} .. {hi} | {detect} | {v} |"
        );
    }
    if !c.frames_changed.is_empty() {
        let _ = writeln!(
            s,
            "\n**Top changed frames** (inclusive, false discovery rate 5%):\n"
        );
        let _ = writeln!(s, "| frame | change | 95% interval | q |");
        let _ = writeln!(s, "|---|---|---|---|");
        for f in c.frames_changed.iter().take(10) {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} .. {} | {:.3} |",
                escape_controls(&f.frame),
                pct(f.ratio),
                pct(f.lo),
                pct(f.hi),
                f.q
            );
        }
    }
    if !links.is_empty() {
        let _ = writeln!(s);
        for (label, href) in links {
            let _ = writeln!(s, "- [{label}]({href})");
        }
    }
    for n in &c.notes {
        let _ = writeln!(s, "\n> {n}");
    }
    s
}

/// Text for an XML attribute or element: controls shown escaped (XML 1.0 cannot carry
/// them at all), then the markup characters as entities.
fn xml_escape(s: &str) -> String {
    escape_controls(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per budget. A fail-severity regression is a failure; with
/// `fail_on_inconclusive`, so is an inconclusive fail-severity budget.
pub fn junit(c: &Comparison, fail_on_inconclusive: bool) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for b in &c.budgets {
        let detail = format!(
            "{}: base {} new {} change {} (95% {} .. {}), verdict {}",
            b.name,
            value(b.base.center, b.mode, &c.unit),
            value(b.new.center, b.mode, &c.unit),
            pct(b.change),
            pct(b.lo),
            pct(b.hi),
            verdict(b)
        );
        let failed = (b.verdict == Verdict::Regressed
            && b.effective_severity == Some(Severity::Fail))
            || (fail_on_inconclusive
                && b.verdict == Verdict::Inconclusive
                && b.effective_severity == Some(Severity::Fail));
        let _ = write!(
            cases,
            "  <testcase classname=\"faultline.budgets\" name=\"{} ({} mode, {})\">",
            xml_escape(&b.name),
            b.mode.as_str(),
            xml_escape(b.limit.as_deref().unwrap_or(""))
        );
        if failed {
            failures += 1;
            let _ = write!(cases, "<failure message=\"{}\"/>", xml_escape(&detail));
        } else {
            let _ = write!(cases, "<system-out>{}</system-out>", xml_escape(&detail));
        }
        cases.push_str("</testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"faultline compare\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n{cases}</testsuite>\n",
        c.budgets.len()
    )
}

/// `faultline calibrate` for a terminal: noise per metric, then the tolerances to
/// write in a budgets file, with numbers; metrics too sparse to gate say so.
pub fn calibration_text(c: &Calibration) -> String {
    let mut s = format!(
        "faultline calibrate: {} runs; sample-count overdispersion {:.2} (use --overdispersion {:.2} or \"overdispersion\" in a budgets file)\n\n{:<24} {:>12} {:>9} {:>8} {:>10} {:>14} {:>14}\n",
        c.runs,
        c.overdispersion,
        c.overdispersion,
        "metric",
        if c.unit == "ns" {
            "mean ms"
        } else {
            "mean events"
        },
        "samples",
        "cv",
        "overdisp.",
        "detect@3 runs",
        "detect@5 runs"
    );
    let detect =
        |d: Option<f64>| d.map_or_else(|| "too few".into(), |d| format!("{:.0}%", d * 100.0));
    for m in &c.metrics {
        let _ = writeln!(
            s,
            "{:<24} {:>12.1} {:>9.0} {:>7.1}% {:>10.2} {:>14} {:>14}",
            escape_controls(&m.metric),
            if c.unit == "ns" { m.mean / 1e6 } else { m.mean },
            m.mean_samples,
            m.cv * 100.0,
            m.overdispersion,
            detect(m.detectable_3_runs),
            detect(m.detectable_5_runs)
        );
    }
    let suggested: Vec<String> = c
        .metrics
        .iter()
        .filter_map(|m| {
            let limit = m.suggested_max_increase.as_ref()?;
            let metric = serde_json::to_string(&m.metric).expect("strings serialise");
            Some(format!(
                "{{\"metric\": {}, \"max_increase\": \"{limit}\"}}",
                escape_controls(&metric)
            ))
        })
        .collect();
    if suggested.is_empty() {
        let _ = writeln!(
            s,
            "\nNo suggested tolerances: no metric has {} samples in an average run; record longer or at a higher frequency.",
            super::MIN_CALIBRATION_SAMPLES
        );
    } else {
        let _ = writeln!(
            s,
            "\nSuggested tolerances for 5 runs a side (the detectable change, rounded up to 5%; tighter budgets will mostly be inconclusive):"
        );
        for line in suggested {
            let _ = writeln!(s, "  {line}");
        }
    }
    s
}
