//! Small system facts and calls shared by every layer: the monotonic clock that perf's
//! `-k mono` uses, the effective uid, and the stop-signal flag.

use std::sync::atomic::{AtomicI32, Ordering};

/// CLOCK_MONOTONIC in nanoseconds, the clock of `perf record -k mono`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The stop signal last caught by [`catch_stop_signals`], 0 if none.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
}

/// The signals that ask a run to stop: Ctrl-C, `kill`/`timeout`, a closed terminal, Ctrl-\.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Catches the stop signals in this process so that cleanup runs instead of dying. A
/// handler, unlike SIG_IGN, is reset by exec in children, so perf and the workload still
/// get their default behaviour.
pub fn catch_stop_signals() {
    for sig in STOP_SIGNALS {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_stop_signal as *const () as libc::sighandler_t);
        }
    }
}

/// The stop signal caught so far, if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// [`catch_stop_signals`] without `SA_RESTART`: a blocking call such as `waitpid` returns
/// `EINTR` when a stop signal arrives, so the caller can act on it at once.
pub fn catch_stop_signals_interrupting() {
    for sig in STOP_SIGNALS {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic
        // (async-signal-safe) and an empty mask; the old action is not needed.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}
