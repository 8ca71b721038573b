//! The process's master connections: one [`Connection`] per [`SshTarget`] in a registry, each
//! holding the current OpenSSH master (found or started on demand, replaced when it dies) and
//! the cap on concurrent sessions.
//!
//! A master is, in order of preference, the one the user opened with `xpr connect` (found at
//! the well-known control path, used, never closed), or one this process starts:
//! `ssh <options> -M -S <dir>/<hash>.<pid>.<n> -f -N -o ControlPersist=<idle> -o BatchMode=yes
//! -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -- host`, its stderr in `<socket>.log`,
//! whose messages become typed errors when it fails.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use openssh::Session;
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

use super::target::{SshTarget, launch_error};
use crate::transport::{RetryPolicy, TransportError, TransportErrorKind};

/// Turns what ssh printed when it failed to connect into a typed error.
fn classify_ssh_failure(target: &SshTarget, log: &str) -> TransportError {
    // ssh's messages are stable across OpenSSH versions (the `openssh` crate reads the same).
    const PATTERNS: &[(&str, TransportErrorKind)] = &[
        (
            "could not resolve hostname",
            TransportErrorKind::NameNotResolved,
        ),
        (
            "identification has changed",
            TransportErrorKind::HostKeyChanged,
        ),
        ("host key for", TransportErrorKind::HostKeyChanged), // "... has changed and you have requested strict checking"
        ("host key is known for", TransportErrorKind::HostKeyUnknown), // "No ED25519 host key is known for ..."
        (
            "host key verification failed",
            TransportErrorKind::HostKeyUnknown,
        ),
        ("permission denied (", TransportErrorKind::AuthRefused),
        (
            "too many authentication failures",
            TransportErrorKind::AuthRefused,
        ),
        ("connection refused", TransportErrorKind::HostUnreachable),
        ("no route to host", TransportErrorKind::HostUnreachable),
        (
            "network is unreachable",
            TransportErrorKind::HostUnreachable,
        ),
        ("connection timed out", TransportErrorKind::HostUnreachable),
        ("operation timed out", TransportErrorKind::HostUnreachable),
    ];
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    for (pattern, kind) in PATTERNS {
        if let Some(line) = lines.iter().find(|l| l.to_lowercase().contains(pattern)) {
            return target.error(kind.clone()).with_detail(*line);
        }
    }
    let detail = lines
        .last()
        .copied()
        .unwrap_or("ssh exited without a message");
    target
        .error(TransportErrorKind::ConnectFailed)
        .with_detail(detail)
}

/// A live master connection.
pub(super) struct Master {
    pub(super) session: Arc<Session>,
    pub(super) control_path: PathBuf,
    pub(super) log: Option<PathBuf>,
    /// Started by this process (so closed by it), as opposed to opened by `xpr connect`.
    pub(super) owned: bool,
    pub(super) generation: u64,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) master: Option<Arc<Master>>,
    pub(super) generation: u64,
}

/// One host's shared connection: the master (made on demand, remade when it dies) and the
/// session cap.
pub(super) struct Connection {
    pub(super) target: SshTarget,
    pub(super) retry: RetryPolicy,
    pub(super) control_persist: Duration,
    pub(super) sessions: Semaphore,
    pub(super) state: AsyncMutex<State>,
}

/// Connections of this process by target: one per host, alive while some transport holds it.
static REGISTRY: LazyLock<Mutex<HashMap<SshTarget, Weak<Connection>>>> =
    LazyLock::new(Default::default);

impl Connection {
    /// The process's connection to `target`, made (without connecting) if there is none; the
    /// options of the one that made it stay.
    pub(super) fn shared(
        target: &SshTarget,
        retry: RetryPolicy,
        max_sessions: usize,
        control_persist: Duration,
    ) -> Arc<Self> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry.retain(|_, conn| conn.strong_count() > 0);
        if let Some(conn) = registry.get(target).and_then(Weak::upgrade) {
            return conn;
        }
        let conn = Arc::new(Self {
            target: target.clone(),
            retry,
            control_persist,
            sessions: Semaphore::new(max_sessions),
            state: AsyncMutex::new(State::default()),
        });
        registry.insert(target.clone(), Arc::downgrade(&conn));
        conn
    }

    /// The current master, connecting first when there is none.
    pub(super) async fn master(&self) -> Result<Arc<Master>, TransportError> {
        let mut state = self.state.lock().await;
        if let Some(master) = &state.master {
            return Ok(master.clone());
        }
        state.generation += 1;
        let master = Arc::new(self.establish(state.generation).await?);
        state.master = Some(master.clone());
        Ok(master)
    }

    /// Drops `dead` as the current master (unless another task already replaced it).
    pub(super) async fn forget(&self, dead: &Master) {
        let mut state = self.state.lock().await;
        if state
            .master
            .as_ref()
            .is_some_and(|m| m.generation == dead.generation)
        {
            let master = state.master.take().expect("checked above");
            drop(state);
            tracing::info!(host = %self.target.host, "ssh master connection lost; reconnecting");
            self.retire(&master).await;
        }
    }

    /// Ends a master this process started (best effort) and removes its files.
    pub(super) async fn retire(&self, master: &Master) {
        if !master.owned {
            return;
        }
        let _ = tokio::process::Command::new(self.target.shell.program())
            .args(self.target.shell.options())
            .arg("-S")
            .arg(&master.control_path)
            .args(["-O", "exit", "--"])
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        remove_master_files(master);
    }

    /// Finds or starts a master, retrying transient failures per the policy.
    async fn establish(&self, generation: u64) -> Result<Master, TransportError> {
        let mut attempt = 1;
        loop {
            if let Some(master) = self.resume_user_master(generation).await {
                return Ok(master);
            }
            match self.launch(generation).await {
                Ok(master) => return Ok(master),
                Err(e) if e.is_transient() && attempt < self.retry.attempts => {
                    tracing::warn!(
                        host = %self.target.host, attempt, "connecting failed, will retry: {e}"
                    );
                    attempt += 1;
                    tokio::time::sleep(self.retry.delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The master of `xpr connect`, if one answers at the well-known path.
    async fn resume_user_master(&self, generation: u64) -> Option<Master> {
        let path = self.target.user_control_path();
        if !path.exists() {
            return None;
        }
        let session = Session::resume_mux(path.clone().into_boxed_path(), None);
        session.check().await.ok()?;
        tracing::debug!(host = %self.target.host, path = %path.display(), "using the master opened by xpr connect");
        Some(Master {
            session: Arc::new(session),
            control_path: path,
            log: None,
            owned: false,
            generation,
        })
    }

    /// Starts this process's own master in the background (`ssh -M -f -N`).
    async fn launch(&self, generation: u64) -> Result<Master, TransportError> {
        let target = &self.target;
        target.ensure_control_dir()?;
        let name = format!("{}.{}.{generation}", target.hash(), std::process::id());
        let control_path = target.control_dir.join(&name);
        target.check_socket_path(&control_path)?;
        let log = target.control_dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&control_path);
        // ssh's stderr goes to a file, not a pipe: with -f the backgrounded master keeps it open,
        // and reading a pipe to its end would wait for the master to exit.
        let log_file = std::fs::File::create(&log)
            .map_err(|e| TransportError::io(&target.host, None, "cannot create the ssh log", e))?;
        // User options come first: for `-o` settings ssh keeps the first value it sees, so
        // theirs win over our keep-alive defaults (Control* ones are refused when parsing).
        let status = tokio::process::Command::new(target.shell.program())
            .args(target.shell.options())
            .arg("-M")
            .arg("-S")
            .arg(&control_path)
            .args(["-f", "-N", "-o"])
            .arg(format!(
                "ControlPersist={}",
                self.control_persist.as_secs().max(1)
            ))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=4",
                "--",
            ])
            .arg(&target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .status()
            .await
            .map_err(|e| launch_error(target, e))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_file(&control_path);
            return Err(classify_ssh_failure(target, &text));
        }
        tracing::debug!(host = %target.host, path = %control_path.display(), "ssh master started");
        let session = Session::resume_mux(
            control_path.clone().into_boxed_path(),
            Some(log.clone().into_boxed_path()),
        );
        Ok(Master {
            session: Arc::new(session),
            control_path,
            log: Some(log),
            owned: true,
            generation,
        })
    }
}

fn remove_master_files(master: &Master) {
    if master.owned {
        let _ = std::fs::remove_file(&master.control_path);
        if let Some(log) = &master.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Best effort: the last handle is gone without close(). `ssh -O exit` is a local
        // socket round trip, quick enough to block on here.
        let Some(master) = self.state.get_mut().master.take() else {
            return;
        };
        if master.owned {
            let result = self
                .target
                .std_ssh()
                .arg("-S")
                .arg(&master.control_path)
                .args(["-O", "exit", "--"])
                .arg(&self.target.host)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Err(e) = result {
                tracing::warn!(host = %self.target.host, "cannot close the ssh master: {e}");
            }
            remove_master_files(&master);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, remsh: &str) -> SshTarget {
        SshTarget::new(host, Some(remsh))
            .unwrap()
            .with_control_dir("/tmp/x")
    }

    #[test]
    fn ssh_messages_become_kinds() {
        let t = target("xpr-hostA", "ssh -F cfg");
        for (log, kind) in [
            (
                "ssh: Could not resolve hostname nope: Name or service not known",
                TransportErrorKind::NameNotResolved,
            ),
            (
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.",
                TransportErrorKind::HostKeyUnknown,
            ),
            (
                "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@",
                TransportErrorKind::HostKeyChanged,
            ),
            (
                "Warning: Permanently added 'x' (ED25519) to the list of known hosts.\r\nxprtest@127.0.0.1: Permission denied (publickey).",
                TransportErrorKind::AuthRefused,
            ),
            (
                "ssh: connect to host 127.0.0.1 port 2223: Connection refused",
                TransportErrorKind::HostUnreachable,
            ),
            ("something new", TransportErrorKind::ConnectFailed),
        ] {
            assert_eq!(classify_ssh_failure(&t, log).kind(), &kind, "{log}");
        }
        let e = classify_ssh_failure(&t, "Host key verification failed.");
        assert_eq!(
            e.to_string(),
            "host key for xpr-hostA is not known: Host key verification failed. (hint: run \
             `ssh -F cfg xpr-hostA` once to accept it, or add it to known_hosts)"
        );
    }
}
