//! A buffered SMTP connection over any stream (plain TCP or TLS): lines in with a length limit,
//! exact byte counts in (BDAT), replies out in batches so that a pipelined group of commands
//! gets its answers in one write.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

pub enum ReadError {
    /// The client closed the connection.
    Eof,
    Timeout,
    /// The server is shutting down.
    Shutdown,
    Io,
}

pub enum Line {
    Complete(Vec<u8>),
    /// The line passed the limit; it was read to its end and thrown away.
    TooLong,
}

pub struct Conn<S> {
    pub stream: S,
    buf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

/// Bytes asked for per read. Small, so that an idle connection holds little: memory per idle
/// IMAP connection is a figure users of a NAS feel.
const READ_CHUNK: usize = 4 * 1024;
/// Buffers that grew past this for one big command are given back once it is done.
const KEEP_CAPACITY: usize = 64 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            out: Vec::with_capacity(512),
        }
    }

    /// Bytes the client sent that no command has consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            }
        }
    }

    pub fn discard_buffered(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// Replies go out when the client has nothing more pipelined, or when enough are waiting,
    /// so the answers to one read's worth of pipelined commands never pile up.
    pub fn should_flush(&self) -> bool {
        !self.has_line() || self.out.len() > 64 * 1024
    }

    pub fn has_line(&self) -> bool {
        self.buffered().contains(&b'\n')
    }

    /// Reads more bytes into the buffer; at most one read call. Cancel-safe: bytes are only
    /// appended once a read completes, so a dropped call (IDLE's select) loses nothing.
    pub async fn fill(
        &mut self,
        timeout: Duration,
        shutdown: Option<&mut watch::Receiver<bool>>,
    ) -> Result<usize, ReadError> {
        if self.pos > 0 && self.pos * 2 > self.buf.capacity() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let read = tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf));
        let result = match shutdown {
            Some(rx) => tokio::select! {
                r = read => r,
                _ = wait_shutdown(rx) => return Err(ReadError::Shutdown),
            },
            None => read.await,
        };
        match result {
            Err(_) => Err(ReadError::Timeout),
            Ok(Err(_)) => Err(ReadError::Io),
            Ok(Ok(0)) => Err(ReadError::Eof),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// One line without its line end (CRLF or, leniently, LF). Lines longer than `max` are read
    /// to their end and reported as `TooLong`, so memory stays bounded whatever the client sends.
    pub async fn read_line(
        &mut self,
        max: usize,
        timeout: Duration,
        mut shutdown: Option<&mut watch::Receiver<bool>>,
    ) -> Result<Line, ReadError> {
        let mut discarding = false;
        loop {
            if let Some(i) = self.buffered().iter().position(|&b| b == b'\n') {
                if discarding || i > max {
                    self.consume(i + 1);
                    return Ok(Line::TooLong);
                }
                let mut line = self.buffered()[..i].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.consume(i + 1);
                return Ok(Line::Complete(line));
            }
            if self.buffered().len() > max {
                discarding = true;
                self.discard_buffered();
            }
            self.fill(timeout, shutdown.as_deref_mut()).await?;
        }
    }

    pub fn reply(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Bytes queued for the client and not yet written.
    pub fn buffered_out(&self) -> usize {
        self.out.len()
    }

    /// Queues bytes as they are (a message body already in wire form).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
            if self.out.capacity() > KEEP_CAPACITY {
                self.out = Vec::new();
            }
        }
        self.stream.flush().await
    }

    /// Unwraps the stream for a TLS upgrade; whatever the client pipelined after STARTTLS is
    /// dropped here (RFC 3207 6, CVE-2011-0411).
    pub fn into_stream(self) -> S {
        self.stream
    }
}

async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // The sender is gone: the server is going away.
            return;
        }
    }
}
