//! Following a task's stdout and stderr as it runs (`xpr logs -f`).
//!
//! While its job is in the scheduler the logs are read where they are written, in the run
//! dir on the system (one round trip per read, only the bytes past what was read); once the
//! task has finished they are read from its local copy, which holds all of them. A caller
//! keeps the offsets and asks again until [`LogRead::finished`].

use super::{Session, SessionError};
use crate::db::TaskStatus;
use crate::ids::TaskId;
use crate::task::{STDERR_FILE, STDOUT_FILE};

/// The most bytes of one log read per call (the rest comes at the next).
pub const LOG_CHUNK: u64 = 1 << 20;

/// What a read of a task's logs found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRead {
    /// Bytes of its stdout past the offset given.
    pub stdout: Vec<u8>,
    /// Bytes of its stderr past the offset given.
    pub stderr: Vec<u8>,
    /// Its status when read.
    pub status: Option<TaskStatus>,
    /// True once the task has finished and these bytes came from its local copy: nothing
    /// more will come (when both are also shorter than [`LOG_CHUNK`]).
    pub finished: bool,
}

impl Session {
    /// Task `id`'s stdout and stderr past `offsets` (bytes of each already read): from its run
    /// dir on the system while its job is in the scheduler, from its local copy once it has
    /// finished, nothing before it runs. See the module docs.
    pub async fn read_logs_from(
        &self,
        id: &TaskId,
        offsets: [u64; 2],
    ) -> Result<LogRead, SessionError> {
        let record = self.get_async(id).await?;
        let mut read = LogRead {
            status: Some(record.status),
            ..LogRead::default()
        };
        if record.status.is_finished() {
            let dir = self.local_run_dir(id);
            let from = |name: &str, offset: u64| -> Result<Vec<u8>, SessionError> {
                let path = dir.join(name);
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let start = usize::try_from(offset)
                            .unwrap_or(usize::MAX)
                            .min(bytes.len());
                        let end = start.saturating_add(LOG_CHUNK as usize).min(bytes.len());
                        Ok(bytes[start..end].to_vec())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                    Err(e) => Err(SessionError::io("reading", &path)(e)),
                }
            };
            read.stdout = from(STDOUT_FILE, offsets[0])?;
            read.stderr = from(STDERR_FILE, offsets[1])?;
            read.finished = true;
            return Ok(read);
        }
        let Some(dir) = record.remote_dir.as_deref() else {
            return Ok(read);
        };
        if !TaskStatus::IN_SCHEDULER.contains(&record.status) {
            return Ok(read);
        }
        let driver = self.driver(&record.system).await?;
        let mut frames = driver
            .read_from(
                dir,
                &[(STDOUT_FILE, offsets[0]), (STDERR_FILE, offsets[1])],
                LOG_CHUNK,
            )
            .await?
            .into_iter();
        read.stdout = frames.next().unwrap_or_default();
        read.stderr = frames.next().unwrap_or_default();
        Ok(read)
    }
}
