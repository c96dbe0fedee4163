//! Getting input bytes: a memory map for files, a buffer for standard input.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, Result};

/// The bytes of one input and the name to use for it in messages.
pub struct Input {
    path: PathBuf,
    data: Data,
}

enum Data {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Input {
    /// Maps `path`, or reads standard input when `path` is `None` or `-`.
    pub fn open(path: Option<&Path>) -> Result<Input> {
        let path = match path {
            Some(p) if p != Path::new("-") => p,
            _ => return Self::stdin(),
        };
        let io_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if meta.is_dir() {
            return Err(Error::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        let data = if meta.is_file() && meta.len() > 0 {
            // SAFETY: the map is read-only and private to this process. If another
            // process truncates the file while we read it, accesses past the new end
            // raise SIGBUS; perf script output is written once and not modified
            // afterwards, which is the same assumption ripgrep makes for its inputs.
            Data::Mapped(unsafe { Mmap::map(&file) }.map_err(io_err)?)
        } else {
            // Pipes, FIFOs and /proc files report no length: read them.
            let mut buf = Vec::new();
            (&file).read_to_end(&mut buf).map_err(io_err)?;
            Data::Owned(buf)
        };
        let input = Input {
            path: path.to_path_buf(),
            data,
        };
        input.check_text()?;
        Ok(input)
    }

    fn stdin() -> Result<Input> {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|source| Error::Io {
                path: "<stdin>".into(),
                source,
            })?;
        let input = Input {
            path: "<stdin>".into(),
            data: Data::Owned(buf),
        };
        input.check_text()?;
        Ok(input)
    }

    /// Wraps bytes already in memory, for tests and library users.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Input> {
        let input = Input {
            path: name.into(),
            data: Data::Owned(bytes),
        };
        input.check_text()?;
        Ok(input)
    }

    /// The input's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Mapped(m) => m,
            Data::Owned(v) => v,
        }
    }

    /// The path for messages (`<stdin>` for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rejects perf.data files and other binary data, looking at the first 64 KiB.
    fn check_text(&self) -> Result<()> {
        let data = self.bytes();
        if data.starts_with(b"PERFILE2") || data.starts_with(b"PERFFILE") {
            return Err(Error::PerfData {
                path: self.path.clone(),
            });
        }
        let head = &data[..data.len().min(64 << 10)];
        if let Some(offset) = memchr::memchr(0, head) {
            let line = memchr::memchr_iter(b'\n', &head[..offset]).count() + 1;
            return Err(Error::Binary {
                path: self.path.clone(),
                offset,
                line,
            });
        }
        Ok(())
    }
}
