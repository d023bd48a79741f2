//! The body of a response as both servers send it: bytes at hand (every document), or a file
//! read a chunk at a time (an asset).
//!
//! A podcast episode or a video is hundreds of megabytes: read whole into memory per request,
//! a few slow listeners would hold gigabytes. A [`FileStream`] holds one chunk at a time, and
//! reads the next on a blocking thread only when hyper has sent the last one — so a slow client
//! costs one chunk, and reading never blocks an event loop.

use std::future::Future as _;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Frame, SizeHint};

use super::service::Blocking;

/// How much of a file is read at a time.
pub const CHUNK: usize = 128 << 10;

/// A response body.
pub enum Body {
    /// Bytes at hand.
    Full(Full<Bytes>),
    /// Bytes read from a file as they are sent.
    File(FileStream),
}

impl From<Full<Bytes>> for Body {
    fn from(full: Full<Bytes>) -> Body {
        Body::Full(full)
    }
}

/// What one read of a file gives back: the file (for the next read) and the bytes.
type Chunk = std::io::Result<(std::fs::File, Bytes)>;

/// The rest of a file, from its current position, read in [`CHUNK`]s on `pool`.
pub struct FileStream {
    /// Read already (with the file opened), sent first.
    first: Option<Bytes>,
    /// `None` while a read is under way (the read has it).
    file: Option<std::fs::File>,
    /// Bytes still to read after `first`.
    remaining: u64,
    pool: Arc<dyn Blocking>,
    pending: Option<tokio::sync::oneshot::Receiver<Chunk>>,
}

impl FileStream {
    /// Sends `first`, then the next `remaining` bytes of `file` (from its position).
    pub fn new(
        file: std::fs::File,
        first: Bytes,
        remaining: u64,
        pool: Arc<dyn Blocking>,
    ) -> FileStream {
        FileStream {
            first: (!first.is_empty()).then_some(first),
            file: Some(file),
            remaining,
            pool,
            pending: None,
        }
    }
}

/// Reads exactly `n` bytes (a file that shrank is an error: the length was promised).
pub fn read_chunk(file: &mut std::fs::File, n: usize) -> std::io::Result<Bytes> {
    let mut buf = vec![0; n];
    file.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(|never| match never {}))),
            Body::File(stream) => stream.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(full) => full.is_end_stream(),
            Body::File(stream) => stream.first.is_none() && stream.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(full) => full.size_hint(),
            Body::File(stream) => SizeHint::with_exact(
                stream.remaining + stream.first.as_ref().map_or(0, |b| b.len() as u64),
            ),
        }
    }
}

impl FileStream {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        loop {
            if let Some(rx) = self.pending.as_mut() {
                let got = match Pin::new(rx).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(got) => got,
                };
                self.pending = None;
                return Poll::Ready(Some(match got {
                    Ok(Ok((file, bytes))) => {
                        self.file = Some(file);
                        self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                        Ok(Frame::data(bytes))
                    }
                    Ok(Err(e)) => {
                        self.remaining = 0;
                        Err(e)
                    }
                    Err(_) => {
                        self.remaining = 0;
                        Err(std::io::Error::other("the read of the file was dropped"))
                    }
                }));
            }
            if self.remaining == 0 {
                return Poll::Ready(None);
            }
            let Some(mut file) = self.file.take() else {
                return Poll::Ready(None);
            };
            let n = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.pool.spawn(Box::new(move || {
                let read = read_chunk(&mut file, n).map(|bytes| (file, bytes));
                // The client went away: nothing to send to.
                let _ = tx.send(read);
            }));
            self.pending = Some(rx);
        }
    }
}
