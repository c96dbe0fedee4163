//! What `faultline record` plans for a capped run (issue 13, item 4): anything under a
//! memory cap can be OOM-killed, and an OOM victim's exit work runs after its
//! `sched_process_exit` and on other tasks, so such runs are recorded system-wide.

use std::ffi::OsString;
use std::path::Path;

use faultline::record::cgroup::{CgroupVersion, Controller};
use faultline::record::runner::{HostFacts, RecordOptions, Scope, Target, plan};
use faultline::units::Bytes;

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

fn system_wide(limit: Option<Bytes>, scope: Scope) -> bool {
    let command = Target::Command(vec![OsString::from("true")]);
    let mut o = RecordOptions::new(
        command,
        std::env::temp_dir().join("faultline-scope-never-created"),
    );
    o.mem_limit = limit;
    o.scope = scope;
    let p = plan(&o, &host(), Path::new("/x")).unwrap();
    let dash_a = p.perf_args.iter().any(|a| a == "-a");
    assert_eq!(p.system_wide, dash_a);
    p.system_wide
}

#[test]
fn a_capped_command_is_recorded_system_wide() {
    assert!(system_wide(Some(Bytes(64 << 20)), Scope::Auto));
    // Uncapped, a command cannot be OOM-killed by faultline's cap: per-process.
    assert!(!system_wide(None, Scope::Auto));
    // An explicit choice stands.
    assert!(!system_wide(Some(Bytes(64 << 20)), Scope::PerProcess));
}
