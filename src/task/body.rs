//! The task's part of the job script: what runs after the scheduler header and the system's
//! `commands`, in the run dir.
//!
//! The body records its start ([`STARTED_FILE`]), runs the command with stdout and stderr to
//! [`STDOUT_FILE`] and [`STDERR_FILE`], and writes the exit status to [`EXIT_FILE`] *last*, by
//! rename, so whoever sees that file sees a finished job with all its outputs written.

use std::ffi::OsStr;

use super::spec::{TaskCommand, TaskSpec};
use crate::command::shell_quote;

/// Written (by rename) when the job starts: `<unix time> <hostname>`.
pub const STARTED_FILE: &str = "xpr.started";
/// The command's standard output.
pub const STDOUT_FILE: &str = "xpr.stdout";
/// The command's standard error.
pub const STDERR_FILE: &str = "xpr.stderr";
/// Written (by rename) last: the command's exit status.
pub const EXIT_FILE: &str = "xpr.exit";
/// The task's JSON arguments, when it has some.
pub const ARGS_FILE: &str = "xpr_args.json";

/// The body lines of the job script for `spec`.
pub fn body_lines(spec: &TaskSpec) -> Vec<String> {
    let quote = |word: &str| String::from_utf8_lossy(&shell_quote(OsStr::new(word))).into_owned();
    let mut lines = vec![
        "# --- xpr task".to_owned(),
        format!(
            "printf '%s %s\\n' \"$(date +%s)\" \"$(hostname)\" > {STARTED_FILE}.tmp && mv -f {STARTED_FILE}.tmp {STARTED_FILE}"
        ),
    ];
    for (key, value) in &spec.env {
        // Keys are checked to be shell names when the task is created.
        lines.push(format!("export {key}={}", quote(value)));
    }
    if spec.args.is_some() {
        lines.push(format!("export XPR_ARGS_FILE=\"$PWD/{ARGS_FILE}\""));
    }
    lines.push("(".to_owned());
    lines.extend(spec.pre_commands.iter().map(|l| format!("  {l}")));
    match &spec.command {
        TaskCommand::Argv(argv) => {
            let words: Vec<String> = argv.iter().map(|w| quote(w)).collect();
            lines.push(format!("  {}", words.join(" ")));
        }
        TaskCommand::Shell(line) => lines.push(format!("  {line}")),
    }
    lines.push(format!(") > {STDOUT_FILE} 2> {STDERR_FILE} < /dev/null"));
    lines.push("xpr_status=$?".to_owned());
    if !spec.post_commands.is_empty() {
        lines.push("(".to_owned());
        lines.extend(spec.post_commands.iter().map(|l| format!("  {l}")));
        lines.push(format!(") >> {STDOUT_FILE} 2>> {STDERR_FILE} < /dev/null"));
    }
    lines.push(format!(
        "printf '%s\\n' \"$xpr_status\" > {EXIT_FILE}.tmp && mv -f {EXIT_FILE}.tmp {EXIT_FILE}"
    ));
    lines.push("exit \"$xpr_status\"".to_owned());
    lines
}

/// True when `key` can be an environment variable name in a POSIX shell.
pub fn is_env_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
