//! The transparent huge page modes a run can set. The runner sets and restores the mode
//! through [`crate::record::system::System`], writing the previous one to the state file
//! first, so it is put back also when the run fails, is interrupted or is killed.

/// The `enabled` file of THP.
pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// A THP mode, as `enabled` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThpMode {
    /// THP for every anonymous mapping.
    Always,
    /// THP only where `madvise(MADV_HUGEPAGE)` asks.
    Madvise,
    /// No THP.
    Never,
}

impl ThpMode {
    /// The word the kernel uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ThpMode::Always => "always",
            ThpMode::Madvise => "madvise",
            ThpMode::Never => "never",
        }
    }

    /// Parses `always`, `madvise` or `never`.
    pub fn parse(s: &str) -> Option<ThpMode> {
        match s {
            "always" => Some(ThpMode::Always),
            "madvise" => Some(ThpMode::Madvise),
            "never" => Some(ThpMode::Never),
            _ => None,
        }
    }
}
