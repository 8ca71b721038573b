//! LocalTransport through the public API: argv bytes survive unchanged, env/cwd/stdin are
//! applied, exit codes and signals are reported, chatty children do not deadlock, and 200 MB
//! stream up and back with their SHA-256 unchanged.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use xpr::command::CommandSpec;
use xpr::transport::{LocalTransport, Retry, Transport, TransportErrorKind};

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
    args.push(OsString::from_vec("caf\u{e9}".as_bytes().to_vec()));
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

#[tokio::test]
async fn hostile_arguments_arrive_unchanged() {
    let args = hostile_args();
    let cmd = CommandSpec::new("printf").arg("%s\\0").args(args.clone());
    let out = LocalTransport::new().run(&cmd, Retry::Never).await.unwrap();
    assert!(out.succeeded(), "{out:?}");
    assert_eq!(out.stdout, nul_joined(&args));
    assert!(!std::path::Path::new("/tmp/xpr-pwned").exists());
}

#[tokio::test]
async fn env_cwd_and_stdin_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let cmd = CommandSpec::new("sh")
        .args([
            "-c",
            "printf '%s|%s|' \"$XPR_A\" \"${XPR_B-unset}\"; pwd; cat",
        ])
        .env("XPR_A", "with space $(x)")
        .env("XPR_B", "set first")
        .env_remove("XPR_B")
        .cwd(dir.path())
        .stdin(vec![0u8, 0xff, b'\n', b'z']);
    let out = transport.run(&cmd, Retry::Safe).await.unwrap();
    let mut expected = format!("with space $(x)|unset|{}\n", dir.path().display()).into_bytes();
    expected.extend_from_slice(&[0u8, 0xff, b'\n', b'z']);
    assert_eq!(out.stdout, expected, "{}", out.stdout_text());
}

#[tokio::test]
async fn exit_codes_and_signals_are_outputs_not_errors() {
    let t = LocalTransport::new();
    let out = t
        .run(
            &CommandSpec::new("sh").args(["-c", "echo oops >&2; exit 3"]),
            Retry::Never,
        )
        .await
        .unwrap();
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stderr, b"oops\n");
    let out = t
        .run(
            &CommandSpec::new("sh").args(["-c", "kill -9 $$"]),
            Retry::Never,
        )
        .await
        .unwrap();
    assert_eq!(out.code, None, "killed by a signal has no exit code");
}

#[tokio::test]
async fn a_missing_program_is_a_typed_error() {
    let cmd = CommandSpec::new("xpr-no-such-program").arg("x y");
    let err = LocalTransport::new()
        .run(&cmd, Retry::Never)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &TransportErrorKind::CommandNotStarted);
    assert_eq!(err.host(), "local");
    assert_eq!(err.command(), Some("xpr-no-such-program 'x y'"));
    assert!(
        err.to_string().contains("xpr-no-such-program 'x y'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatty_children_do_not_deadlock() {
    // 8 MB on each of stdout and stderr, interleaved, while 8 MB of stdin are fed: any
    // sequential pipe handling would block on a full 64 KiB pipe.
    let script = "head -c 8000000 /dev/zero >&2 & cat; wait";
    let cmd = CommandSpec::new("sh")
        .args(["-c", script])
        .stdin(vec![7u8; 8_000_000]);
    let out = LocalTransport::new().run(&cmd, Retry::Never).await.unwrap();
    assert!(out.succeeded());
    assert_eq!(out.stdout.len(), 8_000_000);
    assert_eq!(out.stderr.len(), 8_000_000);
}

#[test]
fn run_blocking_works_outside_a_runtime() {
    let out = LocalTransport::new()
        .run_blocking(&CommandSpec::new("echo").arg("hi"), Retry::Safe)
        .unwrap();
    assert_eq!(out.stdout, b"hi\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_megabytes_stream_up_and_back_unchanged() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob.bin");
    let t = LocalTransport::new();

    let start = Instant::now();
    let mut source = PatternReader::new(SIZE, 42);
    t.upload(&mut source, &path).await.unwrap();
    let up = start.elapsed();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), SIZE);

    let start = Instant::now();
    let mut sink = HashWriter::default();
    t.download(&path, &mut sink).await.unwrap();
    let down = start.elapsed();

    assert_eq!(sink.len, SIZE);
    assert_eq!(sink.hasher.finalize(), source.hasher.finalize());
    println!("local: 200 MB up in {up:.2?}, back in {down:.2?}, SHA-256 unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_streams_through_stdin_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let t = LocalTransport::new();
    let mut archive = tar::Builder::new(Vec::new());
    let content = b"hello \xff world\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    archive
        .append_data(&mut header, "sub dir/file 1.txt", &content[..])
        .unwrap();
    let archive = archive.into_inner().unwrap();

    let extract = CommandSpec::new("tar")
        .args(["-x", "-f", "-"])
        .cwd(dir.path());
    let out = t
        .run_streaming(&extract, Some(&mut &archive[..]), None)
        .await
        .unwrap();
    assert!(out.succeeded(), "{}", out.stderr_text());
    assert_eq!(
        std::fs::read(dir.path().join("sub dir/file 1.txt")).unwrap(),
        content
    );

    let create = CommandSpec::new("tar")
        .args(["-c", "-f", "-", "sub dir"])
        .cwd(dir.path());
    let mut packed = Vec::new();
    let out = t
        .run_streaming(&create, None, Some(&mut packed))
        .await
        .unwrap();
    assert!(out.succeeded() && out.stdout.is_empty());
    let mut entries = tar::Archive::new(&packed[..]);
    let names: Vec<String> = entries
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&"sub dir/file 1.txt".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_failed_upload_is_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing dir/file");
    let err = LocalTransport::new()
        .upload(&mut &b"data"[..], &path)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), TransportErrorKind::CommandFailed { code: Some(c) } if *c != 0),
        "{err}"
    );
    assert!(err.to_string().contains("missing dir"), "{err}");
}

/// A deterministic, incompressible byte stream of a given length that hashes what it yields:
/// a 1 MiB pseudo-random block repeated, each copy stamped with its index (cheap to make even
/// in a debug build).
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
            // xorshift64
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
