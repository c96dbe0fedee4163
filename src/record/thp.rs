//! Setting the transparent huge page mode for a run and putting it back afterwards,
//! also when the run fails or is interrupted.

use std::fs;
use std::path::{Path, PathBuf};

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

/// Restores the previous THP mode when dropped.
#[derive(Debug)]
pub struct ThpGuard {
    file: PathBuf,
    previous: String,
}

impl ThpGuard {
    /// Sets `mode`, remembering the current one.
    pub fn set(mode: ThpMode) -> std::io::Result<ThpGuard> {
        Self::set_in(Path::new(THP_ENABLED), mode)
    }

    /// Sets `mode` in a given `enabled` file (tests use a scratch file).
    pub fn set_in(file: &Path, mode: ThpMode) -> std::io::Result<ThpGuard> {
        let text = fs::read_to_string(file)?;
        let previous = crate::procfs::parse_bracketed(&text)
            .ok_or_else(|| std::io::Error::other(format!("unexpected contents {text:?}")))?;
        fs::write(file, mode.as_str())?;
        Ok(ThpGuard {
            file: file.to_path_buf(),
            previous,
        })
    }

    /// The mode in force before.
    pub fn previous(&self) -> &str {
        &self.previous
    }
}

impl Drop for ThpGuard {
    fn drop(&mut self) {
        if let Err(e) = fs::write(&self.file, &self.previous) {
            eprintln!(
                "faultline: could not restore {} to {:?}: {e}",
                self.file.display(),
                self.previous
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_restores_on_drop() {
        // A plain file stands in for sysfs: writing "never" replaces the text, and the
        // guard writes back the bracketed word it read.
        let f = std::env::temp_dir().join(format!("faultline-thp-{}", std::process::id()));
        fs::write(&f, "always [madvise] never\n").unwrap();
        {
            let g = ThpGuard::set_in(&f, ThpMode::Never).unwrap();
            assert_eq!(g.previous(), "madvise");
            assert_eq!(fs::read_to_string(&f).unwrap(), "never");
        }
        assert_eq!(fs::read_to_string(&f).unwrap(), "madvise");
        fs::remove_file(&f).unwrap();
    }
}
