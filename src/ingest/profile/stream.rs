//! Standard input parsed as it arrives: read in chunks of a few MiB cut at sample
//! boundaries, parsed by the workers like the pieces of a mapped file, so memory holds a
//! few chunks and the profile, not the input.

use std::sync::{Mutex, mpsc};

use super::{BuildOptions, Profile, WorkerResult, builder::Builder, worker_count};
use crate::error::Result;
use crate::ingest::input::TextStream;

/// Bytes read before a chunk is cut at its last sample boundary. Up to two chunks per
/// worker are in memory at once (one parsed, one queued) plus the one being read: at
/// 1 MiB they cost a few MiB, where `analyze` needs its memory for the samples it keeps.
const CHUNK: usize = 1 << 20;

impl Profile {
    /// Builds a profile from a stream of `perf script` text, as [`Profile::build`] would
    /// from the whole of it.
    pub fn build_stream(
        mut stream: TextStream<'_>,
        opts: BuildOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Profile> {
        let workers = worker_count(opts.threads);
        // At most `workers` chunks wait while each worker parses one.
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers);
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let rx = Mutex::new(rx);
        let work = || {
            let mut b = Builder::new(opts);
            let mut parts = Vec::new();
            loop {
                let next = rx.lock().expect("profile worker panicked").recv();
                let Ok((i, buf)) = next else { break };
                parts.push((i, b.parse_piece(&buf, i)));
                progress(buf.len() as u64);
                // The reader may be gone after an error: then the buffer is just freed.
                let _ = free_tx.send(buf);
            }
            (b, parts)
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
            let fed = feed(&mut stream, &tx, &free_rx);
            drop(tx);
            let results: Vec<WorkerResult> = handles
                .into_iter()
                .map(|h| h.join().expect("profile worker panicked"))
                .collect();
            fed.map(|()| Profile::merge(results))
        })
    }
}

/// Reads the stream into chunks that end at a sample boundary and sends them, numbered,
/// to the workers. A chunk with no boundary grows until it has one (or the input ends).
fn feed(
    stream: &mut TextStream<'_>,
    tx: &mpsc::SyncSender<(usize, Vec<u8>)>,
    free: &mpsc::Receiver<Vec<u8>>,
) -> Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    for index in 0.. {
        let mut buf = free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + (CHUNK >> 2)));
        buf.clear();
        buf.append(&mut carry);
        let target = buf.len() + CHUNK;
        let mut eof = false;
        while buf.len() < target {
            let want = target - buf.len();
            if stream.read_into(&mut buf, want)? == 0 {
                eof = true;
                break;
            }
        }
        if !eof {
            match last_record_end(&buf) {
                Some(cut) => carry.extend_from_slice(&buf[cut..]),
                None => {
                    carry = buf;
                    continue;
                }
            }
            buf.truncate(buf.len() - carry.len());
        }
        if !buf.is_empty() && tx.send((index, buf)).is_err() {
            break;
        }
        if eof {
            break;
        }
    }
    Ok(())
}

/// The offset just after the last complete blank line of `buf`: a sample boundary, where
/// the text can be cut and each part parsed as in the whole (see
/// [`crate::ingest::script::split_at_records`]).
fn last_record_end(buf: &[u8]) -> Option<usize> {
    let mut newlines = memchr::memrchr_iter(b'\n', buf);
    let mut end = newlines.next()?;
    loop {
        let prev = newlines.next();
        let start = prev.map_or(0, |p| p + 1);
        if buf[start..end].iter().all(u8::is_ascii_whitespace) {
            return Some(end + 1);
        }
        end = prev?;
    }
}

#[cfg(test)]
mod tests {
    use super::last_record_end;

    #[test]
    fn cuts_after_the_last_complete_blank_line() {
        assert_eq!(last_record_end(b"a\n\nb\n \r\nc"), Some(8));
        assert_eq!(last_record_end(b"a\n\nb\nc\n"), Some(3));
        assert_eq!(last_record_end(b"\nb"), Some(1));
        assert_eq!(last_record_end(b"a\nb\n"), None);
        assert_eq!(last_record_end(b"a  "), None);
    }
}
