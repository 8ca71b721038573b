//! SshTransport on the real test bed (sshd on xpr-local, xpr-hostA, xpr-hostB): commands on
//! every host, one master per host shared by all operations, its speed against fresh `ssh`
//! processes, reconnection after the master is killed (and the retry rules around it), 200 MB
//! streamed up and back, hostile arguments, typed connection errors, and `xpr connect`'s master.
//!
//! Each test uses its own control directory, so each has its own connection.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{Testbed, wait_for};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use xpr::command::CommandSpec;
use xpr::transport::{
    MasterStatus, RemoteShell, Retry, RetryPolicy, SshTarget, SshTransport, Transport,
    TransportError, TransportErrorKind, close_user_master, open_user_master, user_master_status,
};

/// A short control directory (socket paths are limited to ~100 bytes).
fn control_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("xs")
        .tempdir_in("/tmp")
        .unwrap()
}

/// `host` through the test bed's ssh_config, control sockets in `dir`.
fn target(tb: &Testbed, dir: &Path, host: &str) -> SshTarget {
    SshTarget::with_shell(host, RemoteShell::ssh().with_config_file(tb.ssh_config()))
        .unwrap()
        .with_control_dir(dir)
}

/// A quick retry policy for tests (the default waits 5 s between attempts).
const QUICK: RetryPolicy = RetryPolicy {
    attempts: 3,
    delay: Duration::from_millis(200),
};

async fn connect(tb: &Testbed, dir: &Path, host: &str) -> SshTransport {
    SshTransport::builder(target(tb, dir, host))
        .retry(QUICK)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"))
}

/// Runs a command with plain `ssh` (no xpr), for checks independent of the transport.
fn plain_ssh(tb: &Testbed, host: &str, args: &[&str]) -> std::process::Output {
    Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
        .arg(host)
        .args(args)
        .output()
        .unwrap()
}

/// The pid of the master answering at `control_path` (`ssh -O check`).
fn master_pid(tb: &Testbed, control_path: &Path) -> u32 {
    let out = Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .arg("-S")
        .arg(control_path)
        .args(["-O", "check", "xpr-local"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    text.split("pid=")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no master pid in `ssh -O check` output: {text}"))
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid} failed");
}

fn sh(script: &str, args: &[&str]) -> CommandSpec {
    CommandSpec::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
}

#[tokio::test]
async fn runs_commands_on_every_host() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let mut hosts = vec![("xpr-local", tb.var("XPR_SSH_HOST").to_owned())];
    if Testbed::require("netns").is_some() {
        hosts.push(("xpr-hostA", tb.var("XPR_HOSTA").to_owned()));
        hosts.push(("xpr-hostB", tb.var("XPR_HOSTB").to_owned()));
    }
    let dir = control_dir();
    for (host, ip) in hosts {
        let t = connect(&tb, dir.path(), host).await;
        let out = t
            .run(&sh("id -un; echo \"$SSH_CONNECTION\"", &[]), Retry::Safe)
            .await
            .unwrap();
        assert!(out.succeeded(), "{host}: {out:?}");
        let text = out.stdout_text();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(tb.var("XPR_USER")), "{host}");
        let server_ip = lines.next().unwrap().split(' ').nth(2).unwrap();
        assert_eq!(server_ip, ip, "{host} answered from the wrong address");
        t.close().await.unwrap();
    }
}

// Two workers: the command of one handle runs while the test's thread waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_host_is_shared() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let a = connect(&tb, dir.path(), "xpr-local").await;
    let b = connect(&tb, dir.path(), "xpr-local").await;
    assert!(a.shares_connection_with(&b));
    assert_eq!(a.control_path().await, b.control_path().await);
    let other_dir = control_dir();
    let c = connect(&tb, other_dir.path(), "xpr-local").await;
    assert!(!a.shares_connection_with(&c));
    // Usable as a trait object by the layers above.
    let shared: Arc<dyn Transport> = Arc::new(b.clone());
    let out = shared
        .run(&CommandSpec::new("echo").arg("hi"), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hi\n");
    c.close().await.unwrap();
    // One handle closing does not cut the commands of another that shares the connection
    // (two sessions of one program): only the last one to close ends it.
    let mark = format!("/tmp/xpr-close-test-{}", std::process::id());
    let long = {
        let b = b.clone();
        let cmd =
            CommandSpec::new("sh").args(["-c", "touch \"$1\"; sleep 2; rm -f \"$1\"", "sh", &mark]);
        tokio::spawn(async move { b.run(&cmd, Retry::Never).await })
    };
    wait_for("the long command to run", Duration::from_secs(20), || {
        plain_ssh(&tb, "xpr-local", &["test", "-e", &mark])
            .status
            .success()
            .then_some(())
    });
    a.close().await.unwrap();
    let out = long
        .await
        .unwrap()
        .expect("a command of another handle survives close()");
    assert!(out.succeeded());
    assert!(b.control_path().await.is_some_and(|p| p.exists()));
    drop((a, shared));
    b.close().await.unwrap();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the last close() leaves no socket or log behind"
    );
    // close() is not final: the next command reconnects.
    let out = b.run(&CommandSpec::new("true"), Retry::Safe).await.unwrap();
    assert!(out.succeeded());
    let path = b.control_path().await.unwrap();
    let pid = master_pid(&tb, &path);
    // Dropping the last handle ends the master this process started (best effort).
    drop(b);
    assert!(!path.exists(), "the socket is removed on drop");
    wait_for(
        "the master to exit after the last handle was dropped",
        Duration::from_secs(10),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            // Gone, or a zombie waiting for init to reap it.
            stat.map_or(true, |s| s.contains(") Z ")).then_some(())
        },
    );
}

#[tokio::test]
async fn hostile_arguments_env_and_cwd_arrive_unchanged() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;

    let args = hostile_args();
    let cmd = CommandSpec::new("printf").arg("%s\\0").args(args.clone());
    let out = t.run(&cmd, Retry::Safe).await.unwrap();
    assert!(out.succeeded(), "{out:?}");
    assert_eq!(out.stdout, nul_joined(&args), "{}", out.stdout_text());

    // A working directory and environment values with the same bytes.
    let mut name = b"xpr dir 'q' $(x) `y`\n".to_vec();
    name.extend_from_slice(&[0xff, 0xfe]);
    name.extend_from_slice(format!("-{}", std::process::id()).as_bytes());
    let name = OsString::from_vec(name);
    let mkdir = CommandSpec::new("mkdir").arg("--").arg(&name);
    assert!(t.run(&mkdir, Retry::Safe).await.unwrap().succeeded());
    let value = OsString::from_vec(b"v 'a' \"b\" $(c)\n\x80".to_vec());
    let cmd = sh(
        "printf '%s' \"$XPR_V\"; printf '|%s' \"${XPR_U-unset}\"",
        &[],
    )
    .env("XPR_V", value.clone())
    .env("XPR_U", "x")
    .env_remove("XPR_U")
    .cwd(&name);
    let out = t.run(&cmd, Retry::Safe).await.unwrap();
    let mut expected = value.as_bytes().to_vec();
    expected.extend_from_slice(b"|unset");
    assert_eq!(out.stdout, expected, "{}", out.stdout_text());
    let pwd = t
        .run(&CommandSpec::new("pwd").cwd(&name), Retry::Safe)
        .await
        .unwrap();
    assert!(pwd.stdout.ends_with(&[name.as_bytes(), b"\n"].concat()));
    let rmdir = CommandSpec::new("rmdir").arg("--").arg(&name);
    assert!(t.run(&rmdir, Retry::Safe).await.unwrap().succeeded());
    t.close().await.unwrap();
}

#[tokio::test]
async fn exit_codes_signals_stdin_and_missing_programs() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    let out = t
        .run(
            &sh("cat; echo oops >&2; exit 3", &[]).stdin(vec![0u8, 0xff, b'\n']),
            Retry::Never,
        )
        .await
        .unwrap();
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout, [0u8, 0xff, b'\n']);
    assert_eq!(out.stderr, b"oops\n");
    let out = t.run(&sh("kill -9 $$", &[]), Retry::Never).await.unwrap();
    assert_eq!(
        out.code, None,
        "killed by a signal: no exit code, and not an error"
    );
    let out = t
        .run(&CommandSpec::new("xpr-no-such-program"), Retry::Never)
        .await
        .unwrap();
    assert_eq!(
        out.code,
        Some(127),
        "the remote shell's 'not found' is an exit code"
    );
    assert!(
        out.stderr_text().contains("not found"),
        "{}",
        out.stderr_text()
    );
    t.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_max_sessions_wait_their_turn() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    // 24 at once on one connection: without the cap, sshd (MaxSessions 10) refuses some.
    let runs = (0..24).map(|i| {
        let t = t.clone();
        tokio::spawn(async move {
            let cmd = sh("sleep 0.2; echo \"$1\"", &[&i.to_string()]);
            (i, t.run(&cmd, Retry::Safe).await)
        })
    });
    for run in runs.collect::<Vec<_>>() {
        let (i, out) = run.await.unwrap();
        let out = out.unwrap_or_else(|e| panic!("command {i}: {e}"));
        assert_eq!(out.stdout_text(), format!("{i}\n"));
    }
    t.close().await.unwrap();
}

#[tokio::test]
async fn one_connection_beats_fresh_ssh_processes() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    const N: u32 = 100;
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    let cmd = CommandSpec::new("true");
    let start = Instant::now();
    for _ in 0..N {
        assert!(t.run(&cmd, Retry::Safe).await.unwrap().succeeded());
    }
    let muxed = start.elapsed();

    let start = Instant::now();
    for _ in 0..N {
        assert!(plain_ssh(&tb, "xpr-local", &["true"]).status.success());
    }
    let fresh = start.elapsed();

    let speedup = fresh.as_secs_f64() / muxed.as_secs_f64();
    println!(
        "{N} commands: one connection {muxed:.2?} ({:.1} ms each), fresh ssh {fresh:.2?} \
         ({:.1} ms each): {speedup:.1}x faster",
        muxed.as_secs_f64() * 1000.0 / f64::from(N),
        fresh.as_secs_f64() * 1000.0 / f64::from(N),
    );
    assert!(
        speedup > 3.0,
        "only {speedup:.1}x faster than fresh ssh processes"
    );
    t.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_replaced_and_the_next_command_succeeds() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    let echo = |i: u32| CommandSpec::new("echo").arg(i.to_string());

    // Between commands: even Retry::Never commands go through, since they never started.
    for i in 0..10 {
        if i == 5 {
            let path = t.control_path().await.unwrap();
            kill_9(master_pid(&tb, &path));
        }
        let out = t.run(&echo(i), Retry::Never).await.unwrap();
        assert_eq!(out.stdout_text(), format!("{i}\n"));
    }
    // Also when the socket file is gone (`ssh -O exit` by someone else).
    let path = t.control_path().await.unwrap();
    let exit = Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .arg("-S")
        .arg(&path)
        .args(["-O", "exit", "xpr-local"])
        .output()
        .unwrap();
    assert!(exit.status.success());
    assert_eq!(
        t.run(&echo(10), Retry::Never).await.unwrap().stdout,
        b"10\n"
    );
    assert_ne!(t.control_path().await.unwrap(), path, "a new master");

    // During a command: Retry::Never gives ConnectionDropped, Retry::Safe runs it again.
    let marker = format!("xpr-transport-running-{}", std::process::id());
    let slow = sh("touch \"$1\"; sleep 2; rm -f \"$1\"; echo done", &[&marker]);
    for retry in [Retry::Never, Retry::Safe] {
        let running = {
            let (t, slow) = (t.clone(), slow.clone());
            tokio::spawn(async move { t.run(&slow, retry).await })
        };
        wait_for("the slow command to start", Duration::from_secs(20), || {
            plain_ssh(&tb, "xpr-local", &["test", "-e", &marker])
                .status
                .success()
                .then_some(())
        });
        let path = t.control_path().await.unwrap();
        kill_9(master_pid(&tb, &path));
        let result = running.await.unwrap();
        match retry {
            Retry::Never => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), &TransportErrorKind::ConnectionDropped, "{err}");
                let msg = err.to_string();
                assert!(msg.contains("connection to xpr-local dropped"), "{msg}");
                assert!(msg.contains("hint: the command may or may not"), "{msg}");
            }
            Retry::Safe => assert_eq!(result.unwrap().stdout, b"done\n"),
        }
    }
    let _ = plain_ssh(&tb, "xpr-local", &["rm", "-f", &marker]);
    assert_eq!(
        t.run(&echo(11), Retry::Never).await.unwrap().stdout,
        b"11\n"
    );
    t.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_megabytes_stream_up_and_back_unchanged() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    const SIZE: u64 = 200 * 1024 * 1024;
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    // Relative: lands in the remote home directory.
    let remote = PathBuf::from(format!("xpr-transport-blob-{}.bin", std::process::id()));

    let start = Instant::now();
    let mut source = PatternReader::new(SIZE, 7);
    t.upload(&mut source, &remote).await.unwrap();
    let up = start.elapsed();
    let size = t
        .run(
            &CommandSpec::new("stat").args(["-c", "%s"]).arg(&remote),
            Retry::Safe,
        )
        .await
        .unwrap();
    assert_eq!(size.stdout_text().trim(), SIZE.to_string());

    let start = Instant::now();
    let mut sink = HashWriter::default();
    t.download(&remote, &mut sink).await.unwrap();
    let down = start.elapsed();
    let rm = CommandSpec::new("rm").arg("-f").arg(&remote);
    assert!(t.run(&rm, Retry::Safe).await.unwrap().succeeded());

    assert_eq!(sink.len, SIZE);
    assert_eq!(sink.hasher.finalize(), source.hasher.finalize());
    let mb = SIZE as f64 / 1e6;
    println!(
        "ssh: 200 MiB up in {up:.2?} ({:.0} MB/s), back in {down:.2?} ({:.0} MB/s), SHA-256 unchanged",
        mb / up.as_secs_f64(),
        mb / down.as_secs_f64()
    );
    t.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_streams_through_a_remote_command() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let t = connect(&tb, dir.path(), "xpr-local").await;
    let remote_dir = format!("xpr-transport-tar-{}", std::process::id());
    let mut archive = tar::Builder::new(Vec::new());
    let content = b"x\xff\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    archive
        .append_data(&mut header, "in put/a b.txt", &content[..])
        .unwrap();
    let archive = archive.into_inner().unwrap();

    let extract = sh(
        "mkdir -p \"$1\" && cd \"$1\" && tar -x -f -",
        &[&remote_dir],
    );
    let out = t
        .run_streaming(&extract, Some(&mut &archive[..]), None)
        .await
        .unwrap();
    assert!(out.succeeded(), "{}", out.stderr_text());
    let create = CommandSpec::new("tar")
        .args(["-c", "-f", "-", "in put"])
        .cwd(&remote_dir);
    let mut packed = Vec::new();
    let out = t
        .run_streaming(&create, None, Some(&mut packed))
        .await
        .unwrap();
    assert!(out.succeeded(), "{}", out.stderr_text());
    let mut back = tar::Archive::new(&packed[..]);
    let mut found = false;
    for entry in back.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new("in put/a b.txt") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            assert_eq!(bytes, content);
            found = true;
        }
    }
    assert!(found);
    let rm = CommandSpec::new("rm").arg("-rf").arg(&remote_dir);
    assert!(t.run(&rm, Retry::Safe).await.unwrap().succeeded());
    t.close().await.unwrap();
}

#[tokio::test]
async fn a_multi_word_remsh_cmd_is_honoured() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let remsh = format!(
        "/usr/bin/ssh -F {} -p 2222 -oConnectTimeout=5 -q",
        tb.ssh_config().display()
    );
    let target = SshTarget::new("xpr-local", Some(&remsh))
        .unwrap()
        .with_control_dir(dir.path());
    assert_eq!(target.shell().program(), "/usr/bin/ssh");
    let t = SshTransport::builder(target)
        .retry(QUICK)
        .connect()
        .await
        .unwrap();
    let out = t
        .run(&CommandSpec::new("echo").arg("ok"), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"ok\n");
    t.close().await.unwrap();

    let err = SshTarget::new("xpr-local", Some("ssh -o ControlPath=/tmp/x")).unwrap_err();
    assert_eq!(err.kind(), &TransportErrorKind::InvalidRemoteShell);
    assert!(err.to_string().contains("ControlPath"), "{err}");
}

/// A temporary ssh_config with one host `name` on the test bed's sshd, `extra` lines added.
fn temp_config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.config"));
    std::fs::write(
        &path,
        format!(
            "Host {name}\n  HostName 127.0.0.1\n  User xprtest\n  BatchMode yes\n  \
             ConnectTimeout 5\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n\
             GlobalKnownHostsFile /dev/null\n{extra}"
        ),
    )
    .unwrap();
    path
}

async fn connect_error(config: &Path, dir: &Path, host: &str) -> TransportError {
    let target = SshTarget::with_shell(host, RemoteShell::ssh().with_config_file(config))
        .unwrap()
        .with_control_dir(dir);
    let policy = RetryPolicy {
        attempts: 1,
        delay: Duration::ZERO,
    };
    match SshTransport::builder(target).retry(policy).connect().await {
        Ok(_) => panic!("connecting to {host} succeeded"),
        Err(e) => e,
    }
}

fn new_key(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    key
}

#[tokio::test]
async fn connection_failures_are_typed_and_say_what_to_do() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let d = dir.path();
    let key = tb.var("XPR_SSH_KEY");
    let known = tb.var("XPR_SSH_KNOWN_HOSTS");
    let port = tb.var("XPR_SSH_PORT");

    // A name that does not resolve.
    let e = connect_error(&tb.ssh_config(), d, "xpr-no-such-host.invalid").await;
    assert_eq!(e.kind(), &TransportErrorKind::NameNotResolved, "{e}");
    assert!(
        e.to_string()
            .starts_with("cannot resolve the host name of xpr-no-such-host.invalid"),
        "{e}"
    );
    assert!(e.to_string().contains("(hint: "), "{e}");

    // A key the server does not accept.
    let wrong = new_key(d, "wrong_key");
    let cfg = temp_config(
        d,
        "xpr-badkey",
        &format!(
            "  Port {port}\n  IdentityFile {}\n  UserKnownHostsFile {known}\n",
            wrong.display()
        ),
    );
    let e = connect_error(&cfg, d, "xpr-badkey").await;
    assert_eq!(e.kind(), &TransportErrorKind::AuthRefused, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("xpr-badkey refused the login"), "{msg}");
    assert!(msg.contains("Permission denied (publickey"), "{msg}");
    assert!(
        msg.contains("ssh-add") && msg.contains("xpr connect"),
        "{msg}"
    );

    // A host key that is not known.
    let empty = d.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let cfg = temp_config(
        d,
        "xpr-newkey",
        &format!(
            "  Port {port}\n  IdentityFile {key}\n  UserKnownHostsFile {}\n",
            empty.display()
        ),
    );
    let e = connect_error(&cfg, d, "xpr-newkey").await;
    assert_eq!(e.kind(), &TransportErrorKind::HostKeyUnknown, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("host key for xpr-newkey is not known"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "(hint: run `ssh -F {} xpr-newkey` once to accept it, or add it to known_hosts)",
            cfg.display()
        )),
        "{msg}"
    );

    // A host key that changed.
    let other = new_key(d, "other_host_key");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut parts = other_pub.split_whitespace();
    let forged = d.join("forged_known_hosts");
    std::fs::write(
        &forged,
        format!(
            "[127.0.0.1]:{port} {} {}\n",
            parts.next().unwrap(),
            parts.next().unwrap()
        ),
    )
    .unwrap();
    let cfg = temp_config(
        d,
        "xpr-changed",
        &format!(
            "  Port {port}\n  IdentityFile {key}\n  UserKnownHostsFile {}\n",
            forged.display()
        ),
    );
    let e = connect_error(&cfg, d, "xpr-changed").await;
    assert_eq!(e.kind(), &TransportErrorKind::HostKeyChanged, "{e}");
    assert!(e.to_string().contains("ssh-keygen -R"), "{e}");

    // Nothing listening.
    let cfg = temp_config(
        d,
        "xpr-closed",
        &format!("  Port 1\n  IdentityFile {key}\n  UserKnownHostsFile {known}\n"),
    );
    let e = connect_error(&cfg, d, "xpr-closed").await;
    assert_eq!(e.kind(), &TransportErrorKind::HostUnreachable, "{e}");
    assert!(e.to_string().starts_with("cannot reach xpr-closed"), "{e}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn a_master_opened_by_hand_is_found_and_left_open() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let dir = control_dir();
    let target = target(&tb, dir.path(), "xpr-local");
    assert!(matches!(
        user_master_status(&target),
        MasterStatus::NotRunning { .. }
    ));
    // What `xpr connect` does (prompts, if any, would go to the terminal).
    let path = open_user_master(&target).unwrap();
    assert_eq!(path, target.user_control_path());
    let MasterStatus::Running { pid: Some(pid), .. } = user_master_status(&target) else {
        panic!("no master running after open_user_master");
    };

    let t = SshTransport::builder(target.clone())
        .retry(QUICK)
        .connect()
        .await
        .unwrap();
    assert!(t.uses_user_master().await);
    assert_eq!(t.control_path().await, Some(path.clone()));
    let out = t
        .run(&CommandSpec::new("echo").arg("2fa"), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"2fa\n");
    t.close().await.unwrap();
    assert_eq!(
        user_master_status(&target),
        MasterStatus::Running {
            control_path: path.clone(),
            pid: Some(pid)
        },
        "xpr must not close a master the user opened"
    );

    // What `xpr disconnect` does.
    assert!(close_user_master(&target).unwrap());
    assert!(matches!(
        user_master_status(&target),
        MasterStatus::NotRunning { .. }
    ));
    assert!(!close_user_master(&target).unwrap());
}

// ---- helpers shared in spirit with tests/transport_local.rs ----

/// Arguments a shell would mangle if anyone quoted by hand.
fn hostile_args() -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "plain",
        "",
        "two words",
        "it's",
        "\"double\"",
        "$(touch /tmp/xpr-pwned)",
        "`id`",
        "line one\nline two",
        "back\\slash",
        "*",
        "~",
        "a;b|c&d>e<f",
        "-n",
        "--",
        "'\\''",
        "tab\there",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    args.push(OsString::from_vec(vec![0xff, 0xfe, b'x', 0x80]));
    args.push(OsString::from("caf\u{e9}"));
    args
}

/// What `printf '%s\0' args...` prints for `args`.
fn nul_joined(args: &[OsString]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for arg in args {
        bytes.extend_from_slice(arg.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// A deterministic, incompressible byte stream of a given length that hashes what it yields:
/// a 1 MiB pseudo-random block repeated, each copy stamped with its index.
struct PatternReader {
    block: Vec<u8>,
    offset: u64,
    len: u64,
    hasher: Sha256,
}

impl PatternReader {
    const BLOCK: usize = 1 << 20;

    fn new(len: u64, seed: u64) -> Self {
        let mut state = seed | 1;
        let mut block = Vec::with_capacity(Self::BLOCK);
        while block.len() < Self::BLOCK {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.extend_from_slice(&state.to_le_bytes());
        }
        Self {
            block,
            offset: 0,
            len,
            hasher: Sha256::new(),
        }
    }
}

impl AsyncRead for PatternReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let in_block = (this.offset % Self::BLOCK as u64) as usize;
        if in_block == 0 {
            let index = this.offset / Self::BLOCK as u64;
            this.block[..8].copy_from_slice(&index.to_le_bytes());
        }
        let n = (Self::BLOCK - in_block)
            .min(buf.remaining())
            .min((this.len - this.offset) as usize);
        let chunk = &this.block[in_block..in_block + n];
        this.hasher.update(chunk);
        buf.put_slice(chunk);
        this.offset += n as u64;
        Poll::Ready(Ok(()))
    }
}

/// A sink that only counts and hashes.
#[derive(Default)]
struct HashWriter {
    len: u64,
    hasher: Sha256,
}

impl AsyncWrite for HashWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
