//! Renderings of a comparison: text for a terminal, Markdown for a CI step summary,
//! JUnit XML with one test case per budget. JSON is the [`Comparison`] itself.

use std::fmt::Write;

use super::{Comparison, MetricResult, Severity, Verdict};
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
        value(b.base.mean, b.mode, unit),
        value(b.new.mean, b.mode, unit),
        pct(b.ratio),
        pct(b.lo),
        pct(b.hi),
        format!("±{:.0}%", b.detectable * 100.0),
        verdict(b),
    ]
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
            value(p.base.mean, p.mode, &c.unit),
            value(p.new.mean, p.mode, &c.unit),
            pct(p.ratio),
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
        "### {icon} faultline compare: {}\n\n{} base vs {} new runs, {} mode, 95% intervals.\n",
        c.outcome.to_uppercase(),
        c.runs["base"],
        c.runs["new"],
        c.mode.as_str()
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
            value(b.base.mean, b.mode, &c.unit),
            value(b.new.mean, b.mode, &c.unit),
            pct(b.ratio),
            pct(b.lo),
            pct(b.hi),
            verdict(b)
        );
        let failed = (b.verdict == Verdict::Regressed
            && b.effective_severity == Some(Severity::Fail))
            || (fail_on_inconclusive
                && b.verdict == Verdict::Inconclusive
                && b.severity == Some(Severity::Fail));
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
