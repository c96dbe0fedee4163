//! The GitHub-flavoured Markdown rendering of a [`Report`] (`report.md`): the terminal
//! report's content as headings, lists and tables.
//!
//! Report text is escaped so it shows literally: HTML-significant characters become
//! entities, Markdown punctuation gets a backslash, `|` in table cells too, and names
//! (frames, sites, events) go in code spans.

use super::Report;
use super::terminal::{
    clock_line, correction_summary, derived_lines, events_text, flatten_phases, more_processes,
    one_line, percent, proc_lines, top_level_phases, value_text, weight_heading, weight_text,
    weight_with_unit,
};
use crate::text::count;

/// How many processes the Markdown lists before summarising the rest.
const PROCESSES_SHOWN: usize = 50;

/// How many markers the Markdown lists before summarising the rest.
const MARKERS_SHOWN: usize = 50;

/// Renders the report as Markdown.
pub fn render(report: &Report) -> String {
    let mut md = String::new();
    header(&mut md, report);
    findings(&mut md, report);
    phases(&mut md, report);
    processes(&mut md, report);
    correction(&mut md, report);
    segments(&mut md, report);
    markers(&mut md, report);
    derived(&mut md, report);
    proc_evidence(&mut md, report);
    md
}

/// The title and what was analysed: input, kernel, perf, clock, samples.
fn header(md: &mut String, report: &Report) {
    let input = &report.input;
    md.push_str(&format!("# faultline report: {}\n\n", code(&input.path)));
    let mut facts = Vec::new();
    if !input.kind.is_empty() {
        facts.push(format!("input kind {}", code(&input.kind)));
    }
    if let Some(t) = &input.target {
        facts.push(format!("target {}", code(&value_text(t))));
    }
    if let Some(k) = &input.kernel {
        facts.push(format!("kernel {}", code(k)));
    }
    if let Some(p) = &input.perf_version {
        facts.push(format!("perf {}", code(p)));
    }
    if input.skipped_lines > 0 {
        facts.push(format!("{} lines skipped", input.skipped_lines));
    }
    for f in facts {
        md.push_str(&format!("- {f}\n"));
    }
    md.push_str(&format!("- {}\n", text(&clock_line(report))));
    if !report.events.is_empty() {
        md.push_str(&format!("- samples: {}\n", text(&events_text(report))));
    }
}

/// The findings, most important first.
fn findings(md: &mut String, report: &Report) {
    md.push_str("\n## Findings\n\n");
    if report.findings.is_empty() {
        md.push_str("None.\n");
    }
    for f in &report.findings {
        md.push_str(&format!("- {}\n", text(f)));
    }
}

/// The workload's phase table (with the exit work tied to it), when there is a
/// workload, then the whole recording's.
fn phases(md: &mut String, report: &Report) {
    if let Some(p) = report.processes.iter().find(|p| p.workload) {
        md.push_str(&format!(
            "\n## Phases of the workload ({})\n\n{} (pid {}), with the exit work other tasks did for it.\n\n",
            text(&report.clock.event),
            code(&p.comm),
            p.pid
        ));
        phase_rows(md, report, &p.phases);
    }
    md.push_str(&format!("\n## Phases ({})\n\n", text(&report.clock.event)));
    phase_rows(md, report, &report.phases);
}

fn phase_rows(
    md: &mut String,
    report: &Report,
    phases: &std::collections::BTreeMap<String, super::Phase>,
) {
    let rows = flatten_phases(phases);
    if rows.is_empty() {
        md.push_str("No phases.\n");
    } else {
        md.push_str(&format!(
            "| phase | samples | share | {} | top frames |\n|---|--:|--:|--:|---|\n",
            weight_heading(report)
        ));
        for (depth, name, p) in rows {
            // Non-breaking spaces survive table-cell trimming, so depth shows.
            let indent = "&nbsp;&nbsp;".repeat(depth * 2);
            let frames = p
                .top_frames
                .iter()
                .take(3)
                .map(|(f, s)| format!("{} {}", code(f), percent(*s)))
                .collect::<Vec<_>>()
                .join(", ");
            md.push_str(&row(&[
                format!("{indent}{}", code(name)),
                p.samples.to_string(),
                percent(p.share),
                weight_text(report, p.weight),
                frames,
            ]));
        }
    }
}

/// Processes, the workload first, with the exit work tied to it.
fn processes(md: &mut String, report: &Report) {
    if !report.processes.is_empty() {
        md.push_str(&format!(
            "\n## Processes\n\n| pid | comm | samples | {} | phases | tied work |\n\
             |--:|---|--:|--:|---|---|\n",
            weight_heading(report)
        ));
        for p in report.processes.iter().take(PROCESSES_SHOWN) {
            let workload = if p.workload { " (workload)" } else { "" };
            let tied = p
                .tied
                .iter()
                .map(|t| {
                    format!(
                        "{}: {}, {} ({})",
                        code(&t.comm),
                        count(t.samples, "sample"),
                        weight_with_unit(report, t.weight),
                        text(&t.how)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            md.push_str(&row(&[
                p.pid.to_string(),
                format!("{}{workload}", code(&p.comm)),
                p.samples.to_string(),
                weight_text(report, p.weight),
                text(&top_level_phases(&p.phases)),
                tied,
            ]));
        }
        if let Some(more) = more_processes(report, PROCESSES_SHOWN) {
            md.push_str(&format!("\n{}.\n", text(&more)));
        }
    }
}

/// What the IRQ-sticky correction moved, site by site.
fn correction(md: &mut String, report: &Report) {
    md.push_str("\n## IRQ-sticky correction\n\n");
    md.push_str(&format!("{}\n", text(&correction_summary(report))));
    let sticky = &report.irq_sticky;
    if !sticky.sites.is_empty() {
        md.push_str(
            "\n| site | kind | samples | detected by | share of function |\n\
             |---|---|--:|---|--:|\n",
        );
        for s in &sticky.sites {
            md.push_str(&row(&[
                code(&s.site),
                text(&s.kind),
                s.samples.to_string(),
                text(&s.detected_by),
                percent(s.share_of_function),
            ]));
        }
    }
    if !sticky.caveat.is_empty() {
        md.push_str(&format!("\n> Caveat: {}\n", text(&sticky.caveat)));
    }
}

/// The workload's life cut at its markers.
fn segments(md: &mut String, report: &Report) {
    if !report.segments.is_empty() {
        md.push_str(&format!(
            "\n## Segments\n\n| segment | from | to | start s | end s | wall s | samples | {} |\n\
             |---|---|---|--:|--:|--:|--:|--:|\n",
            weight_heading(report)
        ));
        for s in &report.segments {
            md.push_str(&row(&[
                text(&s.name),
                code(&s.from),
                code(&s.to),
                format!("{:.3}", s.start),
                format!("{:.3}", s.end),
                format!("{:.3}", s.wall_seconds),
                s.samples.to_string(),
                weight_text(report, s.weight),
            ]));
        }
    }
}

/// The first tracepoint markers.
fn markers(md: &mut String, report: &Report) {
    if !report.markers.is_empty() {
        md.push_str(
            "\n## Markers\n\n| time s | marker | task | cpu | payload |\n|--:|---|---|--:|---|\n",
        );
        for m in report.markers.iter().take(MARKERS_SHOWN) {
            md.push_str(&row(&[
                format!("{:.6}", m.time),
                code(&m.name),
                format!("{}/{}", code(&m.comm), m.pid),
                m.cpu.map(|c| c.to_string()).unwrap_or_default(),
                code(&m.payload),
            ]));
        }
        if report.markers.len() > MARKERS_SHOWN {
            md.push_str(&format!(
                "\n{} more markers in `report.json`.\n",
                report.markers.len() - MARKERS_SHOWN
            ));
        }
    }
}

/// Ratios and per-fault figures.
fn derived(md: &mut String, report: &Report) {
    let derived = derived_lines(report);
    if !derived.is_empty() {
        md.push_str("\n## Derived\n\n");
        for (label, value) in derived {
            md.push_str(&format!("- {}\n", text(&format!("{label}: {value}"))));
        }
    }
}

/// /proc evidence.
fn proc_evidence(md: &mut String, report: &Report) {
    let proc = proc_lines(report);
    if !proc.is_empty() {
        md.push_str("\n## /proc evidence\n\n");
        for line in proc {
            md.push_str(&format!("- {}\n", text(&line)));
        }
    }
}

/// Escapes prose for Markdown (inline, one line): `&<>` become entities, characters
/// that start emphasis, links or code get a backslash, and a leading block marker
/// (`# `, `+ `, `- `, `1. `) is neutralised. Table cells also need [`row`].
pub(crate) fn text(s: &str) -> String {
    let s = one_line(s);
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let prev_word = i > 0 && chars[i - 1].is_alphanumeric();
        let next_word = chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // Intraword underscores (`do_fault`) never emphasise in GFM.
            '_' if !(prev_word && next_word) => out.push_str("\\_"),
            _ => out.push(c),
        }
    }
    // Text that starts like a block marker (`# `, `- `, `+ `, `1. `) would become a
    // heading or a list when it begins a line or a list item.
    let marker_end = match out.chars().next() {
        Some('#') => out.chars().take_while(|&c| c == '#').count(),
        Some('-' | '+') => 1,
        Some('0'..='9') => {
            let digits = out.chars().take_while(char::is_ascii_digit).count();
            if matches!(out[digits..].chars().next(), Some('.' | ')')) {
                digits + 1
            } else {
                0
            }
        }
        _ => 0,
    };
    if marker_end > 0 && out[marker_end..].chars().next().is_none_or(|c| c == ' ') {
        let at = if out.starts_with(|c: char| c.is_ascii_digit()) {
            marker_end - 1
        } else {
            0
        };
        out.insert(at, '\\');
    }
    out
}

/// A table row of already-rendered cells. GFM splits cells at `|` before it parses
/// anything else (code spans included), so every `|` in a cell gets a backslash.
fn row(cells: &[String]) -> String {
    let mut r = String::from("|");
    for c in cells {
        r.push(' ');
        r.push_str(&c.replace('|', "\\|"));
        r.push_str(" |");
    }
    r.push('\n');
    r
}

/// A code span holding `s` literally; backticks inside pick a longer fence.
pub(crate) fn code(s: &str) -> String {
    let s = one_line(s);
    if s.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::super::terminal::sample_report;
    use super::*;

    #[test]
    fn shows_the_key_content() {
        let md = render(&sample_report());
        for needle in [
            "# faultline report: `runs/zero-page`",
            "## Findings",
            "## Phases (cpu-clock)",
            "| phase | samples | share | time ms | top frames |",
            "| `fault` | 300 | 75.0% | 300.0 | `handle_mm_fault` 90.0%, `clear_page_erms` 60.0% |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;`zero-fill` | 200 | 50.0% | 200.0 |",
            "42 samples moved to \\[irqs-off\\] (10.5%)",
            "| `_raw_spin_unlock_irq+0x1c` | page-fault entry | 30 | table | 97.0% |",
            "| `exc_page_fault+0x7a` | syscall entry | 12 | statistics | 80.0% |",
            "> Caveat: the time is moved",
            "## Segments",
            "| teardown | `oom:mark_victim` | `sched:sched_process_exit` | 1234.500 |",
            "## Markers",
            "## Derived",
            "- page faults: 262144 (workload counter)",
            "- exit/fault weight ratio: 0.27\n",
            "## /proc evidence",
            "- VmPTE: last 2056 kB, max 2060 kB",
            "predicted 2048 kB, measured 2052 kB, error +0.2%",
            "| 4242 | `zero_page` (workload) |",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }

    #[test]
    fn escapes_findings() {
        let md = render(&sample_report());
        assert!(
            md.contains(
                "- Page faults cost 75.0% of the workload's CPU &amp; exit &lt; 30% of it."
            ),
            "{md}"
        );
        assert!(
            md.contains("Tables &lt;b&gt;grew&lt;/b&gt; as predicted"),
            "{md}"
        );
        assert!(!md.contains("<b>"));
    }

    #[test]
    fn text_and_code_escaping() {
        assert_eq!(text("a*b* [x](y) | `c`"), "a\\*b\\* \\[x\\](y) | \\`c\\`");
        assert_eq!(row(&[code("a|b"), text("c|d")]), "| `a\\|b` | c\\|d |\n");
        assert_eq!(text("do_fault and _x_"), "do_fault and \\_x\\_");
        assert_eq!(text("# not a heading"), "\\# not a heading");
        assert_eq!(text("1. not a list"), "1\\. not a list");
        assert_eq!(text("12) no"), "12\\) no");
        assert_eq!(text("- no"), "\\- no");
        assert_eq!(text("-F 999 and 0.27"), "-F 999 and 0.27");
        assert_eq!(text("#1 and 2.5"), "#1 and 2.5");
        assert_eq!(text("two\nlines"), "two lines");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`y"), "`` `y ``");
        assert_eq!(code(""), "");
    }

    #[test]
    fn empty_report() {
        let md = render(&Report::default());
        assert!(md.contains("## Findings\n\nNone."), "{md}");
        assert!(md.contains("No phases."), "{md}");
    }
}
