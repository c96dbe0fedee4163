//! What must match before two recordings are compared: not only how they were sampled
//! (event, clock, frequency, kernel) but what was run. A zero-page run against a
//! VMA-fragmentation run, or 10k faults against 100k, "improves" by 98% without
//! anything having changed; such a comparison is refused unless forced.

use std::path::PathBuf;

use crate::analyze::Analysis;

/// One fact about a run that must be equal across all compared runs.
pub type Fact = (&'static str, String);

/// What a run ran and under which settings, from its manifest (via the report); a
/// plain `perf script` file has no manifest and says `unknown`, which only matches
/// other unknowns.
pub fn workload_facts(a: &Analysis) -> Vec<Fact> {
    let r = &a.report;
    let target = r.input.target.as_ref();
    let what = match target {
        Some(t) if t.get("workload").is_some() => {
            format!("workload {}", t["workload"].as_str().unwrap_or("?"))
        }
        Some(t) if t.get("command").is_some() => format!("command {}", t["command"]),
        _ => "unknown".into(),
    };
    let params = target
        .and_then(|t| t.get("params"))
        .map_or_else(|| "none".into(), |p| p.to_string());
    vec![("what ran", what), ("parameters", params)]
}

/// The machine settings a run was made under. They differ on purpose in an A/B of
/// settings (THP never against always), so a difference is noted, not refused.
pub fn setting_facts(a: &Analysis) -> Vec<Fact> {
    let settings = a.report.proc.settings.as_ref();
    let setting = |path: &[&str]| {
        let mut v = settings;
        for key in path {
            v = v.and_then(|v| v.get(*key));
        }
        match v {
            None | Some(serde_json::Value::Null) => "unknown".to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    };
    vec![
        ("THP mode", setting(&["thp", "enabled"])),
        ("memory limit (bytes)", setting(&["cgroup", "limit_bytes"])),
    ]
}

/// One line per setting that differs between the runs, naming both values.
pub fn setting_notes(paths: &[&PathBuf], runs: &[&Analysis]) -> Vec<String> {
    differences(paths, runs, setting_facts)
        .into_iter()
        .map(|d| d.replacen(": ", " differs: ", 1))
        .collect()
}

/// `what: <run> has <value>, <first run> has <value>` for every fact of a run that
/// differs from the first run's.
pub fn differences(
    paths: &[&PathBuf],
    runs: &[&Analysis],
    facts: impl Fn(&Analysis) -> Vec<Fact>,
) -> Vec<String> {
    let first = facts(runs[0]);
    let mut diffs = Vec::new();
    for (p, a) in paths.iter().zip(runs).skip(1) {
        for ((what, v0), (_, v)) in first.iter().zip(facts(a)) {
            if *v0 != v {
                diffs.push(format!(
                    "{what}: {} has {v}, {} has {v0}",
                    p.display(),
                    paths[0].display()
                ));
            }
        }
    }
    diffs
}
