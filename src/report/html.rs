//! The self-contained HTML rendering of a [`Report`] (`index.html`): findings, flame
//! graphs, the tables of the terminal report and the raw `report.json`, readable
//! offline. The page has no script of its own, no external fonts, styles or images,
//! and a Content-Security-Policy that forbids fetching anything.
//!
//! Flame graphs are embedded as `<iframe sandbox="allow-scripts allow-modals"
//! src="data:image/svg+xml;base64,…">`, so each SVG is its own XML document, as inferno
//! wrote it to run, and keeps its tooltips, click-to-zoom and search:
//!
//! - Inline `<svg>` loads without errors, but inferno's script finds its elements by
//!   fixed ids (`frames`, `details`, `unzoom`), takes `getElementsByTagName("svg")[0]`
//!   as its root and defines globals (`init`, `zoom`, `search`): with two graphs in one
//!   page the second one's hover, zoom and search drive the first one's elements.
//! - `<img>` runs no script: no errors, but no tooltips, zoom or search either.
//! - The sandbox gives each graph an opaque origin, so its script cannot touch the
//!   report page; `allow-modals` lets the search button's `prompt()` open.
//! - inferno records zoom and search in the query string with `history.replaceState`,
//!   which a `data:` document cannot do (a `SecurityError` on every click), and may lay
//!   a graph out before its frame has a width; each SVG gets a small script after
//!   inferno's that makes the call fail quietly and delays the layout (`EMBED_SHIM`).

use crate::text::count;
use std::fmt::Write as _;

use super::terminal::{
    clock_line, correction_summary, derived_lines, events_text, flatten_phases, more_processes,
    percent, proc_lines, top_level_phases, value_text, weight_heading, weight_text,
    weight_with_unit,
};
use super::{Phase, Report};

/// How many processes the page lists before summarising the rest.
const PROCESSES_SHOWN: usize = 200;

/// How many markers the page lists before summarising the rest.
const MARKERS_SHOWN: usize = 500;

/// The style sheet: system fonts, light colours, tables that scroll sideways on narrow
/// screens.
const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1d2126; --muted: #5c6670; --line: #d8dde3;
  --head: #f3f5f7; --accent: #b5451b; --bar: #f0a36c; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 1.2rem 1.5rem 3rem; color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid var(--line); }
code, pre, td.num, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  "Liberation Mono", monospace; font-size: .9em; }
.meta { color: var(--muted); margin: .15rem 0; }
.meta code { color: var(--fg); }
ul.findings { padding-left: 1.3rem; }
ul.findings li { margin: .35rem 0; font-size: 1.05rem; }
ul.findings li:first-child { font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .4rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: left;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.share { position: relative; min-width: 6.5rem; }
td.share .bar { position: absolute; left: 0; top: 0; bottom: 0; background: var(--bar);
  opacity: .35; }
td.share span.v { position: relative; }
td.phase { white-space: nowrap; }
td.frames { color: var(--muted); font-size: .85em; }
.caveat { border-left: 3px solid var(--accent); padding: .2rem .7rem; color: var(--muted); }
figure.flame { margin: 1rem 0; }
figure.flame figcaption { font-weight: 600; margin-bottom: .3rem; }
figure.flame iframe { display: block; width: 100%; border: 1px solid var(--line);
  background: #fff; }
dl.derived { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dl.derived dt { color: var(--muted); }
dl.derived dd { margin: 0; }
details > summary { cursor: pointer; color: var(--muted); }
pre.json { background: var(--head); border: 1px solid var(--line); padding: .8rem;
  overflow: auto; max-height: 40rem; }
.none { color: var(--muted); font-style: italic; }
"#;

/// Renders the report as one HTML page. `svgs` are `(title, SVG text)` flame graphs,
/// shown in order.
pub fn render(report: &Report, svgs: &[(&str, &str)]) -> String {
    let mut h = String::with_capacity(
        64 * 1024
            + svgs
                .iter()
                .map(|(_, s)| s.len() * 4 / 3 + 256)
                .sum::<usize>(),
    );
    let input = &report.input;
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Inline scripts stay allowed because data: frames inherit this policy and the
    // flame graphs' scripts are inline; the page itself has none.
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; \
         frame-src data:\">\n",
    );
    let _ = writeln!(
        h,
        "<title>faultline report: {}</title>",
        esc(if input.path.is_empty() {
            "?"
        } else {
            &input.path
        })
    );
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>");

    header(&mut h, report);
    findings(&mut h, report);
    flame_graphs(&mut h, svgs);
    phases(&mut h, report);
    processes(&mut h, report);
    correction(&mut h, report);
    segments(&mut h, report);
    markers(&mut h, report);
    derived(&mut h, report);
    proc_evidence(&mut h, report);
    raw_json(&mut h, report);
    h.push_str("</body>\n</html>\n");
    h
}

/// The page header: input, kernel, perf, clock and sample counts.
fn header(h: &mut String, report: &Report) {
    let input = &report.input;
    h.push_str("<header>\n<h1>faultline report</h1>\n");
    let mut facts = vec![format!("<code>{}</code>", esc(&input.path))];
    if !input.kind.is_empty() {
        facts.push(format!("({})", esc(&input.kind)));
    }
    if let Some(t) = &input.target {
        facts.push(format!("target <code>{}</code>", esc(&value_text(t))));
    }
    if let Some(k) = &input.kernel {
        facts.push(format!("kernel <code>{}</code>", esc(k)));
    }
    if let Some(p) = &input.perf_version {
        facts.push(format!("perf <code>{}</code>", esc(p)));
    }
    if input.skipped_lines > 0 {
        facts.push(format!("{} lines skipped", input.skipped_lines));
    }
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", facts.join(" · "));
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", esc(&clock_line(report)));
    if !report.events.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"meta\">samples: {}</p>",
            esc(&events_text(report))
        );
    }
    h.push_str("</header>\n");
}

/// The findings, most important first.
fn findings(h: &mut String, report: &Report) {
    h.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
    if report.findings.is_empty() {
        h.push_str("<p class=\"none\">No findings.</p>\n");
    } else {
        h.push_str("<ul class=\"findings\">\n");
        for f in &report.findings {
            let _ = writeln!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

/// Each flame graph in its own sandboxed frame.
fn flame_graphs(h: &mut String, svgs: &[(&str, &str)]) {
    if !svgs.is_empty() {
        h.push_str("<section id=\"flame-graphs\">\n<h2>Flame graphs</h2>\n");
        for (title, svg) in svgs {
            let _ = writeln!(
                h,
                "<figure class=\"flame\">\n<figcaption>{t}</figcaption>\n\
                 <iframe title=\"{t}\" sandbox=\"allow-scripts allow-modals\" style=\"height:{}px\" \
                 src=\"data:image/svg+xml;base64,{}\"></iframe>\n</figure>",
                svg_height(svg) + 2,
                base64(embeddable(svg).as_bytes()),
                t = esc(title),
            );
        }
        h.push_str("</section>\n");
    }
}

/// The phase table of the workload (with the exit work other tasks did for it), the
/// whole recording's one click away; the whole recording's alone without a workload.
fn phases(h: &mut String, report: &Report) {
    let _ = writeln!(
        h,
        "<section id=\"phases\">\n<h2>Phases <small>({})</small></h2>",
        esc(&report.clock.event)
    );
    match report.processes.iter().find(|p| p.workload) {
        Some(w) => {
            let _ = writeln!(
                h,
                "<p class=\"meta\">The workload, <code>{}</code> (pid {}), with the exit work \
                 other tasks did for it.</p>",
                esc(&w.comm),
                w.pid
            );
            phase_table(h, report, &w.phases);
            h.push_str(
                "<details id=\"phases-all\">\n<summary>Phases of the whole recording</summary>\n",
            );
            phase_table(h, report, &report.phases);
            h.push_str("</details>\n");
        }
        None => phase_table(h, report, &report.phases),
    }
    h.push_str("</section>\n");
}

/// Processes, the workload first, with the exit work tied to it.
fn processes(h: &mut String, report: &Report) {
    if !report.processes.is_empty() {
        h.push_str(
            "<section id=\"processes\">\n<h2>Processes</h2>\n<div class=\"scroll\"><table>\n",
        );
        let _ = writeln!(
            h,
            "<tr><th class=\"num\">pid</th><th>comm</th><th class=\"num\">samples</th>\
             <th class=\"num\">{}</th><th>phases</th><th>tied work</th></tr>",
            weight_heading(report)
        );
        for p in report.processes.iter().take(PROCESSES_SHOWN) {
            let tied = p
                .tied
                .iter()
                .map(|t| {
                    format!(
                        "<code>{}</code>: {}, {} ({})",
                        esc(&t.comm),
                        count(t.samples, "sample"),
                        weight_with_unit(report, t.weight),
                        esc(&t.how)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{}</td><td><code>{}</code>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{}</td><td>{tied}</td></tr>",
                p.pid,
                esc(&p.comm),
                if p.workload { " (workload)" } else { "" },
                p.samples,
                weight_text(report, p.weight),
                esc(&top_level_phases(&p.phases))
            );
        }
        h.push_str("</table></div>\n");
        if let Some(more) = more_processes(report, PROCESSES_SHOWN) {
            let _ = writeln!(h, "<p class=\"none\">{}.</p>", esc(&more));
        }
        h.push_str("</section>\n");
    }
}

/// What the IRQ-sticky correction moved, site by site.
fn correction(h: &mut String, report: &Report) {
    let sticky = &report.irq_sticky;
    h.push_str("<section id=\"correction\">\n<h2>IRQ-sticky correction</h2>\n");
    let _ = writeln!(h, "<p>{}</p>", esc(&correction_summary(report)));
    if !sticky.sites.is_empty() {
        h.push_str(
            "<div class=\"scroll\"><table>\n<tr><th>site</th><th>kind</th>\
             <th class=\"num\">samples</th><th>detected by</th>\
             <th class=\"num\">share of function</th></tr>\n",
        );
        for s in &sticky.sites {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td>\
                 <td class=\"num\">{}</td></tr>",
                esc(&s.site),
                esc(&s.kind),
                s.samples,
                esc(&s.detected_by),
                percent(s.share_of_function)
            );
        }
        h.push_str("</table></div>\n");
    }
    if !sticky.caveat.is_empty() {
        let _ = writeln!(h, "<p class=\"caveat\">Caveat: {}</p>", esc(&sticky.caveat));
    }
    h.push_str("</section>\n");
}

/// The workload's life cut at its markers.
fn segments(h: &mut String, report: &Report) {
    if !report.segments.is_empty() {
        h.push_str("<section id=\"segments\">\n<h2>Segments</h2>\n<div class=\"scroll\"><table>\n");
        let _ = writeln!(
            h,
            "<tr><th>segment</th><th>from</th><th>to</th><th class=\"num\">start s</th>\
             <th class=\"num\">end s</th><th class=\"num\">wall s</th>\
             <th class=\"num\">samples</th><th class=\"num\">{}</th></tr>",
            weight_heading(report)
        );
        for s in &report.segments {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>\
                 <td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td>\
                 <td class=\"num\">{:.3}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&s.name),
                esc(&s.from),
                esc(&s.to),
                s.start,
                s.end,
                s.wall_seconds,
                s.samples,
                weight_text(report, s.weight)
            );
        }
        h.push_str("</table></div>\n</section>\n");
    }
}

/// The tracepoint markers, folded away.
fn markers(h: &mut String, report: &Report) {
    if !report.markers.is_empty() {
        let _ = writeln!(
            h,
            "<section id=\"markers\">\n<h2>Markers</h2>\n<details>\n\
             <summary>{} tracepoint markers</summary>\n<div class=\"scroll\"><table>\n\
             <tr><th class=\"num\">time s</th><th>marker</th><th>task</th>\
             <th class=\"num\">cpu</th><th>payload</th></tr>",
            report.markers.len()
        );
        for m in report.markers.iter().take(MARKERS_SHOWN) {
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{:.6}</td><td><code>{}</code></td>\
                 <td><code>{}</code>/{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
                m.time,
                esc(&m.name),
                esc(&m.comm),
                m.pid,
                m.cpu.map(|c| c.to_string()).unwrap_or_default(),
                esc(&m.payload)
            );
        }
        h.push_str("</table></div>\n");
        if report.markers.len() > MARKERS_SHOWN {
            let _ = writeln!(
                h,
                "<p class=\"none\">{} more in the report JSON below.</p>",
                report.markers.len() - MARKERS_SHOWN
            );
        }
        h.push_str("</details>\n</section>\n");
    }
}

/// Ratios and per-fault figures.
fn derived(h: &mut String, report: &Report) {
    let derived = derived_lines(report);
    if !derived.is_empty() {
        h.push_str("<section id=\"derived\">\n<h2>Derived</h2>\n<dl class=\"derived\">\n");
        for (label, value) in derived {
            let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", esc(label), esc(&value));
        }
        h.push_str("</dl>\n</section>\n");
    }
}

/// /proc evidence.
fn proc_evidence(h: &mut String, report: &Report) {
    let proc = proc_lines(report);
    if !proc.is_empty() {
        h.push_str("<section id=\"proc\">\n<h2>/proc evidence</h2>\n<ul>\n");
        for line in proc {
            let _ = writeln!(h, "<li>{}</li>", esc(&line));
        }
        h.push_str("</ul>\n</section>\n");
    }
}

/// The whole report.json, folded away.
fn raw_json(h: &mut String, report: &Report) {
    let json = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("the report could not be serialised: {e}"));
    let _ = writeln!(
        h,
        "<section id=\"raw\">\n<h2>Raw report</h2>\n<details>\n<summary>report.json</summary>\n\
         <pre class=\"json\">{}</pre>\n</details>\n</section>",
        esc(&json)
    );
}

fn phase_table(
    h: &mut String,
    report: &Report,
    phases: &std::collections::BTreeMap<String, Phase>,
) {
    let rows = flatten_phases(phases);
    if rows.is_empty() {
        h.push_str("<p class=\"none\">No phases.</p>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<div class=\"scroll\"><table>\n<tr><th>phase</th><th class=\"num\">samples</th>\
         <th class=\"num\">share</th><th class=\"num\">{}</th><th>top frames</th></tr>",
        weight_heading(report)
    );
    for (depth, name, p) in rows {
        let frames = p
            .top_frames
            .iter()
            .take(5)
            .map(|(f, s)| format!("<code>{}</code> {}", esc(f), percent(*s)))
            .collect::<Vec<_>>()
            .join(", ");
        let bar = (p.share * 100.0).clamp(0.0, 100.0);
        let bar = if bar.is_finite() { bar } else { 0.0 };
        let _ = writeln!(
            h,
            "<tr><td class=\"phase\" style=\"padding-left:{:.2}em\"><code>{}</code></td>\
             <td class=\"num\">{}</td>\
             <td class=\"num share\"><span class=\"bar\" style=\"width:{bar:.1}%\"></span>\
             <span class=\"v\">{}</span></td><td class=\"num\">{}</td>\
             <td class=\"frames\">{frames}</td></tr>",
            0.55 + 1.4 * depth as f64,
            esc(name),
            p.samples,
            percent(p.share),
            weight_text(report, p.weight)
        );
    }
    h.push_str("</table></div>\n");
}

/// Escapes text for HTML content and double- or single-quoted attribute values.
/// Control characters, parse errors in HTML, are shown escaped as everywhere else.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in crate::text::escape_message(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A script added to each embedded SVG, after inferno's own:
///
/// - inferno keeps the zoom and search state in the query string with
///   `history.replaceState("?x=…")`; a `data:` document's URL cannot take a query, so
///   every click would throw a `SecurityError` (after zooming). The state is not kept.
/// - A frame can load before the page has given it its size (Chromium sizes sandboxed
///   frames from another process); inferno's `init` would then lay the graph out for a
///   width of 0 (`<svg> attribute width: A negative value is not valid`). `init` waits
///   for a width.
const EMBED_SHIM: &str = r#"<script type="text/ecmascript"><![CDATA[
(function () {
    var replace = history.replaceState;
    history.replaceState = function () {
        try { return replace.apply(history, arguments); } catch (e) { return undefined; }
    };
    if (typeof init !== "function") return;
    var inferno_init = init;
    init = function (evt) {
        if (window.innerWidth > 0) return inferno_init(evt);
        var sized = function () {
            if (window.innerWidth > 0) {
                window.removeEventListener("resize", sized);
                inferno_init(evt);
            }
        };
        window.addEventListener("resize", sized);
    };
})();
]]></script>"#;

/// The SVG with [`EMBED_SHIM`] before its closing tag, when it has one.
fn embeddable(svg: &str) -> String {
    match svg.rfind("</svg>") {
        Some(end) => format!("{}{EMBED_SHIM}{}", &svg[..end], &svg[end..]),
        None => svg.to_string(),
    }
}

/// The `height` of the SVG's root element in pixels, or 480 when it has none.
fn svg_height(svg: &str) -> u32 {
    const DEFAULT: u32 = 480;
    let root = svg.match_indices("<svg").map(|(i, _)| i + 4).find(|&i| {
        svg[i..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_whitespace() || c == '>')
    });
    let Some(start) = root else {
        return DEFAULT;
    };
    let tag = &svg[start..svg[start..].find('>').map_or(svg.len(), |e| start + e)];
    let Some(at) = tag
        .match_indices("height=")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || tag.as_bytes()[i - 1].is_ascii_whitespace())
    else {
        return DEFAULT;
    };
    let value = tag[at + 7..].trim_start_matches(['"', '\'']);
    let number: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => (v.ceil() as u32).min(100_000),
        _ => DEFAULT,
    }
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::terminal::sample_report;
    use super::*;

    const SVG: &str = "<?xml version=\"1.0\"?><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \
        \"x.dtd\"><svg version=\"1.1\" width=\"1200\" height=\"310\" onload=\"init(evt)\">\
        <rect height=\"15\"/></svg>";

    #[test]
    fn shows_the_key_content() {
        let h = render(&sample_report(), &[("cpu-clock <all>", SVG), ("b", SVG)]);
        for needle in [
            "<!DOCTYPE html>",
            "<title>faultline report: runs/zero-page</title>",
            "event cpu-clock, clock hrtimer (perf header: type 1 config 0)",
            "<h2>Findings</h2>",
            "<code>fault</code>",
            "<code>zero-fill</code>",
            "75.0%",
            "300.0",
            "<code>_raw_spin_unlock_irq+0x1c</code></td><td>page-fault entry</td>\
             <td class=\"num\">30</td><td>table</td>",
            "42 samples moved to [irqs-off] (10.5%)",
            "Caveat: the time is moved",
            "<code>oom:mark_victim</code></td><td><code>sched:sched_process_exit</code>",
            "<dt>page faults</dt><dd>262144 (workload counter)</dd>",
            "VmPTE: last 2056 kB, max 2060 kB",
            "predicted 2048 kB, measured 2052 kB, error +0.2%",
            "<figcaption>cpu-clock &lt;all&gt;</figcaption>",
            "style=\"height:312px\" src=\"data:image/svg+xml;base64,",
            "<summary>report.json</summary>",
            "&quot;irq_sticky&quot;: {",
        ] {
            assert!(h.contains(needle), "missing {needle:?} in\n{h}");
        }
        assert_eq!(h.matches("<iframe ").count(), 2);
        assert!(h.contains(&base64(embeddable(SVG).as_bytes())));
        assert!(embeddable(SVG).ends_with("]]></script></svg>"));
        // No script, no external resource.
        assert!(!h.contains("<script"));
        assert!(!h.contains("http://") && !h.contains("https://"));
    }

    #[test]
    fn escapes_report_text() {
        let mut r = sample_report();
        r.processes[0].comm = "a\"b'<c>\x01".into();
        let h = render(&r, &[]);
        assert!(
            h.contains(
                "<li>Page faults cost 75.0% of the workload&#39;s CPU &amp; exit &lt; 30% of it.</li>"
            ),
            "{h}"
        );
        assert!(h.contains("Tables &lt;b&gt;grew&lt;/b&gt; as predicted"));
        assert!(!h.contains("<b>"));
        assert!(h.contains("<code>a&quot;b&#39;&lt;c&gt;\\x01</code>"));
        // The raw JSON is escaped too.
        assert!(
            h.contains("Tables &lt;b&gt;grew&lt;/b&gt; as predicted: 8 bytes per fault.&quot;")
        );
        assert!(!h.contains("<section id=\"flame-graphs\">"));
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn svg_heights() {
        assert_eq!(svg_height(SVG), 310);
        assert_eq!(svg_height("<svg viewBox=\"0 0 1 1\" height='42.5'>"), 43);
        assert_eq!(svg_height("<svg width=\"10\">"), 480);
        assert_eq!(svg_height("not svg"), 480);
        assert_eq!(
            svg_height("<svgx height=\"3\"><svg data-height=\"9\">"),
            480
        );
    }

    #[test]
    fn empty_report() {
        let h = render(&Report::default(), &[]);
        assert!(
            h.contains("No findings.") && h.contains("No phases."),
            "{h}"
        );
        assert!(h.ends_with("</html>\n"));
    }
}
