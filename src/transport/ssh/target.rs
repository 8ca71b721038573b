//! [`SshTarget`]: how to reach one host (destination, remote shell, control directory), and
//! the master a user opens by hand for it (`xpr connect` / `xpr disconnect`).
//!
//! A user-opened master lives at the target's well-known control path,
//! `<control dir>/<16 hex digits>`: the digits hash the ssh program, its options and the
//! destination, so the CLI's `xpr connect SYSTEM` and a later run for the same system (same
//! `host` and `remsh_cmd`) meet at the same socket, and the path stays short enough for a Unix
//! socket. The control directory (default `~/.xpr/ssh`) is made mode 0700: whoever can open a
//! socket there can run commands as the user on the host.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};

use crate::transport::{RemoteShell, TransportError, TransportErrorKind};

/// Longest control socket path accepted: Linux allows 107 bytes, and ssh binds to
/// `<path>.<16 random characters>` before renaming.
pub(super) const MAX_CONTROL_PATH: usize = 107 - 17;

/// The default directory of control sockets: `~/.xpr/ssh`.
pub fn default_control_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".xpr").join("ssh"))
}

/// Where and how to reach a remote host: the ssh destination, the remote shell command and the
/// directory of control sockets. The registry key of connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SshTarget {
    pub(super) host: String,
    pub(super) shell: RemoteShell,
    pub(super) control_dir: PathBuf,
}

impl SshTarget {
    /// A target for `host` (`[user@]host`, an alias of the ssh config), reached with the remote
    /// shell `remsh_cmd` (else `$EXPYRE_RSH`, else `ssh`), control sockets in `~/.xpr/ssh`.
    pub fn new(host: &str, remsh_cmd: Option<&str>) -> Result<Self, TransportError> {
        let shell = RemoteShell::from_setting(remsh_cmd).map_err(|e| {
            TransportError::new(host, TransportErrorKind::InvalidRemoteShell)
                .with_detail(e.to_string())
                .with_source(e)
        })?;
        Self::with_shell(host, shell)
    }

    /// A target for `host` with an already parsed remote shell.
    pub fn with_shell(host: &str, shell: RemoteShell) -> Result<Self, TransportError> {
        // The host goes on ssh's command line after `--`; still refuse what cannot be a host.
        if host.is_empty()
            || host.starts_with('-')
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(
                TransportError::new(host, TransportErrorKind::NameNotResolved)
                    .with_detail(format!("{host:?} is not a valid ssh destination")),
            );
        }
        let control_dir = default_control_dir().ok_or_else(|| {
            TransportError::new(host, TransportErrorKind::Io)
                .with_detail("HOME is not set, so there is no ~/.xpr/ssh for control sockets")
        })?;
        Ok(Self {
            host: host.to_owned(),
            shell,
            control_dir,
        })
    }

    /// The same target with control sockets in `dir` (keep it short: socket paths are limited
    /// to about 90 bytes).
    pub fn with_control_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.control_dir = dir.into();
        self
    }

    /// The ssh destination.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The remote shell (ssh program and options).
    pub fn shell(&self) -> &RemoteShell {
        &self.shell
    }

    /// The directory of control sockets.
    pub fn control_dir(&self) -> &Path {
        &self.control_dir
    }

    /// The well-known control path of a master opened by `xpr connect`
    /// (`<control dir>/<hash>`); later runs look there first.
    pub fn user_control_path(&self) -> PathBuf {
        self.control_dir.join(self.hash())
    }

    /// 16 hex digits identifying program, options and host (short enough for socket paths).
    pub(super) fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"xpr-ssh-v1\0");
        h.update(self.shell.program().as_bytes());
        for option in self.shell.options() {
            h.update(b"\0");
            h.update(option.as_bytes());
        }
        h.update(b"\0\0");
        h.update(self.host.as_bytes());
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `ssh <options>` as a std command (for the blocking user-master functions).
    pub(super) fn std_ssh(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(self.shell.program());
        cmd.args(self.shell.options());
        cmd
    }

    pub(super) fn error(&self, kind: TransportErrorKind) -> TransportError {
        TransportError::new(&self.host, kind).with_ssh_command(self.shell.render(&self.host))
    }

    pub(super) fn ensure_control_dir(&self) -> Result<(), TransportError> {
        let io = |what: &str, e| {
            TransportError::io(&self.host, None, what, e)
                .with_detail(format!("{what} {}", self.control_dir.display()))
        };
        std::fs::create_dir_all(&self.control_dir)
            .map_err(|e| io("cannot create the control directory", e))?;
        // Anyone who can open a control socket can run commands as the user on the host.
        std::fs::set_permissions(&self.control_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("cannot restrict the control directory", e))
    }

    pub(super) fn check_socket_path(&self, path: &Path) -> Result<(), TransportError> {
        if path.as_os_str().len() > MAX_CONTROL_PATH {
            return Err(self
                .error(TransportErrorKind::ConnectFailed)
                .with_detail(format!(
                    "control socket path {} is longer than {MAX_CONTROL_PATH} bytes",
                    path.display()
                ))
                .with_hint("use a shorter control directory"));
        }
        Ok(())
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shell.render(&self.host))
    }
}

/// Whether a master opened by `xpr connect` is running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterStatus {
    /// A master answers on the control path.
    Running {
        /// The well-known control path.
        control_path: PathBuf,
        /// The master's process id, as `ssh -O check` reports it.
        pid: Option<u32>,
    },
    /// No master answers there.
    NotRunning {
        /// The well-known control path.
        control_path: PathBuf,
    },
}

/// Is a user-opened master (`xpr connect`) running for `target`? Runs `ssh -O check`.
pub fn user_master_status(target: &SshTarget) -> MasterStatus {
    let control_path = target.user_control_path();
    let pid = if control_path.exists() {
        check_master(target, &control_path)
    } else {
        None
    };
    match pid {
        Some(pid) => MasterStatus::Running { control_path, pid },
        None => MasterStatus::NotRunning { control_path },
    }
}

/// `ssh -S path -O check host`: `Some(pid)` when a master answers (`pid` itself may be unknown).
fn check_master(target: &SshTarget, control_path: &Path) -> Option<Option<u32>> {
    let out = target
        .std_ssh()
        .arg("-S")
        .arg(control_path)
        .args(["-O", "check", "--"])
        .arg(&target.host)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // "Master running (pid=12345)"
    let text = String::from_utf8_lossy(&out.stderr);
    let pid = text
        .split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|p| p.trim().parse().ok());
    Some(pid)
}

/// `xpr connect SYSTEM`: opens a master for `target` at its well-known control path with
/// `ssh <options> -M -S <path> -o ControlPersist=yes -f -N -- host`, in the foreground, so that
/// the user answers password, two-factor and host key prompts in the terminal. Blocking.
///
/// Returns the control path; a master already running there is reused. It stays up until
/// [`close_user_master`] (`xpr disconnect`), the network drops, or the host ends it.
pub fn open_user_master(target: &SshTarget) -> Result<PathBuf, TransportError> {
    if let MasterStatus::Running { control_path, .. } = user_master_status(target) {
        return Ok(control_path);
    }
    target.ensure_control_dir()?;
    let path = target.user_control_path();
    target.check_socket_path(&path)?;
    // A socket left by a master that died would make ssh refuse to listen ("already exists").
    let _ = std::fs::remove_file(&path);
    let status = target
        .std_ssh()
        .arg("-M")
        .arg("-S")
        .arg(&path)
        .args(["-o", "ControlPersist=yes", "-f", "-N", "--"])
        .arg(&target.host)
        .status()
        .map_err(|e| launch_error(target, e))?;
    if !status.success() {
        return Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(format!("ssh exited with {status}; its messages are above")));
    }
    match user_master_status(target) {
        MasterStatus::Running { control_path, .. } => Ok(control_path),
        MasterStatus::NotRunning { control_path } => Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(format!(
                "ssh logged in but no master answers at {}",
                control_path.display()
            ))),
    }
}

/// `xpr disconnect SYSTEM`: ends the user-opened master of `target` (`ssh -O exit`). Returns
/// false when none was running. Blocking.
pub fn close_user_master(target: &SshTarget) -> Result<bool, TransportError> {
    let path = target.user_control_path();
    if matches!(user_master_status(target), MasterStatus::NotRunning { .. }) {
        let _ = std::fs::remove_file(&path);
        return Ok(false);
    }
    let out = target
        .std_ssh()
        .arg("-S")
        .arg(&path)
        .args(["-O", "exit", "--"])
        .arg(&target.host)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| launch_error(target, e))?;
    if !out.status.success() {
        return Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Ok(true)
}

pub(super) fn launch_error(target: &SshTarget, e: std::io::Error) -> TransportError {
    target
        .error(TransportErrorKind::InvalidRemoteShell)
        .with_detail(format!("cannot run {:?}: {e}", target.shell.program()))
        .with_hint("install OpenSSH's ssh, or fix remsh_cmd / EXPYRE_RSH")
        .with_source(e)
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
    fn control_paths_are_short_and_distinct() {
        let a = target("hpc", "ssh");
        let b = target("hpc", "ssh -p 2222");
        let c = target("other", "ssh");
        assert_eq!(
            a.user_control_path(),
            target("hpc", "ssh").user_control_path()
        );
        assert_ne!(a.user_control_path(), b.user_control_path());
        assert_ne!(a.user_control_path(), c.user_control_path());
        let name = a.user_control_path().file_name().unwrap().len();
        assert_eq!(name, 16);
    }

    #[test]
    fn bad_destinations_are_refused() {
        for host in ["", "-oProxyCommand=x", "a b", "a\nb"] {
            assert!(SshTarget::new(host, Some("ssh")).is_err(), "{host:?}");
        }
        let e = SshTarget::new("hpc", Some("ssh hpc")).unwrap_err();
        assert_eq!(e.kind(), &TransportErrorKind::InvalidRemoteShell);
    }
}
