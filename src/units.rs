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

/// Parses a duration: a number with `ns`, `us`, `ms`, `s` or `m` (`20ms`, `1.5s`, `2m`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 20ms, 1s, 2m)"))?;
    let secs = match unit.trim() {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (use ms, s or m)")),
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
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

impl Bytes {
    /// Parses a size: a number with an optional binary suffix `k`, `m`, `g`, `t`
    /// (KiB, MiB, GiB, TiB; case-insensitive, `kb`/`kib` also accepted): `4k`, `2M`,
    /// `64GiB`, `4096`.
    pub fn parse(s: &str) -> Result<Bytes, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, suffix) = t.split_at(digits);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size (examples: 4096, 4k, 2m, 64g, 1t)"))?;
        let shift = match suffix.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            other => {
                return Err(format!(
                    "{s:?}: unknown size suffix {other:?} (use k, m, g or t)"
                ));
            }
        };
        n.checked_mul(1u64 << shift)
            .map(Bytes)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

const BINARY_UNITS: [(&str, u64); 4] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

impl Bytes {
    /// One decimal in the largest fitting binary unit (`127.5 TiB`), for messages where
    /// the exact display would say `130560 GiB`.
    pub fn human(self) -> String {
        for (name, size) in BINARY_UNITS {
            if self.0 >= size {
                return format!("{:.1} {name}", self.0 as f64 / size as f64);
            }
        }
        format!("{} B", self.0)
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, size) in BINARY_UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{} {name}", self.0 / size);
            }
        }
        write!(f, "{} B", self.0)
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
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(Bytes::parse("4k"), Ok(Bytes(4096)));
        assert_eq!(Bytes::parse("2M"), Ok(Bytes(2 << 20)));
        assert_eq!(Bytes::parse("64GiB"), Ok(Bytes(64 << 30)));
        assert_eq!(Bytes::parse("4096"), Ok(Bytes(4096)));
        assert!(Bytes::parse("4x").is_err());
        assert!(Bytes::parse("").is_err());
        assert!(Bytes::parse("99999999t").is_err());
        assert_eq!(Bytes(2 << 20).to_string(), "2 MiB");
        assert_eq!(Bytes(1000).to_string(), "1000 B");
    }

    #[test]
    fn kib_is_1024_bytes() {
        assert_eq!(Bytes::from_kib(131_364).0, 134_516_736);
        assert_eq!(Pages(3).bytes().kib(), 12);
    }
}
