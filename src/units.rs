//! Unit newtypes, so that a count of pages is never added to a count of bytes.

use std::fmt;

/// A duration or a CLOCK_MONOTONIC instant in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nanos(pub u64);

impl Nanos {
    /// The value in seconds, for display.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Converts a kernel `kB` figure, which is KiB, into bytes.
    pub fn from_kib(kib: u64) -> Self {
        Bytes(kib * 1024)
    }

    /// The size in KiB, rounded down (the unit `/proc` calls `kB`).
    pub fn kib(self) -> u64 {
        self.0 / 1024
    }
}

/// A count of 4 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pages(pub u64);

impl Pages {
    /// The size of this many 4 KiB pages.
    pub fn bytes(self) -> Bytes {
        Bytes(self.0 * 4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_display_keeps_nine_digits() {
        assert_eq!(Nanos(84_071_346_947).to_string(), "84.071346947");
        assert_eq!(Nanos(5).to_string(), "0.000000005");
    }

    #[test]
    fn kib_is_1024_bytes() {
        assert_eq!(Bytes::from_kib(131_364).0, 134_516_736);
        assert_eq!(Pages(3).bytes().kib(), 12);
    }
}
