//! [`BlockingSession`]: the session's operations for code outside any async runtime.

use std::time::Duration;

use super::PollReport;
use super::{Session, SessionError, SessionOptions, StartRequest, Started, TaskResults};
use crate::config::LoadedConfig;
use crate::db::{TaskFilter, TaskRecord, TaskStatus};
use crate::ids::TaskId;

/// A [`Session`] with its own tokio runtime; each method blocks until done. Must not be used
/// from inside an async runtime (it panics there, as tokio does).
pub struct BlockingSession {
    session: Session,
    runtime: tokio::runtime::Runtime,
}

impl BlockingSession {
    /// Opens a session with default options.
    pub fn open(config: LoadedConfig) -> Result<Self, SessionError> {
        Self::open_with(config, SessionOptions::default())
    }

    /// Opens a session with `options`.
    pub fn open_with(config: LoadedConfig, options: SessionOptions) -> Result<Self, SessionError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SessionError::io(
                "starting an async runtime",
                std::path::Path::new("-"),
            ))?;
        Ok(Self {
            session: Session::open_with(config, options)?,
            runtime,
        })
    }

    /// The async session inside.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// See [`Session::start`].
    pub fn start(&self, request: StartRequest) -> Result<Started, SessionError> {
        self.runtime.block_on(self.session.start(request))
    }

    /// See [`Session::start_many`].
    pub fn start_many(&self, requests: Vec<StartRequest>) -> Result<Vec<Started>, SessionError> {
        self.runtime.block_on(self.session.start_many(requests))
    }

    /// See [`Session::poll`].
    pub fn poll(&self) -> Result<PollReport, SessionError> {
        self.runtime.block_on(self.session.poll())
    }

    /// See [`Session::wait`].
    pub fn wait(&self, ids: &[TaskId], timeout: Duration) -> Result<Vec<TaskRecord>, SessionError> {
        self.runtime.block_on(self.session.wait(ids, timeout))
    }

    /// See [`Session::follow`].
    pub fn follow(
        &self,
        ids: Option<&[TaskId]>,
        timeout: Option<Duration>,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        self.runtime.block_on(self.session.follow(ids, timeout))
    }

    /// See [`Session::results`].
    pub fn results(&self, id: &TaskId) -> Result<TaskResults, SessionError> {
        self.session.results(id)
    }

    /// See [`Session::list`].
    pub fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, SessionError> {
        self.session.list(filter)
    }

    /// See [`Session::mark_processed`].
    pub fn mark_processed(&self, id: &TaskId) -> Result<TaskRecord, SessionError> {
        self.session.mark_processed(id)
    }

    /// See [`Session::reset_status`].
    pub fn reset_status(&self, id: &TaskId, to: TaskStatus) -> Result<TaskRecord, SessionError> {
        self.session.reset_status(id, to)
    }

    /// See [`Session::cancel`].
    pub fn cancel(&self, ids: &[TaskId]) -> Result<Vec<TaskId>, SessionError> {
        self.runtime.block_on(self.session.cancel(ids))
    }

    /// See [`Session::clean`].
    pub fn clean(&self, ids: &[TaskId]) -> Result<(), SessionError> {
        self.runtime.block_on(self.session.clean(ids))
    }

    /// See [`Session::remove`].
    pub fn remove(&self, ids: &[TaskId], cancel_and_clean: bool) -> Result<(), SessionError> {
        self.runtime
            .block_on(self.session.remove(ids, cancel_and_clean))
    }

    /// Closes the session's transports.
    pub fn close(self) -> Result<(), SessionError> {
        self.runtime.block_on(self.session.close())
    }
}
