//! The work `xpr top` does off the UI thread, on a tokio runtime: one poll round every
//! interval (or at once, on `r`), as `xpr status` does, so the tasks advance while the view is
//! open; and each cancel asked for. Results come back as [`Outcome`]s on a channel the UI
//! reads between frames, so a slow or unreachable cluster never freezes the screen.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use xpr::ids::{SystemName, TaskId};
use xpr::session::{Session, SessionError};

/// How long closing waits for cancels still under way before leaving them.
const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// What the background side did.
#[derive(Debug)]
pub enum Outcome {
    /// A poll round ended; each problem names a system that could not be polled and why, or
    /// is the round's own error.
    Polled(Vec<String>),
    /// The process was told to stop (SIGTERM, SIGHUP: `kill`, a closed terminal window):
    /// the view ends as on `q`, giving the terminal back.
    Stop,
    /// A cancel of `task` ended: `Ok(true)` asked for, `Ok(false)` it had already ended.
    Cancelled {
        /// The task.
        task: TaskId,
        /// How it went (the error's text and causes, on one line).
        result: Result<bool, String>,
    },
}

/// The runtime, the poll loop on it, and the cancels under way.
pub struct Background {
    rt: Runtime,
    session: Session,
    poke: Arc<Notify>,
    poller: JoinHandle<()>,
    cancels: Vec<JoinHandle<()>>,
    sender: mpsc::Sender<Outcome>,
    outcomes: mpsc::Receiver<Outcome>,
}

impl Background {
    /// Starts polling through `session` every `interval`, the first round at once: every
    /// system with ongoing tasks, or with `only`, those of its systems that have some (`-S`:
    /// a system left out is not contacted).
    pub fn start(
        session: Session,
        interval: Duration,
        only: Option<Vec<SystemName>>,
    ) -> anyhow::Result<Background> {
        let rt = super::super::tasks::runtime()?;
        let (sender, outcomes) = mpsc::channel();
        let poke = Arc::new(Notify::new());
        let poller = rt.spawn(poll_loop(
            session.clone(),
            interval,
            only,
            poke.clone(),
            sender.clone(),
        ));
        rt.spawn(stop_on_signal(sender.clone()));
        Ok(Background {
            rt,
            session,
            poke,
            poller,
            cancels: Vec::new(),
            sender,
            outcomes,
        })
    }

    /// Starts the next poll round now (or right after the one under way).
    pub fn poll_now(&self) {
        self.poke.notify_one();
    }

    /// Cancels `task` through the session, as `xpr cancel` does.
    pub fn cancel(&mut self, task: TaskId) {
        let session = self.session.clone();
        let sender = self.sender.clone();
        let poke = self.poke.clone();
        self.cancels.retain(|c| !c.is_finished());
        self.cancels.push(self.rt.spawn(async move {
            let result = session
                .cancel(std::slice::from_ref(&task))
                .await
                .map(|acted| !acted.is_empty())
                .map_err(one_line);
            // The scheduler's word on the cancel comes with the next round: make it now.
            poke.notify_one();
            let _ = sender.send(Outcome::Cancelled { task, result });
        }));
    }

    /// The next outcome, if one came.
    pub fn try_recv(&self) -> Option<Outcome> {
        self.outcomes.try_recv().ok()
    }

    /// Stops polling (a round under way is dropped: the jobs DB is left consistent at any
    /// point, as after a kill), lets cancels under way finish, and closes the session's
    /// connections.
    pub fn close(self) -> anyhow::Result<()> {
        self.poller.abort();
        let cancels = self.cancels;
        let session = self.session;
        let closed = self.rt.block_on(async move {
            let all = async {
                for cancel in cancels {
                    let _ = cancel.await;
                }
            };
            if tokio::time::timeout(CANCEL_GRACE, all).await.is_err() {
                eprintln!(
                    "xpr: warning: a cancel was still under way after {}s and was left \
                     (hint: `xpr cancel ID` again; `xpr ls -s ongoing` lists what runs)",
                    CANCEL_GRACE.as_secs()
                );
            }
            session.close().await
        });
        self.rt.shutdown_timeout(Duration::from_secs(5));
        closed.context("closing the connections to the systems")
    }
}

/// One poll round, then a pause of `interval` (cut short by `poke`), until the UI is gone.
async fn poll_loop(
    session: Session,
    interval: Duration,
    only: Option<Vec<SystemName>>,
    poke: Arc<Notify>,
    sender: mpsc::Sender<Outcome>,
) {
    loop {
        let problems = match &only {
            None => poll_all(&session).await,
            Some(systems) => poll_these(&session, systems).await,
        };
        if sender.send(Outcome::Polled(problems)).is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = poke.notified() => {}
        }
    }
}

/// One round for every system with ongoing tasks (`xpr status`'s); the problems met.
async fn poll_all(session: &Session) -> Vec<String> {
    match session.poll().await {
        Ok(report) => report
            .failed
            .into_iter()
            .map(|(system, e)| unreachable(&system, e))
            .collect(),
        Err(e) => vec![format!("poll failed: {}", one_line(e))],
    }
}

/// One round for each of `systems`, concurrently, as [`Session::poll`] does for all (a
/// system without ongoing tasks returns before connecting); the problems met.
async fn poll_these(session: &Session, systems: &[SystemName]) -> Vec<String> {
    let mut rounds = tokio::task::JoinSet::new();
    for system in systems {
        let session = session.clone();
        let system = system.clone();
        rounds.spawn(async move {
            let result = session.poll_system(system.as_str()).await;
            (system, result)
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = rounds.join_next().await {
        match joined {
            Ok((_, Ok(_))) => {}
            Ok((system, Err(e))) => problems.push(unreachable(&system, e)),
            Err(e) => problems.push(format!("a poll round failed: {e}")),
        }
    }
    problems.sort();
    problems
}

fn unreachable(system: &SystemName, err: SessionError) -> String {
    format!(
        "{system} could not be polled (its tasks show as last known): {}",
        one_line(err)
    )
}

/// An error with its causes on one line, each said once (as `xpr` prints them).
fn one_line(err: SessionError) -> String {
    crate::render(&anyhow::Error::new(err), "")
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends [`Outcome::Stop`] on SIGTERM or SIGHUP. Taking them over means they no longer kill
/// the process outright: the view must end itself, so the terminal is left usable (raw mode
/// and the alternate screen undone) as on `q`.
async fn stop_on_signal(sender: mpsc::Sender<Outcome>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hangup.recv() => {}
    }
    let _ = sender.send(Outcome::Stop);
}
