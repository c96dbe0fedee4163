//! Exports of a corrected, phase-labelled profile to other tools: pprof (`go tool
//! pprof`, Pyroscope, Parca), speedscope, the Firefox Profiler, and a push to
//! Pyroscope's `/ingest` API.
//!
//! Every format starts from the same [`ExportView`]: the samples of the sampling event
//! after the IRQ-sticky correction, each with its phase, so totals match `faultline
//! analyze` (and `faultline collapse` with `--no-irq-correction`, which only moves
//! samples between stacks). Samples without a usable frame are left out, as
//! `collapse` leaves them out.

pub mod firefox;
pub mod pprof;
pub mod pyroscope;
pub mod speedscope;

use crate::analyze::AnalyzeOptions;
use crate::analyze::export_view::{ExportView, export_view};
use crate::error::Result;
use crate::ingest::intern::{FRAME_JIT, FRAME_KERNEL, FrameId};
use crate::ingest::load::LoadSummary;
use crate::ingest::script::header::base_name;
use crate::units::Nanos;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Gzipped pprof `profile.proto`.
    Pprof,
    /// speedscope's JSON file format.
    Speedscope,
    /// The Firefox Profiler's processed profile JSON.
    Firefox,
}

/// Reads a recording for export: analysis with its corrected samples, cut to the
/// workload with `workload_only`.
pub fn load(
    opts: &AnalyzeOptions,
    workload_only: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExportView> {
    load_with_summary(opts, workload_only, progress).map(|(view, _)| view)
}

/// [`load`], and what loading the recording left out, for the caller to report.
pub fn load_with_summary(
    opts: &AnalyzeOptions,
    workload_only: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(ExportView, LoadSummary)> {
    let (analysis, mut view) = export_view(opts, progress)?;
    if workload_only {
        view.retain_workload();
    }
    Ok((view, analysis.load))
}

/// The file contents of `view` in `format`.
pub fn render(view: &ExportView, format: Format) -> Vec<u8> {
    let unit = SampleUnit::of(view);
    match format {
        Format::Pprof => pprof::encode(&pprof::profile(view, &unit, wall_clock_start(view))),
        Format::Speedscope => speedscope::render(view, &unit),
        Format::Firefox => firefox::render(view, &unit),
    }
}

/// What a sample's weight measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleUnit {
    /// pprof's value type: `cpu` for the CPU clocks, else the event's name.
    pub kind: String,
    /// `nanoseconds` for the CPU clocks (their period is ns), else `count`.
    pub unit: &'static str,
    /// One sentence on how the weights were made.
    pub note: String,
}

impl SampleUnit {
    /// The unit of `view`'s sampling event.
    pub fn of(view: &ExportView) -> SampleUnit {
        let event = &view.clock.event;
        match base_name(event) {
            "cpu-clock" | "task-clock" => SampleUnit {
                kind: "cpu".into(),
                unit: "nanoseconds",
                note: format!("{event} periods are nanoseconds of CPU time"),
            },
            base => SampleUnit {
                kind: base.to_string(),
                unit: "count",
                note: format!("{event} periods count events"),
            },
        }
    }

    /// Whether weights are nanoseconds.
    pub fn is_time(&self) -> bool {
        self.unit == "nanoseconds"
    }
}

/// The DSO of a frame: as printed, else by its kind (kernel, JIT, unknown).
fn frame_dso(view: &ExportView, frame: FrameId, flags: u8) -> String {
    if let Some(dso) = view.profile.interner.dso(frame) {
        return String::from_utf8_lossy(dso).into_owned();
    }
    if flags & FRAME_KERNEL != 0 {
        "[kernel.kallsyms]".into()
    } else if flags & FRAME_JIT != 0 {
        "[jit]".into()
    } else {
        "[unknown]".into()
    }
}

/// First and last sample time on the recording's clock.
pub fn start_end(view: &ExportView) -> (Nanos, Nanos) {
    let start = view
        .samples
        .iter()
        .map(|s| s.time)
        .min()
        .unwrap_or(Nanos(0));
    let end = view.samples.iter().map(|s| s.time).max().unwrap_or(start);
    (start, end)
}

/// The first sample's time in ns since the Unix epoch, when the recording says when it
/// was made. perf prints `captured on` (the perf.data file's mtime, in ctime(3) form,
/// read as UTC) to the second; perf wrote the file last just after the last sample, so
/// that is the anchor. Sample times are on CLOCK_MONOTONIC, which has no date.
pub fn wall_clock_start(view: &ExportView) -> Option<i64> {
    let captured = parse_ctime(view.profile.header.captured_on.as_deref()?)?;
    let (start, end) = start_end(view);
    Some(captured * 1_000_000_000 - end.0.saturating_sub(start.0) as i64)
}

/// `Sat Nov 21 23:48:09 2026` → seconds since the Unix epoch (UTC).
fn parse_ctime(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, month, day, time, year] = parts[..] else {
        return None;
    };
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [h, m, s] = hms[..] else { return None };
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A thread's display name: `comm pid/tid`.
pub fn thread_label(t: &crate::ingest::profile::Thread) -> String {
    let comm = String::from_utf8_lossy(&t.comm);
    match t.pid {
        Some(pid) => format!("{comm} {pid}/{}", t.tid),
        None => format!("{comm} {}", t.tid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_dates_become_unix_seconds() {
        // date -u -d 'Sat Nov 21 23:48:09 2026' +%s
        assert_eq!(parse_ctime("Sat Nov 21 23:48:09 2026"), Some(1_795_304_889));
        assert_eq!(parse_ctime("Thu Jan  1 00:00:00 1970"), Some(0));
        assert_eq!(parse_ctime("Tue Feb 29 12:00:00 2000"), Some(951_825_600));
        assert_eq!(parse_ctime("yesterday"), None);
        assert_eq!(parse_ctime("Sat Foo 21 23:48:09 2026"), None);
    }
}
