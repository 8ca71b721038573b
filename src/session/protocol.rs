//! The remote side of a session: constant `sh` programs and the framing of their replies.
//!
//! Every program here is fixed text run as `sh -c PROGRAM NAME ARGS...`, kept as a file in
//! `sh/` (with a header saying what it does, its arguments and its stdin/stdout protocol) and
//! carried in its wire form (see [`shell_program!`](crate::command)); paths and names reach
//! it only as positional arguments and command lines only as framed bytes on stdin, so nothing
//! a user chooses is ever pasted into shell text (the lines themselves are built by
//! [`CommandSpec::to_shell_line`](crate::command::CommandSpec::to_shell_line), which quotes
//! every word).
//!
//! # The batch protocol ([`BATCH_PROGRAM`])
//!
//! `sh -c BATCH_PROGRAM xpr-batch LOCKFILE`, stdin = one frame per command line: `L<line>\n`
//! for a line without newline or NUL bytes (read by the shell's own `read`, no process), else
//! `<decimal length>\n<line bytes>` (read by `head -c`).
//! The program creates the lock file's directory (mode 700), takes `flock` on the lock file for
//! its whole run (so no two batches, and no batch and a crash recovery, overlap on one remote
//! base), prints `LOCKED`, then for each record `i` (from 0) runs the line in a subshell with
//! stdin from `/dev/null` and prints
//!
//! ```text
//! R <i> <exit code> <stdout length> <stderr length>\n<stdout bytes><stderr bytes>
//! ```
//!
//! and `END` after the last one. Exit 3 means the lock could not be taken: nothing ran. A reply
//! cut short (connection dropped) holds the records of the lines that ran; a line whose record
//! is missing may or may not have run.
//!
//! Each line costs three processes besides its own command (the subshell, one `wc` for both
//! sizes, one `cat`): with hundreds of `sbatch` in one batch, the program's own forks are a
//! visible part of the submission time, so it keeps them few.

use crate::command::{CommandOutput, shell_program};

/// The batch program (see the module docs): `sh/batch.sh`.
pub const BATCH_PROGRAM: &str = shell_program!(include_str!("sh/batch.sh"));

/// The exit code of [`BATCH_PROGRAM`] when it could not take the lock (nothing ran).
pub const BATCH_LOCK_FAILED: i32 = 3;

/// Extracts a tar stream from stdin into `$1` (created private to the user): `sh/stage.sh`.
pub const STAGE_PROGRAM: &str = shell_program!(include_str!("sh/stage.sh"));

/// Writes a tar stream of the run dirs `$2...` that exist under `$1` to stdout:
/// `sh/collect.sh`.
pub const COLLECT_PROGRAM: &str = shell_program!(include_str!("sh/collect.sh"));

/// Waits (naps `$1`) until one of the run dirs `$2...` has its exit status marker, printing
/// those that have: `sh/watch.sh`.
pub const WATCH_PROGRAM: &str = shell_program!(include_str!("sh/watch.sh"));

/// Removes the run dirs `$2...` under `$1` (names checked by the caller: `run_<id>`):
/// `sh/clean.sh`.
pub const CLEAN_PROGRAM: &str = shell_program!(include_str!("sh/clean.sh"));

/// What was added to files of the run dir `$1` since given offsets, framed: `sh/tail.sh`.
pub const TAIL_PROGRAM: &str = shell_program!(include_str!("sh/tail.sh"));

/// Names the run dirs (`run_*`, `grp_*`) under `$1`, one per line: `sh/list.sh`.
pub const LIST_PROGRAM: &str = shell_program!(include_str!("sh/list.sh"));

/// Stdin of [`BATCH_PROGRAM`] for these command lines.
pub fn frame_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        if line.contains(&b'\n') || line.contains(&0) {
            out.extend_from_slice(format!("{}\n", line.len()).as_bytes());
            out.extend_from_slice(line);
        } else {
            out.push(b'L');
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out
}

/// What a batch reply held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchReply {
    /// True when the program printed `LOCKED` (so it held the lock before running anything).
    pub locked: bool,
    /// One output per line that ran, by index.
    pub records: Vec<(usize, CommandOutput)>,
    /// True when `END` was seen: every line ran.
    pub complete: bool,
    /// What did not parse, if anything (the reply is then cut at that point).
    pub error: Option<String>,
}

/// Parses the stdout of [`BATCH_PROGRAM`]. Never fails: a malformed tail is reported in
/// [`BatchReply::error`] and the records before it are kept.
pub fn parse_batch_reply(stdout: &[u8]) -> BatchReply {
    let mut reply = BatchReply::default();
    let mut rest = stdout;
    let next_line = |rest: &mut &[u8]| -> Option<String> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        *rest = &rest[end + 1..];
        Some(line)
    };
    while !rest.is_empty() {
        let Some(line) = next_line(&mut rest) else {
            reply.error = Some("reply ends inside a line".to_owned());
            break;
        };
        if line == "LOCKED" {
            reply.locked = true;
            continue;
        }
        if line == "END" {
            reply.complete = true;
            break;
        }
        let words: Vec<&str> = line.split(' ').collect();
        let parsed = match words[..] {
            ["R", i, code, out, err] => (|| {
                Some((
                    i.parse::<usize>().ok()?,
                    code.parse::<i32>().ok()?,
                    out.parse::<usize>().ok()?,
                    err.parse::<usize>().ok()?,
                ))
            })(),
            _ => None,
        };
        let Some((index, code, out_len, err_len)) = parsed else {
            reply.error = Some(format!("unexpected line {line:?}"));
            break;
        };
        if rest.len() < out_len + err_len {
            reply.error = Some(format!("record {index} is cut short"));
            break;
        }
        let output = CommandOutput {
            code: Some(code),
            stdout: rest[..out_len].to_vec(),
            stderr: rest[out_len..out_len + err_len].to_vec(),
        };
        rest = &rest[out_len + err_len..];
        reply.records.push((index, output));
    }
    reply
}

/// The last `max` bytes of `bytes` as text (from a line start when one is near).
pub fn tail_text(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    let mut slice = &bytes[start..];
    if start > 0
        && let Some(nl) = slice.iter().position(|&b| b == b'\n')
        && nl + 1 < slice.len()
    {
        slice = &slice[nl + 1..];
    }
    String::from_utf8_lossy(slice).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watch program over `dirs` (absolute) with one look and no gather: its reply lines.
    fn watch(dirs: &[&std::path::Path]) -> Vec<String> {
        let out = std::process::Command::new("sh")
            .args(["-c", WATCH_PROGRAM, "xpr-watch", "", "0"])
            .args(dirs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_marker_still_empty_is_no_marker() {
        let root = tempfile::tempdir().unwrap();
        let dir = |name: &str, marker: Option<&str>| {
            let d = root.path().join(name);
            std::fs::create_dir(&d).unwrap();
            if let Some(text) = marker {
                std::fs::write(d.join("xpr.exit"), text).unwrap();
            }
            d
        };
        let done = dir("done", Some("3\n"));
        let empty = dir("empty", Some(""));
        let none = dir("none", None);
        // Only the empty one and the one without: nothing to report.
        assert!(watch(&[&empty, &none]).is_empty());
        assert_eq!(
            watch(&[&empty, &done, &none]),
            vec![format!("3 {}", done.display())]
        );
    }

    /// Once a marker is there the watch waits `gather` for others, unless every run dir it
    /// watches has one: then it replies at once.
    #[test]
    fn the_watch_gathers_only_while_a_run_dir_has_no_marker() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("a");
        let b = root.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("xpr.exit"), "0\n").unwrap();
        let timed = |dirs: &[&std::path::Path]| {
            let started = std::time::Instant::now();
            let out = std::process::Command::new("sh")
                .args(["-c", WATCH_PROGRAM, "xpr-watch", "", "2"])
                .args(dirs)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            (started.elapsed(), String::from_utf8(out.stdout).unwrap())
        };
        let (took, out) = timed(&[&a, &b]);
        assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
        assert_eq!(out, format!("0 {}\n", a.display()));
        std::fs::write(b.join("xpr.exit"), "1\n").unwrap();
        let (took, out) = timed(&[&a, &b]);
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        assert_eq!(out.lines().count(), 2, "{out}");
    }

    #[test]
    fn framed_replies_parse_with_binary_bytes() {
        let mut reply = b"LOCKED\nR 0 0 3 0\n12\nR 1 1 0 5\nno\nxyEND\n".to_vec();
        let parsed = parse_batch_reply(&reply);
        assert!(parsed.locked && parsed.complete && parsed.error.is_none());
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.records[0].1.stdout, b"12\n");
        assert_eq!(parsed.records[1].1.stderr, b"no\nxy");
        assert_eq!(parsed.records[1].1.code, Some(1));
        reply.truncate(22);
        let cut = parse_batch_reply(&reply);
        assert_eq!(cut.records.len(), 1);
        assert!(!cut.complete && cut.error.is_some());
    }

    #[test]
    fn frames_are_plain_lines_or_length_prefixed() {
        assert_eq!(
            frame_lines(&[b"a\nb".to_vec(), b"c d".to_vec(), b"".to_vec()]),
            b"3\na\nbLc d\nL\n"
        );
    }

    #[test]
    fn tails_start_at_a_line() {
        assert_eq!(tail_text(b"one\ntwo\nthree\n", 8), "three");
        assert_eq!(tail_text(b"ab", 8), "ab");
    }
}
