//! Recording and analysing one run of an experiment through the record module.

use std::path::{Path, PathBuf};

use super::{ReproduceError, ReproduceOptions};
use crate::analyze::{Analysis, AnalyzeOptions};
use crate::record::runner::{self, HostFacts, RealSystem, RecordOptions};
use crate::record::state::{self, StateDir};
use crate::record::thp::ThpMode;
use crate::units::Bytes;
use crate::workloads::Workload;

/// One run to record: a workload, the THP mode pinned for it, and its memory cap.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    /// A label for the run directory and messages.
    pub label: String,
    /// The workload.
    pub workload: Workload,
    /// THP pinned for the run; `None` leaves the machine's setting.
    pub thp: Option<ThpMode>,
    /// The cgroup cap; the record module demands one for OOM-prone workloads. A capped
    /// run is expected to end in the OOM killer, so it is recorded system-wide: the
    /// victim's exit work runs partly on other tasks.
    pub mem_limit: Option<Bytes>,
}

impl Spec {
    /// A run with the machine's memory and THP as they are.
    pub fn new(label: &str, workload: Workload) -> Spec {
        Spec {
            label: label.into(),
            workload,
            thp: None,
            mem_limit: None,
        }
    }

    /// The same run with THP pinned.
    pub fn thp(mut self, mode: ThpMode) -> Spec {
        self.thp = Some(mode);
        self
    }

    /// The same run under a memory cap, recorded system-wide.
    pub fn capped(mut self, limit: Bytes) -> Spec {
        self.mem_limit = Some(limit);
        self
    }
}

/// A recorded and analysed run.
pub(super) struct Run {
    /// Its directory, relative to the output directory.
    pub dir: String,
    /// The analysis.
    pub analysis: Analysis,
    /// OOM kills in its cgroup.
    pub oom_kills: u64,
}

impl Run {
    /// The workload's weight in a top-level phase (`fault`, `exit`), its samples too.
    pub fn phase(&self, name: &str) -> (f64, u64) {
        let r = &self.analysis.report;
        let phases = r
            .processes
            .iter()
            .find(|p| p.workload)
            .map_or(&r.phases, |p| &p.phases);
        phases
            .get(name)
            .map_or((0.0, 0), |p| (p.weight as f64, p.samples))
    }
}

/// Where runs go, and what records them.
pub(super) struct Lab<'a> {
    output: PathBuf,
    force: bool,
    self_exe: PathBuf,
    host: HostFacts,
    progress: &'a (dyn Fn(&str) + Sync),
    count: usize,
}

impl<'a> Lab<'a> {
    /// A lab writing into the options' output directory.
    pub fn new(opts: &ReproduceOptions, progress: &'a (dyn Fn(&str) + Sync)) -> Self {
        Lab {
            output: opts.output.clone(),
            force: opts.force,
            self_exe: opts.self_exe.clone(),
            host: HostFacts::probe(),
            progress,
            count: 0,
        }
    }

    /// The kernel the runs ran on.
    pub fn kernel(&self) -> Option<String> {
        Some(self.host.kernel.clone()).filter(|k| !k.is_empty())
    }

    /// Records and analyses one run.
    pub fn run(&mut self, spec: &Spec) -> Result<Run, ReproduceError> {
        self.count += 1;
        let dir = format!("runs/{:02}-{}", self.count, spec.label);
        let record_err = |source| ReproduceError::Record {
            run: dir.clone(),
            source,
        };
        let mut opts = RecordOptions::new(
            crate::workloads::record_target(&spec.workload, words(&spec.workload)),
            self.output.join(&dir),
        );
        opts.force = self.force;
        opts.thp = spec.thp;
        opts.mem_limit = spec.mem_limit;
        if spec.mem_limit.is_some() {
            opts.scope = runner::Scope::SystemWide;
        }
        let plan = runner::plan(&opts, &self.host, &self.self_exe).map_err(record_err)?;
        (self.progress)(&format!("recording {dir}"));
        // The recorder reports from its sampler thread; the caller's progress may hold
        // a lock of the calling thread (the CLI's stderr), so only this thread reports.
        let state = StateDir::new(state::STATE_DIR);
        let outcome = runner::record(&opts, &self.host, &plan, &mut RealSystem, &state, &|_| {})
            .map_err(record_err)?;
        // A workload that refused to run (exit code 2) leaves a recording of nothing.
        if let Some(code) = outcome
            .manifest
            .exit
            .and_then(|e| e.code)
            .filter(|c| *c != 0)
        {
            return Err(ReproduceError::Workload { run: dir, code });
        }
        let analysis =
            analyze(&self.output.join(&dir)).map_err(|source| ReproduceError::Analyze {
                run: dir.clone(),
                source,
            })?;
        Ok(Run {
            dir,
            analysis,
            oom_kills: outcome.manifest.oom_kills,
        })
    }
}

fn analyze(dir: &Path) -> crate::Result<Analysis> {
    let opts = AnalyzeOptions {
        input: dir.to_path_buf(),
        ..AnalyzeOptions::default()
    };
    crate::analyze::analyze(&opts, &|_| {})
}

/// A workload's parameters as the words `faultline workload NAME` takes after its name
/// (sizes in bytes).
fn words(w: &Workload) -> Vec<String> {
    let pairs: Vec<(&str, Option<String>)> = match *w {
        Workload::ZeroPage { stride, span } => vec![
            // The command takes the two strides it knows by name.
            (
                "--stride",
                Some(match stride.0 {
                    4096 => "4k".to_string(),
                    0x20_0000 => "2m".to_string(),
                    other => other.to_string(),
                }),
            ),
            ("--span", Some(span.0.to_string())),
        ],
        Workload::BreadthFirst { faults, span } => vec![
            ("--faults", faults.map(|f| f.to_string())),
            ("--span", Some(span.0.to_string())),
        ],
        Workload::Madvise { advice, faults } => vec![
            ("--advice", Some(advice.as_str().to_string())),
            ("--faults", Some(faults.to_string())),
        ],
        Workload::MemoryHog { limit } => vec![("--limit", limit.map(|l| l.0.to_string()))],
        Workload::VmaFragment { cells, prefault } => {
            let mut v = vec!["--cells".to_string(), cells.to_string()];
            if prefault {
                v.push("--prefault".into());
            }
            return v;
        }
    };
    pairs
        .into_iter()
        .filter_map(|(flag, value)| Some([flag.to_string(), value?]))
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Advice;

    #[test]
    fn workloads_become_the_words_the_workload_command_takes() {
        let w = Workload::BreadthFirst {
            faults: None,
            span: Bytes(64 << 40),
        };
        assert_eq!(words(&w), ["--span", "70368744177664"]);
        let w = Workload::ZeroPage {
            stride: Bytes(2 << 20),
            span: Bytes(1 << 30),
        };
        assert_eq!(words(&w), ["--stride", "2m", "--span", "1073741824"]);
        let w = Workload::Madvise {
            advice: Advice::DontNeed,
            faults: 10,
        };
        assert_eq!(words(&w), ["--advice", "dontneed", "--faults", "10"]);
        let w = Workload::VmaFragment {
            cells: 5,
            prefault: true,
        };
        assert_eq!(words(&w), ["--cells", "5", "--prefault"]);
    }
}
