//! Output files written so that nothing already in their place is written through: the
//! bytes go to a new file (created with `O_EXCL`, which never follows a symlink) beside
//! the target, which is then renamed over the target's name. A symlink planted at the
//! name is replaced itself; its target is never opened. A failed write leaves the old
//! file as it was and removes the temporary one.
//!
//! A name that leads to something other than a file (`/dev/stdout`, `/dev/null`, a
//! FIFO) is written directly: it cannot be replaced, and writing to it overwrites no
//! file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// An output file being written; [`OutFile::commit`] puts it in place.
pub struct OutFile {
    path: PathBuf,
    /// The temporary file to rename, `None` when writing a device or FIFO directly.
    tmp: Option<PathBuf>,
    file: Option<io::BufWriter<File>>,
}

/// Distinguishes the temporary names of one process's output files.
static SERIAL: AtomicU64 = AtomicU64::new(0);

impl OutFile {
    /// Creates a temporary file beside `path`.
    pub fn create(path: &Path) -> Result<OutFile> {
        let io_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            let file = OpenOptions::new().write(true).open(path).map_err(io_err)?;
            return Ok(OutFile {
                path: path.to_path_buf(),
                tmp: None,
                file: Some(io::BufWriter::new(file)),
            });
        }
        let name = path
            .file_name()
            .ok_or_else(|| io_err(io::Error::other("not a file name")))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        loop {
            let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".faultline-{}-{serial}.tmp", std::process::id()));
            let tmp = dir.join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok(OutFile {
                        path: path.to_path_buf(),
                        tmp: Some(tmp),
                        file: Some(io::BufWriter::new(file)),
                    });
                }
                // Left by another process, or planted: never touch it, pick another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    /// Flushes the file and renames it over the final name.
    pub fn commit(mut self) -> Result<()> {
        let io_err = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| io_err(e.into_error()))?;
        let Some(tmp) = &self.tmp else {
            return Ok(());
        };
        file.sync_data().map_err(io_err)?;
        drop(file);
        std::fs::rename(tmp, &self.path).map_err(io_err)
    }

    /// The final path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let (Some(_), Some(tmp)) = (self.file.take(), &self.tmp) {
            // Not committed: the temporary file is ours, the final name untouched.
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes `bytes` to `path` through an [`OutFile`].
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OutFile::create(path)?;
    f.write_all(bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("faultline-outfile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.join("report.json");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        write(&out, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{}");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn devices_are_written_directly() {
        write(Path::new("/dev/null"), b"gone").unwrap();
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_one() {
        let dir = scratch("uncommitted");
        let out = dir.join("a.svg");
        std::fs::write(&out, "old").unwrap();
        let mut f = OutFile::create(&out).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }
}
