//! A command as data: program, arguments, environment, working directory and standard input.
//!
//! Schedulers build [`CommandSpec`]s and never run them; transports run them and never build
//! them. A spec turns into a process (or a remote shell line) at the last moment, and its
//! [`Display`](std::fmt::Display) is a shell-escaped line a user can paste to reproduce a failure.
//! [`shell_quote`] is the one place in the crate where a word is quoted for a POSIX shell.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// What to do with one environment variable of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvChange {
    /// Set the variable to this value.
    Set(OsString),
    /// Remove the variable from the command's environment.
    Unset,
}

/// A command to run: program, arguments, environment changes, working directory and stdin bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program, looked up in `PATH` where it runs.
    pub program: OsString,
    /// The arguments, each passed as one word whatever bytes it holds.
    pub args: Vec<OsString>,
    /// Environment changes on top of the environment where it runs, in order.
    pub env: Vec<(String, EnvChange)>,
    /// The working directory; `None` means wherever the transport starts (the home directory
    /// over SSH).
    pub cwd: Option<OsString>,
    /// Bytes written to the command's standard input, which is then closed.
    pub stdin: Vec<u8>,
}

impl CommandSpec {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            ..Self::default()
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), EnvChange::Set(value.into())));
        self
    }

    /// Removes an environment variable for the command.
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env.push((key.into(), EnvChange::Unset));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<OsString>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the bytes written to standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    /// The command as one POSIX shell line: `cd DIR && env -u X K=V program args...`, every word
    /// quoted. This is what the SSH transport sends and what error messages show.
    pub fn to_shell_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        if let Some(dir) = &self.cwd {
            line.extend_from_slice(b"cd ");
            line.extend(shell_quote(dir));
            line.extend_from_slice(b" && ");
        }
        if !self.env.is_empty() {
            // `env` reads options only before the first assignment (`env A=1 -u B` would run a
            // program named `-u`), and only a variable's last change counts: so each variable
            // once, its last change, the removals first.
            let mut last: Vec<(&str, &EnvChange)> = Vec::new();
            for (key, change) in &self.env {
                last.retain(|(k, _)| k != key);
                last.push((key, change));
            }
            line.extend_from_slice(b"env");
            for (key, _) in last.iter().filter(|(_, c)| **c == EnvChange::Unset) {
                line.extend_from_slice(b" -u ");
                line.extend(shell_quote(OsStr::new(key)));
            }
            for (key, change) in &last {
                if let EnvChange::Set(value) = change {
                    let mut word = OsString::from(format!("{key}="));
                    word.push(value);
                    line.push(b' ');
                    line.extend(shell_quote(&word));
                }
            }
            line.push(b' ');
        }
        line.extend(shell_quote(&self.program));
        for arg in &self.args {
            line.push(b' ');
            line.extend(shell_quote(arg));
        }
        line
    }
}

impl fmt::Display for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_shell_line()))
    }
}

/// Quotes one word for a POSIX shell so that the shell passes it on byte for byte.
///
/// Words made only of safe characters are left bare for readability; anything else is wrapped
/// in single quotes, with each `'` written as `'\''`. Single quotes keep every other byte
/// (newlines, `$`, backticks, non-UTF-8) literal.
pub fn shell_quote(word: &OsStr) -> Vec<u8> {
    let bytes = word.as_bytes();
    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(b);
    if !bytes.is_empty() && bytes.iter().all(safe) {
        return bytes.to_vec();
    }
    let mut quoted = Vec::with_capacity(bytes.len() + 2);
    quoted.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(b);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// What a finished command left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit code, or `None` when the command was killed by a signal.
    pub code: Option<i32>,
    /// Everything the command wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to standard error.
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// An output with exit code 0 and this stdout; handy for parser tests.
    pub fn success(stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            code: Some(0),
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// True when the command exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as text, invalid UTF-8 replaced.
    pub fn stdout_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Standard error as text, invalid UTF-8 replaced.
    pub fn stderr_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

/// A shell program kept as a `.sh` file, as commands carry it (its *wire form*): the file's
/// text without comment lines (the `#!` line, the header, `# shellcheck` directives), blank
/// lines and indentation, its lines joined by `\n` with none after the last one.
///
/// The files are written for `shellcheck` and read by people; the wire form keeps commands,
/// and the error messages that show them, short. Dropping those lines is safe only in a
/// program with no here-document and no multi-line quoted string whose lines start with `#`
/// or depend on their indentation; every program kept this way is written so. A comment after
/// code on the same line is kept: it is harmless, and telling it from a `#` inside quotes
/// would need a shell parser.
///
/// Evaluated at compile time: `shell_program!(include_str!("sh/batch.sh"))` is a
/// `&'static str` constant.
macro_rules! shell_program {
    ($source:expr) => {{
        const SOURCE: &str = $source;
        const LEN: usize = $crate::command::wire_len(SOURCE);
        const WIRE: [u8; LEN] = $crate::command::wire_bytes::<LEN>(SOURCE);
        match ::core::str::from_utf8(&WIRE) {
            Ok(text) => text,
            Err(_) => panic!("the wire form of a shell program is UTF-8"),
        }
    }};
}
pub(crate) use shell_program;

/// The wire form of one line of a shell program file ([`shell_program!`]): the line without
/// its indentation, or `None` for a blank or comment line. `line` is `bytes[start..end]`.
const fn wire_line(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut first = start;
    while first < end && (bytes[first] == b' ' || bytes[first] == b'\t') {
        first += 1;
    }
    if first == end || bytes[first] == b'#' {
        None
    } else {
        Some((first, end))
    }
}

/// Walks the kept lines of `source`, copying them into `out` when it is given; returns the
/// length of the wire form.
const fn wire_walk(source: &str, mut out: Option<&mut [u8]>) -> usize {
    let bytes = source.as_bytes();
    let mut len = 0;
    let mut start = 0;
    while start < bytes.len() {
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'\n' {
            end += 1;
        }
        if let Some((mut from, to)) = wire_line(bytes, start, end) {
            if len > 0 {
                if let Some(out) = &mut out {
                    out[len] = b'\n';
                }
                len += 1;
            }
            while from < to {
                if let Some(out) = &mut out {
                    out[len] = bytes[from];
                }
                len += 1;
                from += 1;
            }
        }
        start = end + 1;
    }
    len
}

/// The length of the wire form of `source` (see [`shell_program!`]).
pub(crate) const fn wire_len(source: &str) -> usize {
    wire_walk(source, None)
}

/// The wire form of `source` (see [`shell_program!`]); `N` must be [`wire_len`]`(source)`.
pub(crate) const fn wire_bytes<const N: usize>(source: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let len = wire_walk(source, Some(&mut out));
    assert!(len == N, "wire_bytes: N is not wire_len(source)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_hostile_words_single() {
        assert_eq!(shell_quote(OsStr::new("plain-word")), b"plain-word");
        assert_eq!(shell_quote(OsStr::new("")), b"''");
        assert_eq!(shell_quote(OsStr::new("it's $(x)")), b"'it'\\''s $(x)'");
    }

    #[test]
    fn display_is_a_pasteable_line() {
        let cmd = CommandSpec::new("sbatch")
            .arg("job script.sh")
            .cwd("/scratch/run 1")
            .env("A", "1")
            .env_remove("B");
        assert_eq!(
            cmd.to_string(),
            "cd '/scratch/run 1' && env -u B A=1 sbatch 'job script.sh'"
        );
        // Only the last change of a variable counts, as when applied in order.
        let cmd = CommandSpec::new("p")
            .env("A", "1")
            .env_remove("A")
            .env_remove("B")
            .env("B", "2");
        assert_eq!(cmd.to_string(), "env -u A B=2 p");
    }

    #[test]
    fn shell_programs_travel_without_comments_blank_lines_and_indentation() {
        const WIRE: &str = shell_program!(
            "#!/bin/sh\n# header\n\nset -u\n  # shellcheck disable=SC2046\n  echo a  # kept\n\tb\n"
        );
        assert_eq!(WIRE, "set -u\necho a  # kept\nb");
        assert_eq!(shell_program!("one line"), "one line");
        assert_eq!(shell_program!("# only a comment\n"), "");
    }
}
