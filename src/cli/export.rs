//! `faultline export` and `faultline push`: the corrected profile for other tools.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use faultline::Error;
use faultline::analyze::AnalyzeOptions;
use faultline::export::pyroscope::{self, PushFormat, PushOptions};
use faultline::export::{self, Format};

/// What to read: the same inputs and corrections as `faultline analyze`.
#[derive(Args)]
pub struct InputArgs {
    /// A run directory from `faultline record`, or a `perf script` file.
    input: PathBuf,
    /// Sampling event to export (default: the run's, else the first non-tracepoint event).
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Leave hrtimer samples on the IRQ re-enable sites where they landed.
    #[arg(long)]
    no_irq_correction: bool,
    /// Only the workload's samples and the exit work other tasks did for it.
    #[arg(long)]
    workload_only: bool,
    /// /proc evidence (timeline.jsonl) for a plain perf script file.
    #[arg(long = "proc", value_name = "DIR")]
    proc_dir: Option<PathBuf>,
    /// JSON phase rules extending or overriding the built-in ones.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Parser threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Fail on the first line that cannot be used, naming file and line.
    #[arg(long)]
    strict: bool,
}

impl InputArgs {
    /// The view, after telling `warn` what loading left out (as every reading command).
    fn load(
        &self,
        warn: &mut dyn Write,
    ) -> Result<faultline::analyze::export_view::ExportView, Error> {
        let opts = AnalyzeOptions {
            input: self.input.clone(),
            proc_dir: self.proc_dir.clone(),
            no_irq_correction: self.no_irq_correction,
            rules: self.rules.clone(),
            event: self.event.clone(),
            threads: self.threads,
            strict: self.strict,
        };
        let (view, summary) = export::load_with_summary(&opts, self.workload_only, &|_| {})?;
        super::commands::print_load_summary(&summary, warn);
        Ok(view)
    }
}

/// Export formats on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Gzipped pprof profile.proto (go tool pprof, Pyroscope, Parca).
    Pprof,
    /// speedscope JSON (https://www.speedscope.app).
    Speedscope,
    /// Firefox Profiler processed profile JSON (https://profiler.firefox.com).
    Firefox,
}

/// `faultline push` bodies on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum PushFormatArg {
    /// Folded stacks.
    Folded,
    /// pprof, multipart.
    Pprof,
}

/// `faultline export` arguments.
#[derive(Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    format: FormatArg,
    #[command(flatten)]
    input: InputArgs,
    /// Output file.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: PathBuf,
}

/// `faultline push` arguments.
#[derive(Args)]
pub struct PushArgs {
    /// Pyroscope (or Grafana Alloy receiver) base URL, e.g. http://localhost:4040.
    #[arg(long, value_name = "URL")]
    pyroscope: String,
    /// Application name with labels: 'app.cpu{commit=abc,workload=bfs}'.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    name: String,
    /// Tenant id for a multi-tenant server (sent as X-Scope-OrgID).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    /// Seconds to wait for the server.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Body: folded stacks (format=folded), or the pprof export as multipart/form-data
    /// (keeps the comm, pid, tid and phase labels).
    #[arg(long, value_enum, default_value = "folded")]
    format: PushFormatArg,
    #[command(flatten)]
    input: InputArgs,
}

fn parse_name(s: &str) -> Result<String, String> {
    pyroscope::check_name(s).map(|()| s.to_string())
}

/// Runs `faultline export`.
pub fn export(a: &ExportArgs, stderr: &mut dyn Write) -> Result<(), Error> {
    let view = a.input.load(stderr)?;
    let format = match a.format {
        FormatArg::Pprof => Format::Pprof,
        FormatArg::Speedscope => Format::Speedscope,
        FormatArg::Firefox => Format::Firefox,
    };
    let bytes = export::render(&view, format);
    // Renamed into place: a file or symlink already at the name is replaced, not written through.
    faultline::outfile::write(&a.output, &bytes)?;
    let _ = writeln!(
        stderr,
        "faultline: wrote {} ({} {}) of {} to {}",
        faultline::text::count(view.samples.len() as u64, "sample"),
        view.total_weight(),
        export::SampleUnit::of(&view).unit,
        view.clock.event,
        a.output.display()
    );
    Ok(())
}

/// Runs `faultline push`.
pub fn push(a: &PushArgs, stderr: &mut dyn Write) -> Result<(), Error> {
    let view = a.input.load(stderr)?;
    let opts = PushOptions {
        url: a.pyroscope.clone(),
        name: a.name.clone(),
        tenant: a.tenant.clone(),
        timeout: Duration::from_secs(a.timeout),
        format: match a.format {
            PushFormatArg::Folded => PushFormat::Folded,
            PushFormatArg::Pprof => PushFormat::Pprof,
        },
    };
    let pushed = pyroscope::push(&view, &opts)?;
    if !pushed.times_from_recording {
        let _ = writeln!(
            stderr,
            "faultline: the recording has no `captured on` time (perf script --header); sent it as ending now"
        );
    }
    let _ = writeln!(
        stderr,
        "faultline: pushed {} stacks ({} in all, {}..{}) to {}",
        pushed.lines, pushed.total, pushed.from, pushed.until, pushed.url
    );
    Ok(())
}
