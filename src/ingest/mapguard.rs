//! A file truncated while it is memory-mapped raises SIGBUS on the next read past its
//! new end, which would kill faultline without a word. Each mapping is registered here
//! with a message naming its file; a SIGBUS handler that finds the faulting address in
//! a registered mapping prints that message and exits with status 2 (the status of
//! every other input error). A SIGBUS anywhere else gets the default action.
//!
//! Rust cannot unwind out of a signal handler, so the run ends there: nothing after the
//! fault is written, and output files (written through [`crate::outfile`]) keep their
//! previous contents.

use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// How many mappings can be guarded at once; an input that finds no free slot is read
/// into memory instead of mapped.
const SLOTS: usize = 64;

struct Slot {
    /// First byte of the mapping; 0 when the slot is free.
    start: AtomicUsize,
    len: AtomicUsize,
    /// The message, leaked so that the handler can always read it.
    msg: AtomicPtr<u8>,
    msg_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    msg: AtomicPtr::new(std::ptr::null_mut()),
    msg_len: AtomicUsize::new(0),
};

static GUARDED: [Slot; SLOTS] = [FREE; SLOTS];

/// A registered mapping; dropping it (before unmapping) frees its slot.
pub struct Guard {
    slot: usize,
}

/// Registers `len` bytes at `start` as the mapping of `path`. `None` when every slot
/// is taken: the caller should read the file instead.
pub fn register(start: *const u8, len: usize, path: &Path) -> Option<Guard> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install_handler);
    let text = format!(
        "faultline: {}: the file shrank while faultline was reading it (truncated or rewritten in place); stopped, nothing more was written. Run again once the file is complete.\n",
        crate::text::escape_controls(&path.display().to_string())
    );
    let msg: &'static mut [u8] = Box::leak(text.into_bytes().into_boxed_slice());
    for (i, slot) in GUARDED.iter().enumerate() {
        if slot
            .start
            .compare_exchange(0, usize::MAX, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            slot.msg_len.store(msg.len(), Ordering::SeqCst);
            slot.msg.store(msg.as_mut_ptr(), Ordering::SeqCst);
            slot.len.store(len, Ordering::SeqCst);
            slot.start.store(start as usize, Ordering::SeqCst);
            return Some(Guard { slot: i });
        }
    }
    None
}

impl Drop for Guard {
    fn drop(&mut self) {
        let slot = &GUARDED[self.slot];
        slot.len.store(0, Ordering::SeqCst);
        slot.start.store(0, Ordering::SeqCst);
    }
}

fn install_handler() {
    // SAFETY: a zeroed sigaction is a valid starting value; the handler has the
    // SA_SIGINFO signature, and installing it has no other precondition.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

/// Only atomics, `write` and `_exit`: all async-signal-safe.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; for SIGBUS
    // si_addr is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &GUARDED {
        let start = slot.start.load(Ordering::SeqCst);
        let len = slot.len.load(Ordering::SeqCst);
        if start != 0 && start != usize::MAX && addr >= start && addr - start < len {
            let msg = slot.msg.load(Ordering::SeqCst);
            let msg_len = slot.msg_len.load(Ordering::SeqCst);
            // SAFETY: msg points at msg_len leaked bytes that are never freed.
            unsafe {
                libc::write(2, msg as *const libc::c_void, msg_len);
                libc::_exit(2);
            }
        }
    }
    // Not one of our mappings: let the fault take its default course when the faulting
    // access is retried.
    // SAFETY: resetting a signal's disposition is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}
