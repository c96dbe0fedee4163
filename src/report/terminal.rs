//! The plain-text terminal rendering of a [`Report`]: no colours, at most
//! [`WIDTH`] columns, the same bytes for the same report.
//!
//! The helpers marked `pub(crate)` here (number formatting, phase flattening, the
//! derived and /proc lines) are shared with the Markdown and HTML renderings, so the
//! three say the same things in the same words.

use crate::text::count;
use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Phase, Report};

/// The widest line the terminal report prints.
pub const WIDTH: usize = 100;

/// Writes the terminal report.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Lines::default();
    header(report, &mut w);
    phases(report, &mut w);
    processes(report, &mut w);
    correction(report, &mut w);
    segments(report, &mut w);
    markers(report, &mut w);
    let derived = derived_lines(report);
    if !derived.is_empty() {
        w.blank();
        w.line("Derived:");
        for (label, value) in derived {
            w.wrapped(&format!("{label}: {value}"), "  ", "    ");
        }
    }
    let proc = proc_lines(report);
    if !proc.is_empty() {
        w.blank();
        w.line("/proc evidence:");
        for line in proc {
            w.wrapped(&line, "  ", "    ");
        }
    }
    w.blank();
    if report.findings.is_empty() {
        w.line("Findings: none");
    } else {
        w.line("Findings:");
        for finding in &report.findings {
            w.wrapped(&one_line(finding), "  - ", "    ");
        }
    }
    out.write_all(w.text.as_bytes())?;
    out.flush()
}

fn header(report: &Report, w: &mut Lines) {
    let input = &report.input;
    let mut first = format!("faultline report: {}", one_line(&input.path));
    if !input.kind.is_empty() {
        first.push_str(&format!(" ({})", input.kind));
    }
    w.wrapped(&first, "", "  ");
    let mut facts = Vec::new();
    if let Some(target) = &input.target {
        facts.push(format!("target {}", value_text(target)));
    }
    if let Some(k) = &input.kernel {
        facts.push(format!("kernel {}", one_line(k)));
    }
    if let Some(p) = &input.perf_version {
        facts.push(format!("perf {}", one_line(p)));
    }
    if input.skipped_lines > 0 {
        facts.push(format!("{} lines skipped", input.skipped_lines));
    }
    if !facts.is_empty() {
        w.wrapped(&facts.join(", "), "", "  ");
    }
    w.wrapped(&clock_line(report), "", "  ");
    if !report.events.is_empty() {
        w.wrapped(&format!("samples: {}", events_text(report)), "", "  ");
    }
}

/// `event cpu-clock, clock hrtimer (perf header: …), mean period 1.00 ms, -F 999 Hz`.
pub(crate) fn clock_line(report: &Report) -> String {
    let c = &report.clock;
    let event = if c.event.is_empty() { "?" } else { &c.event };
    let kind = c.kind.kind();
    let mut s = format!("event {}, clock {kind}", one_line(event));
    if !c.source.is_empty() {
        s.push_str(&format!(" ({})", one_line(&c.source)));
    }
    if c.mean_period > 0.0 {
        if is_time_clock(report) {
            s.push_str(&format!(", mean period {:.3} ms", c.mean_period / 1e6));
        } else {
            s.push_str(&format!(", mean period {:.0}", c.mean_period));
        }
    }
    if let Some(hz) = c.frequency_hz {
        s.push_str(&format!(", -F {hz} Hz"));
    }
    if c.no_cpu_pmu == Some(true) {
        s.push_str(", no CPU PMU (a VM?)");
    }
    s
}

/// `cpu-clock 357, page-faults 12`.
pub(crate) fn events_text(report: &Report) -> String {
    report
        .events
        .iter()
        .map(|(name, n)| format!("{} {n}", one_line(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The workload's phase table (with the exit work tied to it) first, when there is a
/// workload, then the whole recording's.
fn phases(report: &Report, w: &mut Lines) {
    let title = format!("Phases ({})", one_line(&report.clock.event));
    w.blank();
    if let Some(p) = report.processes.iter().find(|p| p.workload) {
        w.wrapped(
            &format!(
                "The workload, {} (pid {}), with the exit work other tasks did for it:",
                one_line(&p.comm),
                p.pid
            ),
            "",
            "  ",
        );
        phase_block(report, w, &title, &p.phases);
        w.blank();
        w.line("The whole recording:");
    }
    phase_block(report, w, &title, &report.phases);
}

fn phase_block(
    report: &Report,
    w: &mut Lines,
    title: &str,
    phases: &std::collections::BTreeMap<String, crate::analyze::model::Phase>,
) {
    let rows = flatten_phases(phases);
    if rows.is_empty() {
        w.line("Phases: none");
        return;
    }
    let names: Vec<String> = rows
        .iter()
        .map(|(depth, name, _)| format!("{}{}", "  ".repeat(*depth), one_line(name)))
        .collect();
    let name_w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(24, 60);
    w.line(&format!(
        "{:<name_w$}  {:>10}  {:>7}  {:>14}",
        truncate(title, name_w),
        "samples",
        "share",
        weight_heading(report)
    ));
    for (name, (_, _, phase)) in names.iter().zip(&rows) {
        w.line(&format!(
            "{:<name_w$}  {:>10}  {:>7}  {:>14}",
            truncate(name, name_w),
            phase.samples,
            percent(phase.share),
            weight_text(report, phase.weight)
        ));
    }
}

fn processes(report: &Report, w: &mut Lines) {
    if report.processes.is_empty() {
        return;
    }
    w.blank();
    w.line("Processes:");
    w.line(&format!(
        "{:<8}  {:<40}  {:>10}  {:>14}",
        "pid",
        "comm",
        "samples",
        weight_heading(report)
    ));
    for p in report.processes.iter().take(PROCESSES_SHOWN) {
        let comm = if p.workload {
            format!("{} (workload)", one_line(&p.comm))
        } else {
            one_line(&p.comm)
        };
        w.line(&format!(
            "{:<8}  {:<40}  {:>10}  {:>14}",
            p.pid,
            truncate(&comm, 40),
            p.samples,
            weight_text(report, p.weight)
        ));
        let top = top_level_phases(&p.phases);
        if !top.is_empty() {
            w.wrapped(&format!("phases: {top}"), "          ", "            ");
        }
        for t in &p.tied {
            w.wrapped(
                &format!(
                    "+ {}: {}, {} ({})",
                    one_line(&t.comm),
                    count(t.samples, "sample"),
                    weight_with_unit(report, t.weight),
                    one_line(&t.how)
                ),
                "          ",
                "            ",
            );
        }
    }
    if let Some(more) = more_processes(report, PROCESSES_SHOWN) {
        w.line(&format!("... {more}"));
    }
}

/// How many processes the terminal lists before summarising the rest.
const PROCESSES_SHOWN: usize = 10;

/// `3 more processes: 12 samples, 12.0 ms`, when the list is cut after `shown`.
pub(crate) fn more_processes(report: &Report, shown: usize) -> Option<String> {
    let rest = report.processes.get(shown..).filter(|r| !r.is_empty())?;
    let samples: u64 = rest.iter().map(|p| p.samples).sum();
    let weight: u64 = rest.iter().map(|p| p.weight).sum();
    Some(format!(
        "{} more processes: {}, {}",
        rest.len(),
        count(samples, "sample"),
        weight_with_unit(report, weight)
    ))
}

fn correction(report: &Report, w: &mut Lines) {
    w.blank();
    w.wrapped(&correction_summary(report), "", "  ");
    let sites = &report.irq_sticky.sites;
    if !sites.is_empty() {
        w.line(&format!(
            "  {:<36}  {:<20}  {:>9}  {:<10}  {:>8}",
            "site", "kind", "samples", "found by", "of func"
        ));
        for s in sites {
            w.line(&format!(
                "  {:<36}  {:<20}  {:>9}  {:<10}  {:>8}",
                truncate(&one_line(&s.site), 36),
                truncate(&one_line(&s.kind), 20),
                s.samples,
                truncate(&one_line(&s.detected_by), 10),
                percent(s.share_of_function)
            ));
        }
    }
    if !report.irq_sticky.caveat.is_empty() {
        w.wrapped(
            &format!("caveat: {}", one_line(&report.irq_sticky.caveat)),
            "  ",
            "    ",
        );
    }
}

/// `IRQ-sticky correction: applied, 120 samples moved (12.0%); reason`.
pub(crate) fn correction_summary(report: &Report) -> String {
    let c = &report.irq_sticky;
    let mut s = if c.applied {
        format!(
            "IRQ-sticky correction: applied, {} moved to [irqs-off] ({})",
            count(c.moved_samples, "sample"),
            percent(c.moved_share)
        )
    } else {
        "IRQ-sticky correction: not applied".to_string()
    };
    if !c.reason.is_empty() {
        s.push_str(&format!("; {}", one_line(&c.reason)));
    }
    s
}

fn segments(report: &Report, w: &mut Lines) {
    if report.segments.is_empty() {
        return;
    }
    w.blank();
    let rows: Vec<(String, String)> = report
        .segments
        .iter()
        .map(|s| {
            let span = format!("{} -> {}", one_line(&s.from), one_line(&s.to));
            (one_line(&s.name), span)
        })
        .collect();
    // The numbers take 45 columns; the name and span share the rest.
    let name_w = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 16);
    let span_w = rows
        .iter()
        .map(|(_, s)| s.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(10, WIDTH - 45 - 2 - name_w);
    w.line(&format!(
        "{:<name_w$}  {:<span_w$}  {:>10}  {:>8}  {:>8}  {:>11}",
        "Segments",
        "from -> to",
        "start s",
        "wall s",
        "samples",
        weight_heading(report)
    ));
    for ((name, span), s) in rows.iter().zip(&report.segments) {
        w.line(&format!(
            "{:<name_w$}  {:<span_w$}  {:>10.3}  {:>8.3}  {:>8}  {:>11}",
            truncate(name, name_w),
            truncate(span, span_w),
            s.start,
            s.wall_seconds,
            s.samples,
            weight_text(report, s.weight)
        ));
    }
}

/// How many markers the terminal lists before summarising the rest.
const MARKERS_SHOWN: usize = 10;

fn markers(report: &Report, w: &mut Lines) {
    if report.markers.is_empty() {
        return;
    }
    w.blank();
    w.line(&format!("Markers: {}", report.markers.len()));
    for m in report.markers.iter().take(MARKERS_SHOWN) {
        let cpu = m.cpu.map(|c| format!(" [{c:03}]")).unwrap_or_default();
        let line = format!(
            "{:>14.6}  {}  {}/{}{cpu}  {}",
            m.time,
            one_line(&m.name),
            one_line(&m.comm),
            m.pid,
            one_line(&m.payload)
        );
        w.line(&format!("  {}", truncate(&line, WIDTH - 2)));
    }
    if report.markers.len() > MARKERS_SHOWN {
        w.line(&format!(
            "  ... {} more",
            report.markers.len() - MARKERS_SHOWN
        ));
    }
}

/// The derived figures that are known, as `(label, value)`.
pub(crate) fn derived_lines(report: &Report) -> Vec<(&'static str, String)> {
    let d = &report.derived;
    let mut v = Vec::new();
    if let Some(r) = d.exit_fault_ratio {
        v.push(("exit/fault weight ratio", format!("{r:.2}")));
    }
    if let Some(f) = d.faults {
        let src = d
            .faults_source
            .as_deref()
            .map(|s| format!(" ({})", one_line(s)))
            .unwrap_or_default();
        v.push(("page faults", format!("{f}{src}")));
    }
    if let Some(ns) = d.cpu_per_fault_ns {
        v.push(("fault-phase CPU per fault", format!("{ns:.0} ns")));
    }
    if let Some(b) = d.table_bytes_per_fault {
        v.push(("page-table bytes per fault", format!("{b:.1} B")));
    }
    v
}

/// The /proc evidence, one sentence-like line per fact.
pub(crate) fn proc_lines(report: &Report) -> Vec<String> {
    let p = &report.proc;
    let mut v = Vec::new();
    for (name, series) in [("VmPTE", &p.vm_pte), ("VmRSS", &p.vm_rss)] {
        if let Some(s) = series {
            v.push(format!(
                "{name}: last {} kB, max {} kB at {:.3} s (first {} kB, {} points)",
                s.last, s.max, s.max_time, s.first, s.points
            ));
        }
    }
    if let Some(m) = &p.model {
        v.push(format!(
            "page-table model: predicted {} kB, measured {} kB, error {} ({} faults, {:.1} B/fault measured)",
            m.predicted_kb,
            m.measured_kb,
            signed_percent(m.error),
            m.faults,
            m.bytes_per_fault
        ));
    }
    if let Some(kb) = p.mark_victim_pgtables_kb {
        v.push(format!("oom:mark_victim pgtables: {kb} kB"));
    }
    if let Some(vm) = &p.vmas {
        let max = vm
            .max_map_count
            .map(|m| format!(" of vm.max_map_count {m}"))
            .unwrap_or_default();
        v.push(format!(
            "VMAs ({}): {}{max}; {} unmerged runs, longest {}, merging would save {}",
            one_line(&vm.source),
            vm.count,
            vm.unmerged_runs,
            vm.longest_run,
            vm.mergeable_savings
        ));
    }
    if let Some(s) = &p.settings {
        v.push(format!("settings: {}", value_text(s)));
    }
    v
}

/// Whether weights are nanoseconds: the clock is a timer (`cpu-clock`, `task-clock`).
pub(crate) fn is_time_clock(report: &Report) -> bool {
    report.clock.kind.is_hrtimer()
}

/// The heading of a weight column: `time ms` for timer clocks, else `weight`.
pub(crate) fn weight_heading(report: &Report) -> &'static str {
    if is_time_clock(report) {
        "time ms"
    } else {
        "weight"
    }
}

/// A weight in the weight column's unit: milliseconds (`12.3`) for timer clocks, else
/// the raw period sum.
pub(crate) fn weight_text(report: &Report, weight: u64) -> String {
    if is_time_clock(report) {
        format!("{:.1}", weight as f64 / 1e6)
    } else {
        weight.to_string()
    }
}

/// A weight with its unit, for prose: `12.3 ms` or `12345 weight`.
pub(crate) fn weight_with_unit(report: &Report, weight: u64) -> String {
    if is_time_clock(report) {
        format!("{:.1} ms", weight as f64 / 1e6)
    } else {
        format!("{weight} weight")
    }
}

/// A fraction as a percentage: `0.7535` → `75.4%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A fraction as a signed percentage: `0.1` → `+10.0%`.
pub(crate) fn signed_percent(fraction: f64) -> String {
    format!("{:+.1}%", fraction * 100.0)
}

/// The phase tree depth-first, each level heaviest first (ties by name), as
/// `(depth, name, phase)`.
pub(crate) fn flatten_phases(phases: &BTreeMap<String, Phase>) -> Vec<(usize, &str, &Phase)> {
    fn walk<'a>(
        phases: &'a BTreeMap<String, Phase>,
        depth: usize,
        out: &mut Vec<(usize, &'a str, &'a Phase)>,
    ) {
        let mut level: Vec<(&String, &Phase)> = phases.iter().collect();
        level.sort_by(|a, b| b.1.weight.cmp(&a.1.weight).then_with(|| a.0.cmp(b.0)));
        for (name, phase) in level {
            out.push((depth, name, phase));
            walk(&phase.children, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(phases, 0, &mut out);
    out
}

/// The top-level phases of a scope, heaviest first: `fault 75.4%, exit 20.0%`.
pub(crate) fn top_level_phases(phases: &BTreeMap<String, Phase>) -> String {
    flatten_phases(phases)
        .into_iter()
        .filter(|(depth, _, _)| *depth == 0)
        .map(|(_, name, p)| format!("{} {}", one_line(name), percent(p.share)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON value as short text: strings bare, everything else compact JSON.
pub(crate) fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => one_line(s),
        other => one_line(&human_sizes(other).to_string()),
    }
}

/// The value with every `NAME_bytes` number shown as a size under `NAME`
/// (`"span": "64 TiB"`, not `"span_bytes": 70368744177664`): report.json keeps the exact
/// numbers, the renderings are read by people.
fn human_sizes(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k.strip_suffix("_bytes"), v.as_u64()) {
                    (Some(name), Some(n)) => (name.to_string(), Value::String(size_text(n))),
                    _ => (k.clone(), human_sizes(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(human_sizes).collect()),
        other => other.clone(),
    }
}

/// A byte count in its largest exact binary unit (`64 TiB`), else to one decimal
/// (`1.5 MiB`); plain bytes below 1 KiB.
pub(crate) fn size_text(n: u64) -> String {
    let exact = crate::units::Bytes(n).to_string();
    if n >= 1024 && exact.ends_with(" B") {
        crate::units::Bytes(n).human()
    } else {
        exact
    }
}

/// Text with control characters (newlines, tabs, escapes) shown escaped, so one item
/// stays on one line and cannot move the cursor.
pub(crate) fn one_line(s: &str) -> String {
    crate::text::escape_controls(s).into_owned()
}

/// Cuts text to `width` characters, ending in `...` when cut.
fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let keep = width.saturating_sub(3);
    let mut t: String = s.chars().take(keep).collect();
    t.push_str("...");
    t
}

/// Output lines, trailing spaces trimmed.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    fn line(&mut self, s: &str) {
        self.text.push_str(s.trim_end());
        self.text.push('\n');
    }

    fn blank(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.text.push('\n');
        }
    }

    /// Word-wraps `s` to [`WIDTH`], the first line after `first`, the others after
    /// `rest`. Words longer than a line are cut.
    fn wrapped(&mut self, s: &str, first: &str, rest: &str) {
        let mut line = first.to_string();
        let mut empty = true;
        let mut indent = first.chars().count();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            let used = line.chars().count();
            let wlen = word.chars().count();
            if !empty && used + 1 + wlen > WIDTH {
                self.line(&line);
                line = rest.to_string();
                indent = rest.chars().count();
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            let room = WIDTH.saturating_sub(indent).max(1);
            if wlen > room {
                // A word wider than a line: hard-cut it into pieces.
                let chars: Vec<char> = word.chars().collect();
                let mut pieces = chars.chunks(room).peekable();
                while let Some(piece) = pieces.next() {
                    let piece: String = piece.iter().collect();
                    if line.chars().count() + piece.chars().count() > WIDTH {
                        self.line(&line);
                        line = rest.to_string();
                        indent = rest.chars().count();
                    }
                    line.push_str(&piece);
                    if pieces.peek().is_some() {
                        self.line(&line);
                        line = rest.to_string();
                        indent = rest.chars().count();
                    }
                }
            } else {
                line.push_str(word);
            }
            empty = false;
        }
        self.line(&line);
    }
}

/// A small but complete report, for the renderers' tests.
#[cfg(test)]
pub(crate) fn sample_report() -> Report {
    use super::*;
    use crate::ingest::clock::{SampleClock, Timer};

    let phases = sample_phases();
    let mut events = BTreeMap::new();
    events.insert("cpu-clock".to_string(), 400);
    events.insert("oom:mark_victim".to_string(), 1);
    Report {
        input: InputInfo {
            path: "runs/zero-page".into(),
            kind: "run_dir".into(),
            target: Some(serde_json::json!({"workload": "zero-page", "size": "1G"})),
            kernel: Some("6.1.0-18-amd64".into()),
            perf_version: Some("6.1.76".into()),
            skipped_lines: 2,
            warnings: Vec::new(),
        },
        clock: ClockInfo {
            event: "cpu-clock".into(),
            kind: SampleClock::Hrtimer(Timer::CpuClock),
            source: "perf header: type 1 config 0".into(),
            mean_period: 1_000_000.0,
            frequency_hz: Some(999),
            no_cpu_pmu: Some(true),
        },
        events,
        irq_sticky: sample_irq_sticky(),
        processes: sample_processes(phases.clone()),
        phases,
        markers: vec![
            Marker {
                name: "oom:mark_victim".into(),
                time: 1234.5,
                pid: 4242,
                comm: "zero_page".into(),
                cpu: Some(1),
                payload: "pid=4242 pgtables=2048kB".into(),
            },
            Marker {
                name: "sched:sched_process_exit".into(),
                time: 1234.75,
                pid: 4242,
                comm: "zero_page".into(),
                cpu: None,
                payload: "comm=zero_page pid=4242 prio=120".into(),
            },
        ],
        segments: vec![
            Segment {
                name: "run".into(),
                from: "start".into(),
                to: "oom:mark_victim".into(),
                start: 1234.0,
                end: 1234.5,
                wall_seconds: 0.5,
                samples: 310,
                weight: 310_000_000,
            },
            Segment {
                name: "teardown".into(),
                from: "oom:mark_victim".into(),
                to: "sched:sched_process_exit".into(),
                start: 1234.5,
                end: 1234.75,
                wall_seconds: 0.25,
                samples: 90,
                weight: 90_000_000,
            },
        ],
        derived: sample_derived(),
        proc: sample_proc(),
        findings: vec![
            "Page faults cost 75.0% of the workload's CPU & exit < 30% of it.".into(),
            "Tables <b>grew</b> as predicted: 8 bytes per fault.".into(),
        ],
    }
}

#[cfg(test)]
fn sample_phases() -> BTreeMap<String, Phase> {
    use super::*;
    let leaf = |samples: u64, share: f64| Phase {
        samples,
        weight: samples * 1_000_000,
        share,
        children: BTreeMap::new(),
        top_frames: vec![("clear_page_erms".into(), 0.5)],
    };
    let mut fault_children = BTreeMap::new();
    fault_children.insert("alloc-pte".to_string(), leaf(40, 0.1));
    fault_children.insert("zero-fill".to_string(), leaf(200, 0.5));
    let mut phases = BTreeMap::new();
    phases.insert(
        "fault".to_string(),
        Phase {
            samples: 300,
            weight: 300_000_000,
            share: 0.75,
            children: fault_children,
            top_frames: vec![
                ("handle_mm_fault".into(), 0.9),
                ("clear_page_erms".into(), 0.6),
            ],
        },
    );
    phases.insert("exit".to_string(), leaf(80, 0.2));
    phases.insert("user".to_string(), leaf(20, 0.05));
    phases
}

#[cfg(test)]
fn sample_irq_sticky() -> crate::analyze::model::IrqSticky {
    use super::*;
    IrqSticky {
        applied: true,
        reason: "cpu-clock is an hrtimer: IRQs-off time lands on re-enable sites".into(),
        moved_samples: 42,
        moved_share: 0.105,
        sites: vec![
            StickySite {
                site: "_raw_spin_unlock_irq+0x1c".into(),
                kind: "page-fault entry".into(),
                samples: 30,
                detected_by: "table".into(),
                share_of_function: 0.97,
            },
            StickySite {
                site: "exc_page_fault+0x7a".into(),
                kind: "syscall entry".into(),
                samples: 12,
                detected_by: "statistics".into(),
                share_of_function: 0.8,
            },
        ],
        caveat: "the time is moved, not recovered: where it was spent stays unknown".into(),
    }
}

#[cfg(test)]
fn sample_processes(phases: BTreeMap<String, Phase>) -> Vec<crate::report::ProcessPhases> {
    use super::*;
    vec![
        ProcessPhases {
            pid: 4242,
            comm: "zero_page".into(),
            workload: true,
            weight: 380_000_000,
            samples: 380,
            phases,
            tied: vec![TiedWork {
                comm: "oom_reaper".into(),
                samples: 5,
                weight: 5_000_000,
                how: "reaps the victim's memory".into(),
            }],
        },
        ProcessPhases {
            pid: 17,
            comm: "kworker/0:1".into(),
            workload: false,
            weight: 20_000_000,
            samples: 20,
            ..Default::default()
        },
    ]
}

#[cfg(test)]
fn sample_derived() -> crate::analyze::model::Derived {
    use super::*;
    Derived {
        exit_fault_ratio: Some(0.2667),
        faults: Some(262_144),
        faults_source: Some("workload counter".into()),
        cpu_per_fault_ns: Some(1144.0),
        table_bytes_per_fault: Some(8.0),
        munmap_teardown_weight: 0,
    }
}

#[cfg(test)]
fn sample_proc() -> crate::analyze::model::ProcEvidence {
    use super::*;
    ProcEvidence {
        vm_pte: Some(Series {
            points: 12,
            first: 4,
            last: 2056,
            max: 2060,
            max_time: 0.48,
        }),
        vm_rss: None,
        model: Some(ModelComparison {
            faults: 262_144,
            predicted_kb: 2048,
            measured_kb: 2052,
            error: 0.00195,
            bytes_per_fault: 8.02,
        }),
        mark_victim_pgtables_kb: Some(2048),
        vmas: Some(VmaFindings {
            source: "maps at exit".into(),
            count: 65_000,
            max_map_count: Some(65_530),
            unmerged_runs: 3,
            longest_run: 64_000,
            mergeable_savings: 63_997,
        }),
        settings: Some(serde_json::json!({"thp": "never"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::clock::SampleClock;
    use crate::report::ProcessPhases;

    fn text(r: &Report) -> String {
        let mut out = Vec::new();
        render(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn shows_the_key_content() {
        let t = text(&sample_report());
        for needle in [
            "faultline report: runs/zero-page (run_dir)",
            "event cpu-clock, clock hrtimer (perf header: type 1 config 0)",
            "mean period 1.000 ms",
            "time ms",
            "fault",
            "  zero-fill",
            "  alloc-pte",
            "75.0%",
            "300.0",
            "42 samples moved",
            "_raw_spin_unlock_irq+0x1c",
            "page-fault entry",
            "statistics",
            "caveat: the time is moved",
            "teardown",
            "oom:mark_victim -> sched:sched_process_exit",
            "exit/fault weight ratio: 0.27",
            "VmPTE: last 2056 kB, max 2060 kB",
            "predicted 2048 kB, measured 2052 kB, error +0.2%",
            "3 unmerged runs, longest 64000",
            "zero_page (workload)",
            "+ oom_reaper: 5 samples, 5.0 ms",
            "Findings:",
            "  - Page faults cost 75.0% of the workload's CPU & exit < 30% of it.",
        ] {
            assert!(t.contains(needle), "missing {needle:?} in\n{t}");
        }
        // Heaviest phase first, children under their parent.
        let fault = t.find("\nfault ").unwrap();
        let zero = t.find("\n  zero-fill").unwrap();
        let alloc = t.find("\n  alloc-pte").unwrap();
        let exit = t.find("\nexit ").unwrap();
        assert!(fault < zero && zero < alloc && alloc < exit, "{t}");
    }

    #[test]
    fn fits_the_width_and_is_deterministic() {
        let mut r = sample_report();
        r.findings
            .push(format!("A very long finding: {}", "word ".repeat(60)));
        r.findings.push(format!("unbroken {}", "x".repeat(250)));
        r.irq_sticky.sites[0].site = "s".repeat(80);
        r.input.path = format!("/{}", "p".repeat(150));
        r.segments[0].name = "n".repeat(30);
        r.segments[0].to = "t".repeat(90);
        r.markers[0].payload = "y".repeat(200);
        r.processes[0].comm = "c".repeat(70);
        r.processes[0]
            .phases
            .insert("q".repeat(120), Phase::default());
        let t = text(&r);
        for line in t.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line:?}");
        }
        assert!(t.contains(&"x".repeat(50)));
        assert_eq!(t, text(&r));
    }

    #[test]
    fn raw_weights_for_other_clocks_and_empty_reports() {
        let mut r = sample_report();
        r.clock.kind = SampleClock::Nmi;
        r.clock.event = "cycles".into();
        let t = text(&r);
        assert!(t.contains("weight") && t.contains("300000000"), "{t}");
        let empty = text(&Report::default());
        assert!(empty.contains("Phases: none"), "{empty}");
        assert!(empty.contains("Findings: none"), "{empty}");
        assert!(empty.contains("not applied"), "{empty}");
    }

    #[test]
    fn long_process_lists_are_cut() {
        let mut r = sample_report();
        for pid in 100..120 {
            r.processes.push(ProcessPhases {
                pid,
                comm: format!("task{pid}"),
                samples: 1,
                weight: 1_000_000,
                ..Default::default()
            });
        }
        let t = text(&r);
        assert!(t.contains("task107") && !t.contains("task108"), "{t}");
        assert!(
            t.contains("... 12 more processes: 12 samples, 12.0 ms"),
            "{t}"
        );
    }

    #[test]
    fn control_characters_stay_on_one_line() {
        let mut r = Report::default();
        r.findings.push("two\nlines\x1b[31m red".into());
        let t = text(&r);
        assert!(t.contains("  - two lines\\x1b[31m red"), "{t}");
        assert!(!t.contains('\x1b'));
    }
}
