//! `faultline reproduce`: the seed articles' experiments, one command each.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use faultline::reproduce::{self, Outcome, ReproduceOptions};

/// `faultline reproduce [--list] [--quick] NAME`.
#[derive(Args)]
pub struct ReproduceArgs {
    /// The experiment: oomsday, vma-merge or memory-hog (see --list).
    #[arg(required_unless_present = "list")]
    experiment: Option<String>,
    /// List the experiments and what each reproduces.
    #[arg(long)]
    list: bool,
    /// A small version (one run a side, smaller workloads), as CI runs it.
    #[arg(long)]
    quick: bool,
    /// Directory for the run directories, reproduce.md and reproduce.json
    /// (default: reproduce-NAME).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Replace the runs of a previous reproduction in the output directory.
    #[arg(long)]
    force: bool,
    /// Print reproduce.json instead of the Markdown table.
    #[arg(long)]
    json: bool,
}

/// Runs the command: exit 0 when every claim holds or cannot be decided, 1 when one
/// does not hold, 2 when an experiment cannot run (the message says why).
pub fn run(a: &ReproduceArgs, mut out: impl Write, stderr: &mut dyn Write) -> ExitCode {
    if a.list {
        for (name, what) in reproduce::EXPERIMENTS {
            let _ = writeln!(out, "{name:<11} {what}");
        }
        return ExitCode::SUCCESS;
    }
    let experiment = a.experiment.clone().unwrap_or_default();
    let self_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(stderr, "faultline: /proc/self/exe: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = ReproduceOptions {
        output: a
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("reproduce-{experiment}"))),
        experiment,
        quick: a.quick,
        force: a.force,
        self_exe,
    };
    let progress = |m: &str| eprintln!("faultline: {m}");
    let summary = match reproduce::run(&opts, &progress) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "faultline: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if a.json {
        serde_json::to_string_pretty(&summary).expect("summaries serialise") + "\n"
    } else {
        reproduce::render::markdown(&summary)
    };
    let _ = out.write_all(text.as_bytes());
    let _ = writeln!(
        stderr,
        "faultline: summaries in {} and {}",
        opts.output.join(reproduce::SUMMARY_MD).display(),
        opts.output.join(reproduce::SUMMARY_JSON).display()
    );
    if summary.claims.iter().any(|c| c.outcome == Outcome::Fails) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
