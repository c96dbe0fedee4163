//! The anonymous mapping every page-table workload reads through: the `mmap`/`munmap`
//! unsafe code in one place, unmapped on drop.

use std::io;

use super::{WorkloadError, invalid, proc_self};
use crate::units::Bytes;

/// An anonymous private mapping that is unmapped when dropped, so every exit path (errors
/// included) gives its page tables back and tests do not disturb each other.
pub(super) struct Mapping {
    addr: *mut u8,
    len: usize,
    /// Where the workload's reads start: `addr` rounded up to the requested alignment.
    pub(super) base: *mut u8,
}

impl Mapping {
    pub(super) fn new(
        workload: &'static str,
        len: u64,
        prot: libc::c_int,
    ) -> Result<Self, WorkloadError> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing aliases
        // nothing.
        let addr = unsafe { libc::mmap(std::ptr::null_mut(), len as usize, prot, flags, -1, 0) };
        if addr == libc::MAP_FAILED {
            let source = io::Error::last_os_error();
            // The usual cause for huge spans: the 128 TiB user space is split by the program's
            // own mappings (a PIE binary sits near 85 TiB), so no hole is big enough.
            let hole = proc_self::largest_free_range()
                .filter(|&h| h < len)
                .map(|h| {
                    format!(
                        "; the largest free range in this process's address space is {}, \
                         so use a smaller span",
                        Bytes(h).human()
                    )
                })
                .unwrap_or_default();
            return Err(WorkloadError::Sys {
                workload,
                call: format!("mmap of {} ({len} bytes{hole})", Bytes(len).human()),
                source,
            });
        }
        let addr = addr.cast::<u8>();
        Ok(Mapping {
            addr,
            len: len as usize,
            base: addr,
        })
    }

    /// Maps `span` rounded up to `align`, plus `align`, and starts at the first aligned
    /// address: then every `align`-sized region the reads touch lies wholly inside this
    /// mapping, so no table at that level or below is shared with other mappings.
    pub(super) fn aligned(
        workload: &'static str,
        span: Bytes,
        align: u64,
        prot: libc::c_int,
    ) -> Result<Self, WorkloadError> {
        let len = span
            .0
            .checked_next_multiple_of(align)
            .and_then(|l| l.checked_add(align))
            .ok_or_else(|| invalid(workload, format!("span {span} is too large")))?;
        let mut map = Mapping::new(workload, len, prot)?;
        let start = map.addr as u64;
        let skip = start.next_multiple_of(align) - start;
        // SAFETY: skip < align <= len - span, so base..base+span stays inside the mapping.
        map.base = unsafe { map.addr.add(skip as usize) };
        Ok(map)
    }

    pub(super) fn range(&self) -> (u64, u64) {
        (self.addr as u64, self.addr as u64 + self.len as u64)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: addr/len are exactly what mmap returned, and no references into the mapping
        // outlive it (workloads only use raw pointers).
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}
