//! Getting input bytes: a memory map for files, a buffer for pipes, and for standard
//! input a buffer of its first bytes, then a stream read in bounded chunks
//! ([`Input::stream`]) so that memory does not grow with the input.
//! Devices and sockets are refused (`/dev/zero` would be read forever); a mapped file
//! that shrinks while it is read stops faultline with a message
//! ([`super::mapguard`]); one that grows or is rewritten is reported afterwards by
//! [`Input::changed`].

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::io::{Read, Stdin};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use memmap2::Mmap;

use crate::error::{Error, Result};

/// The bytes of one input and the name to use for it in messages.
pub struct Input {
    path: PathBuf,
    data: Data,
    /// The open file with its size and modification time when it was read, for
    /// [`Input::changed`].
    file: Option<(File, u64, Option<SystemTime>)>,
}

enum Data {
    /// The guard is dropped (its slot freed) before the map is unmapped.
    Mapped {
        _guard: super::mapguard::Guard,
        map: Mmap,
    },
    Owned(Vec<u8>),
    /// Standard input longer than [`STDIN_HEAD`]: its first bytes, and the rest unread.
    Stream {
        head: Vec<u8>,
        rest: RefCell<Option<Stdin>>,
    },
}

/// How much of standard input is read before deciding whether to stream it: smaller
/// inputs are held whole, like pipes.
const STDIN_HEAD: usize = 1 << 20;

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
        check_kind(path, &meta)?;
        let data = if meta.is_file() && meta.len() > 0 {
            map(&file, path).map_err(io_err)?
        } else {
            // Pipes, FIFOs and /proc files report no length: read them.
            let mut buf = Vec::new();
            (&file).read_to_end(&mut buf).map_err(io_err)?;
            Data::Owned(buf)
        };
        let stamp = (meta.len(), meta.modified().ok());
        let input = Input {
            path: path.to_path_buf(),
            data,
            file: meta.is_file().then_some((file, stamp.0, stamp.1)),
        };
        input.check_text()?;
        Ok(input)
    }

    /// Whether the file changed while it was read: it grew, or was rewritten in place
    /// (a shrink stops faultline first, see [`super::mapguard`]). The message says what
    /// the output covers.
    pub fn changed(&self) -> Option<String> {
        let (file, len, modified) = self.file.as_ref()?;
        let now = file.metadata().ok()?;
        if now.len() == *len && now.modified().ok() == *modified {
            return None;
        }
        Some(format!(
            "{}: the file changed while faultline read it (was {len} bytes, now {}); the output covers the first {} bytes as they were read",
            self.path.display(),
            now.len(),
            self.bytes().len()
        ))
    }

    fn stdin() -> Result<Input> {
        let io_err = |source| Error::Io {
            path: "<stdin>".into(),
            source,
        };
        let mut head = Vec::with_capacity(STDIN_HEAD);
        let stdin = std::io::stdin();
        let got = (&stdin)
            .take(STDIN_HEAD as u64)
            .read_to_end(&mut head)
            .map_err(io_err)?;
        let data = if got < STDIN_HEAD {
            Data::Owned(head)
        } else if crate::ingest::perf_data::is_perf_data(&head) {
            // perf.data is read by offsets, not front to back: it needs all of itself.
            (&stdin).read_to_end(&mut head).map_err(io_err)?;
            Data::Owned(head)
        } else {
            Data::Stream {
                head,
                rest: RefCell::new(Some(stdin)),
            }
        };
        let input = Input {
            path: "<stdin>".into(),
            data,
            file: None,
        };
        input.check_text()?;
        Ok(input)
    }

    /// Wraps bytes already in memory, for tests and library users.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Input> {
        let input = Input {
            path: name.into(),
            data: Data::Owned(bytes),
            file: None,
        };
        input.check_text()?;
        Ok(input)
    }

    /// The input's bytes; for a streamed standard input ([`Input::stream`]), only the
    /// first bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Mapped { map, .. } => map,
            Data::Owned(v) => v,
            Data::Stream { head, .. } => head,
        }
    }

    /// For standard input too long to hold, a reader of all of it (the bytes of
    /// [`Input::bytes`] first), checked as text chunk by chunk; once only.
    pub fn stream(&self) -> Option<TextStream<'_>> {
        let Data::Stream { head, rest } = &self.data else {
            return None;
        };
        let rest = rest.borrow_mut().take()?;
        Some(TextStream {
            path: &self.path,
            head: Some(head),
            rest,
            offset: 0,
            lines: 0,
        })
    }

    /// Drops the input on a thread of its own, so that unmapping a large file (a page
    /// table entry per 4 KiB) overlaps the caller's work; join the handle before exiting.
    /// Dropped here, with no handle, when no thread can be started.
    pub fn release_in_background(self) -> Option<std::thread::JoinHandle<()>> {
        // On failure the closure, and the input with it, is dropped on this thread.
        std::thread::Builder::new()
            .name("release-input".into())
            .spawn(move || drop(self))
            .ok()
    }

    /// The path for messages (`<stdin>` for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the input is a perf.data file rather than text.
    pub fn is_perf_data(&self) -> bool {
        crate::ingest::perf_data::is_perf_data(self.bytes())
    }

    /// Rejects binary data other than perf.data files: a NUL anywhere (a NUL in a frame
    /// name would reach SVG and XML outputs, where no escape can represent it).
    fn check_text(&self) -> Result<()> {
        let data = self.bytes();
        if self.is_perf_data() {
            return Ok(());
        }
        if data.starts_with(b"PERFFILE") {
            return Err(Error::PerfData {
                path: self.path.clone(),
            });
        }
        if let Some(offset) = first_nul(data) {
            let line = memchr::memchr_iter(b'\n', &data[..offset]).count() + 1;
            return Err(Error::Binary {
                path: self.path.clone(),
                offset,
                line,
            });
        }
        Ok(())
    }
}

/// The offset of the first NUL byte. Large inputs are scanned on all cores: the scan
/// also brings a mapped file's pages in, which is the slower part.
fn first_nul(data: &[u8]) -> Option<usize> {
    const MIN_PART: usize = 16 << 20;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let part = data.len().div_ceil(threads).max(MIN_PART);
    if part >= data.len() {
        return memchr::memchr(0, data);
    }
    std::thread::scope(|scope| {
        let scans: Vec<_> = data
            .chunks(part)
            .enumerate()
            .map(|(i, chunk)| scope.spawn(move || memchr::memchr(0, chunk).map(|p| i * part + p)))
            .collect();
        scans
            .into_iter()
            .filter_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .min()
    })
}

/// Standard input read in pieces, each refused if it is not text (NUL bytes), with the
/// offset and line of the NUL counted from the start of the input.
pub struct TextStream<'a> {
    path: &'a Path,
    head: Option<&'a [u8]>,
    rest: Stdin,
    offset: usize,
    lines: usize,
}

impl TextStream<'_> {
    /// Appends up to `max` bytes to `buf`; `Ok(0)` at the end of the input.
    pub fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
        let start = buf.len();
        match self.head.take() {
            Some(head) => buf.extend_from_slice(head),
            None => {
                (&self.rest)
                    .take(max as u64)
                    .read_to_end(buf)
                    .map_err(|source| Error::Io {
                        path: self.path.to_path_buf(),
                        source,
                    })?;
            }
        }
        let new = &buf[start..];
        if let Some(i) = memchr::memchr(0, new) {
            return Err(Error::Binary {
                path: self.path.to_path_buf(),
                offset: self.offset + i,
                line: self.lines + memchr::memchr_iter(b'\n', &new[..i]).count() + 1,
            });
        }
        self.offset += new.len();
        self.lines += memchr::memchr_iter(b'\n', new).count();
        Ok(new.len())
    }
}

/// Refuses inputs that are neither regular files nor pipes: devices never end or are
/// not text, sockets cannot be opened as files anyway.
fn check_kind(path: &Path, meta: &Metadata) -> Result<()> {
    let t = meta.file_type();
    if t.is_dir() {
        return Err(Error::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let kind = if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        return Ok(());
    };
    Err(Error::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

/// Maps a regular file and guards the mapping against the file shrinking; reads it
/// when no guard is free.
fn map(file: &File, path: &Path) -> std::io::Result<Data> {
    // SAFETY: the map is read-only and private to this process. If another process
    // truncates the file while we read it, accesses past the new end raise SIGBUS,
    // which the guard registered below turns into a message and exit status 2.
    let map = unsafe { Mmap::map(file) }?;
    match super::mapguard::register(map.as_ptr(), map.len(), path) {
        Some(guard) => Ok(Data::Mapped { _guard: guard, map }),
        None => {
            drop(map);
            let mut buf = Vec::new();
            (&*file).read_to_end(&mut buf)?;
            Ok(Data::Owned(buf))
        }
    }
}
