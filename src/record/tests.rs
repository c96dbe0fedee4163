//! The runner's logic on a fake machine ([`super::fake`]): plans and refusals, the
//! manifest, cleanup on every failure path, `--force`, the state file and recovery,
//! the THP lock. No root, no perf.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::fake::{Fake, Perf};
use super::plan::{
    COUNTED_FAULTS_EVENT, HostFacts, MARKERS, Plan, RecordOptions, Scope, Target, plan,
    resolve_command, staging_dir,
};
use super::run_dir::{FORMAT, RunDir};
use super::runner::{RecordError, record};
use super::state::{self, RunState, StateDir};
use super::thp::ThpMode;
use crate::procfs::CgroupVersion;
use crate::record::cgroup::Controller;
use crate::units::Bytes;

fn host() -> HostFacts {
    HostFacts {
        perf_version: Some("perf version 6.1".into()),
        is_root: true,
        perf_event_paranoid: Some(2),
        has_cpu_pmu: false,
        cgroup: Some(Controller {
            version: CgroupVersion::V1,
            root: "/sys/fs/cgroup/memory".into(),
        }),
        kernel: "6.18.0".into(),
    }
}

fn workload(oom_prone: bool) -> Target {
    Target::Workload {
        name: "breadth-first".into(),
        args: vec!["--faults".into(), "100".into()],
        oom_prone,
        params: json!({"faults": 100}),
        expected_faults: Some(100),
    }
}

fn opts(target: Target) -> RecordOptions {
    RecordOptions::new(target, "/nonexistent/faultline-run".into())
}

fn args(p: &Plan) -> Vec<String> {
    p.perf_args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A recording set-up on the fake machine: options, plan and state in `scratch`.
struct Setup {
    scratch: Scratch,
    opts: RecordOptions,
    state: StateDir,
}

impl Setup {
    fn new(name: &str, target: Target) -> Setup {
        let scratch = Scratch::new(name);
        let opts = RecordOptions::new(target, scratch.0.join("runs/run"));
        let state = StateDir::new(scratch.0.join("state"));
        Setup {
            scratch,
            opts,
            state,
        }
    }

    fn run(&self, fake: &mut Fake) -> Result<super::runner::RecordOutcome, RecordError> {
        let p = plan(&self.opts, &host(), Path::new("/bin/faultline"))?;
        record(&self.opts, &host(), &p, fake, &self.state, &|_| {})
    }

    fn fake(&self) -> Fake {
        Fake::new(self.state.path())
    }

    /// Everything left in the run directory's parent and the state directory.
    fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for dir in [self.scratch.0.join("runs"), self.state.path().to_path_buf()] {
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd {
                    out.push(e.unwrap().file_name().to_string_lossy().into_owned());
                }
            }
        }
        out.retain(|n| n != "thp.lock");
        out.sort();
        out
    }
}

/// The machine is as it was: THP back, no cgroup, no state file, no staging directory.
fn assert_given_back(s: &Setup, fake: &Fake, run_kept: bool) {
    assert_eq!(fake.thp, "madvise", "THP restored: {:?}", fake.log);
    assert!(fake.cgroups.is_empty(), "cgroups removed: {:?}", fake.log);
    let expected: Vec<String> = if run_kept { vec!["run".into()] } else { vec![] };
    assert_eq!(s.leftovers(), expected);
}

#[test]
fn default_plan_samples_cpu_clock_with_markers_per_process() {
    let p = plan(&opts(workload(false)), &host(), Path::new("/bin/faultline")).unwrap();
    assert_eq!(p.event, "cpu-clock");
    assert!(p.hrtimer);
    assert!(!p.system_wide);
    let a = args(&p);
    assert_eq!(
        &a[..8],
        ["record", "-k", "mono", "-g", "-F", "999", "-e", "cpu-clock"]
    );
    for m in MARKERS {
        assert!(a.iter().any(|x| x == m), "{m}");
    }
    assert!(a.iter().any(|x| x == COUNTED_FAULTS_EVENT));
    assert!(!a.contains(&"-a".to_string()));
    let staging = staging_dir(Path::new("/nonexistent/faultline-run"));
    assert_eq!(
        staging,
        Path::new(&format!(
            "/nonexistent/.faultline-run.faultline-{}",
            std::process::id()
        ))
    );
    let tail: Vec<&str> = a
        .iter()
        .skip_while(|x| *x != "--")
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "--",
            "/bin/faultline",
            "exec",
            "--run-dir",
            staging.to_str().unwrap(),
            "--tail-ms",
            "1000",
            "--",
            "/bin/faultline",
            "workload",
            "breadth-first",
            "--faults",
            "100"
        ]
    );
}

#[test]
fn cycles_where_a_pmu_exists() {
    let h = HostFacts {
        has_cpu_pmu: true,
        ..host()
    };
    let p = plan(&opts(workload(false)), &h, Path::new("/x")).unwrap();
    assert_eq!(p.event, "cycles");
    assert!(!p.hrtimer);
}

/// Anything under a memory cap can be OOM-killed, and an OOM victim's exit work runs
/// after its `sched_process_exit` and on other tasks: a capped command is recorded
/// system-wide too (issue 13, item 4).
#[test]
fn a_capped_command_is_recorded_system_wide() {
    let system_wide = |limit: Option<Bytes>, scope: Scope| {
        let mut o = opts(Target::Command(vec![OsString::from("true")]));
        o.mem_limit = limit;
        o.scope = scope;
        let p = plan(&o, &host(), Path::new("/x")).unwrap();
        assert_eq!(p.system_wide, args(&p).contains(&"-a".to_string()));
        p.system_wide
    };
    assert!(system_wide(Some(Bytes(64 << 20)), Scope::Auto));
    // Uncapped, nothing of faultline's can OOM-kill it: per-process.
    assert!(!system_wide(None, Scope::Auto));
    // An explicit choice stands.
    assert!(!system_wide(Some(Bytes(64 << 20)), Scope::PerProcess));
}

#[test]
fn oom_prone_workloads_need_a_cap_and_record_system_wide() {
    let e = plan(&opts(workload(true)), &host(), Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("--mem-limit"), "{e}");
    let mut o = opts(workload(true));
    o.mem_limit = Some(Bytes(256 << 20));
    let p = plan(&o, &host(), Path::new("/x")).unwrap();
    assert!(p.system_wide);
    assert!(args(&p).contains(&"-a".to_string()));
    let cg = p.cgroup.clone().unwrap();
    assert!(
        cg.to_string_lossy()
            .starts_with("/sys/fs/cgroup/memory/faultline-"),
        "{cg:?}"
    );
    let a = args(&p);
    let i = a.iter().position(|x| x == "--cgroup").unwrap();
    assert_eq!(Path::new(&a[i + 1]), cg);
}

/// Issue 12 item 11: the user's words are passed as given, `{cgroup}` included.
#[test]
fn a_literal_cgroup_placeholder_in_the_command_is_left_alone() {
    let mut o = opts(Target::Command(vec![
        "echo".into(),
        "{cgroup}".into(),
        "x{cgroup}y".into(),
    ]));
    o.mem_limit = Some(Bytes(1 << 30));
    let p = plan(&o, &host(), Path::new("/x")).unwrap();
    let a = args(&p);
    assert_eq!(&a[a.len() - 3..], ["echo", "{cgroup}", "x{cgroup}y"]);
    assert_eq!(a.iter().filter(|x| x.contains("{cgroup}")).count(), 2);
}

#[test]
fn refusals_name_the_fix() {
    let no_perf = HostFacts {
        perf_version: None,
        ..host()
    };
    let e = plan(&opts(workload(false)), &no_perf, Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("linux-perf"), "{e}");

    let user = HostFacts {
        is_root: false,
        ..host()
    };
    let e = plan(&opts(workload(false)), &user, Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("kernel.perf_event_paranoid"), "{e}");

    let mut o = opts(workload(false));
    o.thp = Some(ThpMode::Never);
    let user_ok = HostFacts {
        is_root: false,
        perf_event_paranoid: Some(-1),
        ..host()
    };
    let e = plan(&o, &user_ok, Path::new("/x")).unwrap_err();
    assert!(
        e.to_string().contains("--thp") && e.to_string().contains("needs root"),
        "{e}"
    );

    let mut o = opts(workload(false));
    o.mem_limit = Some(Bytes(1 << 30));
    let e = plan(&o, &user_ok, Path::new("/x")).unwrap_err();
    assert!(
        e.to_string()
            .contains("--mem-limit (a memory cgroup) needs root"),
        "{e}"
    );
    let no_cg = HostFacts {
        cgroup: None,
        ..host()
    };
    let e = plan(&o, &no_cg, Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("memory cgroup controller"), "{e}");

    let o = opts(Target::Command(vec!["no-such-command-faultline".into()]));
    let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
    assert!(
        e.to_string()
            .contains("command not found: no-such-command-faultline"),
        "{e}"
    );
    let e = plan(&opts(Target::Command(vec![])), &host(), Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("nothing to run"), "{e}");
}

/// Issue 12 item 1: a directory with a manifest.json that faultline did not write, or a
/// run with files faultline did not write, is never replaced.
#[test]
fn force_replaces_only_a_faultline_run_holding_only_its_own_files() {
    let s = Scratch::new("force");
    let dir = s.0.join("project");
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(
        dir.join("manifest.json"),
        r#"{"name":"app","version":"1.0.0"}"#,
    )
    .unwrap();
    fs::write(dir.join("src/app.js"), "x").unwrap();
    fs::write(dir.join("README.md"), "x").unwrap();
    let mut o = RecordOptions::new(workload(false), dir.clone());
    let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    o.force = true;
    let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("refusing to delete"), "{e}");
    assert!(dir.join("src/app.js").is_file() && dir.join("README.md").is_file());

    // A previous run (an old manifest, without the marker) is replaceable...
    let run = s.0.join("run");
    copy_fixture_run(&run);
    o.run_dir = run.clone();
    assert!(plan(&o, &host(), Path::new("/x")).is_ok());
    // ...unless someone put their own file in it.
    fs::write(run.join("notes.txt"), "mine").unwrap();
    let e = plan(&o, &host(), Path::new("/x")).unwrap_err();
    assert!(e.to_string().contains("notes.txt"), "{e}");
    // An empty directory is fine.
    let empty = s.0.join("empty");
    fs::create_dir(&empty).unwrap();
    o.run_dir = empty;
    assert!(plan(&o, &host(), Path::new("/x")).is_ok());
}

fn copy_fixture_run(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runs/breadth-first-10k");
    fs::create_dir_all(to.join("proc")).unwrap();
    for f in ["manifest.json", "workload.json", "workload.exit.json"] {
        fs::copy(from.join(f), to.join(f)).unwrap();
    }
    fs::copy(
        from.join("proc/timeline.jsonl"),
        to.join("proc/timeline.jsonl"),
    )
    .unwrap();
}

#[test]
fn commands_resolve_along_path() {
    assert!(resolve_command(OsStr::new("sh")).is_some());
    assert!(resolve_command(OsStr::new("/bin/sh")).is_some());
    assert!(resolve_command(OsStr::new("/bin/no-such-thing")).is_none());
}

#[test]
fn a_recording_writes_a_typed_manifest_and_gives_the_machine_back() {
    let mut s = Setup::new("rec-ok", workload(false));
    s.opts.thp = Some(ThpMode::Never);
    s.opts.mem_limit = Some(Bytes(256 << 20));
    s.opts.script = true;
    let mut fake = s.fake();
    fake.oom_kills = 1;
    let out = s.run(&mut fake).unwrap();
    let m = &out.manifest;
    assert_eq!(m.format.as_deref(), Some(FORMAT));
    assert_eq!(m.target.workload.as_deref(), Some("breadth-first"));
    assert_eq!(m.target.params, Some(json!({"faults": 100})));
    assert_eq!(m.event, "cpu-clock");
    // Capped, so it can be OOM-killed: recorded system-wide (issue 13, item 4).
    assert!(m.hrtimer && m.system_wide && !m.interrupted);
    assert_eq!(m.thp.as_ref().unwrap().enabled, "never");
    assert_eq!(m.thp_before.as_ref().unwrap().enabled, "madvise");
    let cg = m.cgroup.unwrap();
    assert_eq!(
        (cg.version, cg.limit_bytes, cg.peak_usage_bytes),
        (CgroupVersion::V1, Some(256 << 20), Some(1 << 20))
    );
    assert_eq!(m.oom_kills, 1);
    assert_eq!(m.exit.unwrap().pid, 4242);
    assert_eq!(m.perf_status, Some(0));
    assert_eq!(m.proc_snapshots, 3);
    // Counted from perf.data (the fake's is fixtures/perf-data/pd.data), not perf.script.
    assert_eq!(m.samples["cpu-clock"], 30);
    assert_eq!(m.samples["sched:sched_process_exit"], 3);
    assert!(RunDir::new(&s.opts.run_dir).perf_script().is_file());
    // On disk, as read back through the contract.
    let run = RunDir::new(&s.opts.run_dir);
    assert_eq!(run.read_manifest().unwrap().as_ref(), Some(m));
    assert!(run.is_faultline_run());
    assert_given_back(&s, &fake, true);
    // Each change was written to the state file before it was made.
    let thp = fake
        .log
        .iter()
        .find(|l| l.starts_with("thp never"))
        .unwrap();
    assert!(thp.contains("\"thp_previous\":\"madvise\""), "{thp}");
    let cg = fake
        .log
        .iter()
        .find(|l| l.starts_with("cgroup create"))
        .unwrap();
    assert!(
        cg.contains("\"cgroups\":[\"/sys/fs/cgroup/memory/faultline-"),
        "{cg}"
    );
    // And undone before perf script ran.
    let pos = |p: &str| fake.log.iter().position(|l| l.starts_with(p)).unwrap();
    assert!(pos("cgroup remove") < pos("perf script"));
    assert!(pos("thp madvise") < pos("perf script"));
}

#[test]
fn perf_script_runs_only_on_request() {
    let s = Setup::new("rec-noscript", workload(false));
    let mut fake = s.fake();
    let m = s.run(&mut fake).unwrap().manifest;
    assert!(!fake.log.iter().any(|l| l.starts_with("perf script")));
    let run = RunDir::new(&s.opts.run_dir);
    assert!(run.perf_data().is_file() && !run.perf_script().exists());
    assert_eq!(m.samples["cpu-clock"], 30);
}

#[test]
fn cleanup_when_perf_cannot_start() {
    let mut s = Setup::new("rec-nostart", workload(false));
    s.opts.thp = Some(ThpMode::Always);
    s.opts.mem_limit = Some(Bytes(1 << 30));
    let mut fake = s.fake();
    fake.perf = Perf::FailsToStart;
    let e = s.run(&mut fake).unwrap_err();
    assert!(e.to_string().starts_with("perf:"), "{e}");
    assert_given_back(&s, &fake, false);
}

#[test]
fn cleanup_when_perf_fails_without_data() {
    let mut s = Setup::new("rec-perf129", workload(false));
    s.opts.thp = Some(ThpMode::Always);
    s.opts.mem_limit = Some(Bytes(1 << 30));
    let mut fake = s.fake();
    fake.perf = Perf::FailsWith(129);
    let e = s.run(&mut fake).unwrap_err();
    assert!(
        e.to_string()
            .contains("perf record failed (exit status: 129)"),
        "{e}"
    );
    assert_given_back(&s, &fake, false);
}

#[test]
fn cleanup_when_perf_script_fails() {
    let mut s = Setup::new("rec-script", workload(false));
    s.opts.mem_limit = Some(Bytes(1 << 30));
    s.opts.script = true;
    let mut fake = s.fake();
    fake.perf = Perf::ScriptFails;
    let e = s.run(&mut fake).unwrap_err();
    assert!(e.to_string().contains("perf script failed"), "{e}");
    assert_given_back(&s, &fake, false);
}

#[test]
fn cleanup_when_the_cgroup_cannot_be_created() {
    let mut s = Setup::new("rec-cgfail", workload(false));
    s.opts.thp = Some(ThpMode::Never);
    s.opts.mem_limit = Some(Bytes(1 << 30));
    let mut fake = s.fake();
    fake.cgroup_fails = true;
    let e = s.run(&mut fake).unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    assert!(!fake.log.iter().any(|l| l.starts_with("perf")));
    assert_given_back(&s, &fake, false);
}

#[test]
fn an_interrupted_recording_is_kept_and_says_so() {
    let mut s = Setup::new("rec-int", workload(false));
    s.opts.thp = Some(ThpMode::Never);
    s.opts.mem_limit = Some(Bytes(1 << 30));
    let mut fake = s.fake();
    fake.signal_during_perf = Some(libc::SIGTERM);
    let out = s.run(&mut fake).unwrap();
    assert!(out.interrupted);
    let m = RunDir::new(&s.opts.run_dir)
        .read_manifest()
        .unwrap()
        .unwrap();
    assert!(m.interrupted);
    assert_eq!(m.stop_signal, Some(libc::SIGTERM));
    assert_given_back(&s, &fake, true);
}

/// Issue 12 item 2: the previous run survives a failed `--force` recording, and is
/// replaced by a successful one.
#[test]
fn force_replaces_the_previous_run_only_on_success() {
    let mut s = Setup::new("rec-force", workload(false));
    copy_fixture_run(&s.opts.run_dir);
    s.opts.force = true;
    s.opts.event = Some("no-such-event".into());
    let mut fake = s.fake();
    fake.perf = Perf::FailsWith(129);
    let e = s.run(&mut fake).unwrap_err();
    assert!(e.to_string().contains("129"), "{e}");
    let old = RunDir::new(&s.opts.run_dir)
        .read_manifest()
        .unwrap()
        .unwrap();
    assert_eq!(old.format, None, "the previous run is intact");
    assert_eq!(s.leftovers(), ["run"]);

    let mut fake = s.fake();
    s.run(&mut fake).unwrap();
    let new = RunDir::new(&s.opts.run_dir)
        .read_manifest()
        .unwrap()
        .unwrap();
    assert_eq!(new.format.as_deref(), Some(FORMAT));
    assert!(
        !s.opts.run_dir.join("workload.json").exists(),
        "old files gone"
    );
    assert_eq!(s.leftovers(), ["run"]);
}

/// Issue 12 item 3: after a run died outright, the next invocation undoes its changes.
#[test]
fn recovery_undoes_what_a_dead_run_left_and_spares_live_ones() {
    let s = Scratch::new("recover");
    let dir = StateDir::new(s.0.join("state"));
    let staging = s.0.join(".run.faultline-999999");
    fs::create_dir_all(staging.join("proc")).unwrap();
    fs::write(staging.join("perf.data"), "x").unwrap();
    let dead = RunState {
        pid: 999_999,
        start_ticks: Some(1),
        thp_previous: Some("madvise".into()),
        cgroups: vec!["/sys/fs/cgroup/memory/faultline-999999-1".into()],
        staging: Some(staging.clone()),
    };
    let mut f = dir.file_for(dead.pid, dead.start_ticks);
    f.state = dead.clone();
    f.save().unwrap();
    let mut live = dir.file_for(1234, Some(5));
    live.state.thp_previous = Some("never".into());
    live.save().unwrap();

    let mut fake = Fake::new(dir.path());
    fake.thp = "always".into();
    fake.cgroups.insert(dead.cgroups[0].clone());
    fake.alive.insert(1234);
    assert_eq!(
        state::stale(&dir, &fake),
        [999_999],
        "only the dead run is stale"
    );
    let said = state::recover(&dir, &mut fake);
    assert_eq!(fake.thp, "madvise", "{said:?}");
    assert!(fake.cgroups.is_empty());
    assert!(!staging.exists());
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(said[0].contains("removed its cgroup /sys/fs/cgroup/memory/faultline-999999-1"));
    assert!(said[1].contains("restored THP enabled to madvise"));
    assert!(
        said[2].contains("removed its unfinished recording"),
        "{said:?}"
    );
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.contains(&OsString::from("run-1234.json")), "{left:?}");
    assert!(
        !left.contains(&OsString::from("run-999999.json")),
        "{left:?}"
    );
    // Nothing more to do the second time.
    assert!(state::recover(&dir, &mut fake).is_empty());
}

/// Issue 12 item 3: a stale THP change is not undone under a live run that holds the
/// THP lock; it is undone once the lock is free.
#[test]
fn recovery_waits_for_the_thp_lock() {
    let s = Scratch::new("recover-lock");
    let dir = StateDir::new(s.0.join("state"));
    let mut f = dir.file_for(999_998, None);
    f.state.thp_previous = Some("never".into());
    f.save().unwrap();
    let mut fake = Fake::new(dir.path());
    let held = dir.lock(true, true, &|_| {}).unwrap();
    let said = state::recover(&dir, &mut fake);
    assert_eq!(fake.thp, "madvise");
    assert!(said[0].contains("holds the THP lock"), "{said:?}");
    drop(held);
    let said = state::recover(&dir, &mut fake);
    assert_eq!(fake.thp, "never", "{said:?}");
}

/// Issue 12 item 4: runs that change THP are serialised; `--no-wait` refuses.
#[test]
fn the_thp_lock_serialises_runs_that_change_thp() {
    let s = Scratch::new("lock");
    let dir = StateDir::new(&s.0);
    let a = dir.lock(true, true, &|_| {}).unwrap();
    let e = dir.lock(true, true, &|_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("(pid {})", std::process::id())),
        "{e}"
    );
    // A run that leaves THP alone still may not overlap one that changes it.
    assert!(matches!(
        dir.lock(false, true, &|_| {}),
        Err(RecordError::Busy { .. })
    ));
    drop(a);
    let b = dir.lock(false, true, &|_| {}).unwrap();
    let c = dir.lock(false, true, &|_| {}).unwrap();
    assert!(dir.lock(true, true, &|_| {}).is_err());
    drop((b, c));
    // Waiting: the waiter is told, then gets the lock once it is free.
    let held = dir.lock(true, true, &|_| {}).unwrap();
    let told = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            dir.lock(true, false, &|_| {
                told.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .map(|_| ())
        });
        while !told.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(held);
        waiter.join().unwrap().unwrap();
    });
}

#[test]
fn a_second_thp_run_with_no_wait_is_refused_before_touching_anything() {
    let mut s = Setup::new("rec-busy", workload(false));
    s.opts.thp = Some(ThpMode::Never);
    s.opts.no_wait = true;
    let _held = s.state.lock(true, true, &|_| {}).unwrap();
    let mut fake = s.fake();
    let e = s.run(&mut fake).unwrap_err();
    assert!(e.to_string().contains("--no-wait"), "{e}");
    assert!(fake.log.is_empty(), "{:?}", fake.log);
    assert_given_back(&s, &fake, false);
}
