//! Moving bytes between a running child (local process or remote session) and the caller,
//! shared by both transports.
//!
//! stdin is fed and stdout drained concurrently in one future (they borrow the caller's reader
//! and writer), and stderr is read on its own task; so a child that fills one pipe while we
//! wait on another cannot deadlock.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{DynRead, DynWrite};

/// Chunk size for streamed copies: large enough that 200 MB is a few hundred syscalls per MB
/// less than the 8 KiB default.
const CHUNK: usize = 256 * 1024;

/// What the pipes carried.
pub(crate) struct Pumped {
    /// Collected stdout (empty when it went to a writer).
    pub stdout: Vec<u8>,
    /// Collected stderr.
    pub stderr: Vec<u8>,
}

/// Which side of a copy failed.
#[derive(Debug)]
pub(crate) enum PumpError {
    /// Reading the caller's input failed.
    LocalRead(io::Error),
    /// Writing the caller's output failed.
    LocalWrite(io::Error),
    /// Reading the child's stdout/stderr failed (for SSH: maybe the connection dropped).
    Child(io::Error),
}

impl PumpError {
    /// A short description for the error detail.
    pub fn describe(&self) -> &'static str {
        match self {
            PumpError::LocalRead(_) => "reading the local input failed",
            PumpError::LocalWrite(_) => "writing the local output failed",
            PumpError::Child(_) => "reading the command's output failed",
        }
    }

    /// The underlying I/O error.
    pub fn into_io(self) -> io::Error {
        match self {
            PumpError::LocalRead(e) | PumpError::LocalWrite(e) | PumpError::Child(e) => e,
        }
    }
}

/// Feeds `stdin_bytes` then `reader` into `child_stdin` (closing it afterwards), drains
/// `child_stdout` into `writer` (or collects it), and collects `child_stderr` on its own task.
pub(crate) async fn pump<I, O, E>(
    child_stdin: Option<I>,
    stdin_bytes: &[u8],
    reader: Option<DynRead<'_>>,
    child_stdout: O,
    writer: Option<DynWrite<'_>>,
    child_stderr: E,
) -> Result<Pumped, PumpError>
where
    I: AsyncWrite + Unpin + Send,
    O: AsyncRead + Unpin + Send,
    E: AsyncRead + Unpin + Send + 'static,
{
    let stderr_task = tokio::spawn(read_all(child_stderr));
    let feed = feed_stdin(child_stdin, stdin_bytes, reader);
    let drain = drain_stdout(child_stdout, writer);
    let ((), stdout) = tokio::try_join!(feed, drain)?;
    let stderr = match stderr_task.await {
        Ok(result) => result.map_err(PumpError::Child)?,
        Err(join) => return Err(PumpError::Child(io::Error::other(join))),
    };
    Ok(Pumped { stdout, stderr })
}

async fn read_all<E: AsyncRead + Unpin>(mut pipe: E) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

async fn feed_stdin<I: AsyncWrite + Unpin>(
    child_stdin: Option<I>,
    bytes: &[u8],
    reader: Option<DynRead<'_>>,
) -> Result<(), PumpError> {
    let Some(mut pipe) = child_stdin else {
        return Ok(());
    };
    // A child that exits without reading all its input closes the pipe: that is its business
    // (its exit code says how it went), not a transport error. Stop feeding and move on.
    let broken = |e: &io::Error| e.kind() == io::ErrorKind::BrokenPipe;
    match pipe.write_all(bytes).await {
        Err(e) if broken(&e) => return Ok(()),
        Err(e) => return Err(PumpError::Child(e)),
        Ok(()) => {}
    }
    if let Some(reader) = reader {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read(&mut buf).await.map_err(PumpError::LocalRead)?;
            if n == 0 {
                break;
            }
            match pipe.write_all(&buf[..n]).await {
                Err(e) if broken(&e) => return Ok(()),
                Err(e) => return Err(PumpError::Child(e)),
                Ok(()) => {}
            }
        }
    }
    match pipe.shutdown().await {
        Err(e) if !broken(&e) => Err(PumpError::Child(e)),
        _ => Ok(()),
    }
    // Dropping `pipe` closes it: the child sees end of input.
}

async fn drain_stdout<O: AsyncRead + Unpin>(
    mut pipe: O,
    writer: Option<DynWrite<'_>>,
) -> Result<Vec<u8>, PumpError> {
    let Some(writer) = writer else {
        return read_all(pipe).await.map_err(PumpError::Child);
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = pipe.read(&mut buf).await.map_err(PumpError::Child)?;
        if n == 0 {
            break;
        }
        writer
            .write_all(&buf[..n])
            .await
            .map_err(PumpError::LocalWrite)?;
    }
    writer.flush().await.map_err(PumpError::LocalWrite)?;
    Ok(Vec::new())
}
