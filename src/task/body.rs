//! The task's part of the job script: what runs after the scheduler header and the system's
//! `commands`, in the run dir.
//!
//! The body records its start ([`STARTED_FILE`]), runs the command with stdout and stderr to
//! [`STDOUT_FILE`] and [`STDERR_FILE`], and writes the exit status to [`EXIT_FILE`] *last*, so
//! whoever sees that file sees a finished job with all its outputs written. It is written in
//! place, not by rename (a `mv` is a process: in a pack of short tasks, as much again as the
//! task): a reader takes a marker that holds no exit status yet (created, not yet written, or
//! the job killed in between) for no marker at all.
//!
//! A task whose job is killed (cancelled, timed out, preempted: the scheduler sends `TERM` or
//! `INT` to the job's processes, then `KILL`) writes no exit status, even when the script
//! itself outlives its command for a moment: the shell traps those signals while the command
//! runs and skips the marker when one came. Its end is then the scheduler's word (accounting),
//! and a packed task killed with its pack runs again. A scheduler may signal the command before
//! the script: a command killed by `TERM` or `INT` (exit 143 or 130) makes the script wait a
//! second for a signal of its own before it writes the marker. A command that dies of a signal
//! of its own (a segmentation fault: 139, or a `TERM` nobody sent the job) still has its exit
//! status written.

use std::ffi::OsStr;

use super::spec::{TaskCommand, TaskSpec};
use crate::command::shell_quote;

/// Written when the job starts: `<unix time> <hostname>` (directly, not by rename: it says
/// when and where, never that anything finished, and a process saved counts in a pack of
/// thousands of short tasks; a reader that finds it half-written reads no time).
pub const STARTED_FILE: &str = "xpr.started";
/// The command's standard output.
pub const STDOUT_FILE: &str = "xpr.stdout";
/// The command's standard error.
pub const STDERR_FILE: &str = "xpr.stderr";
/// Written last: the command's exit status (empty for a moment: see the module docs).
pub const EXIT_FILE: &str = "xpr.exit";
/// The task's JSON arguments, when it has some.
pub const ARGS_FILE: &str = "xpr_args.json";

/// The body lines of the job script for `spec`.
pub fn body_lines(spec: &TaskSpec) -> Vec<String> {
    let quote = |word: &str| String::from_utf8_lossy(&shell_quote(OsStr::new(word))).into_owned();
    let mut lines = vec![
        "# --- xpr task".to_owned(),
        // bash's own clock and host name where it has them: no process for either.
        format!(
            "printf '%s %s\\n' \"${{EPOCHSECONDS:-$(date +%s)}}\" \"${{HOSTNAME:-$(hostname)}}\" > {STARTED_FILE}"
        ),
    ];
    for (key, value) in &spec.env {
        // Keys are checked to be shell names when the task is created.
        lines.push(format!("export {key}={}", quote(value)));
    }
    if spec.args.is_some() {
        lines.push(format!("export XPR_ARGS_FILE=\"$PWD/{ARGS_FILE}\""));
    }
    // The command's subshell resets the trap: it is killed as usual, the script goes on.
    lines.push("xpr_killed=".to_owned());
    lines.push("trap 'xpr_killed=1' TERM INT".to_owned());
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
    // A command killed by TERM or INT may be the first of the job's processes a scheduler
    // signals: the script's own signal can come a moment later. Give it that moment.
    lines.push("case $xpr_status in 130|143) sleep 1 ;; esac".to_owned());
    // Killed with its job: no exit status, so it is never taken for finished.
    lines.push("[ -z \"$xpr_killed\" ] || exit \"$xpr_status\"".to_owned());
    if !spec.post_commands.is_empty() {
        lines.push("(".to_owned());
        lines.extend(spec.post_commands.iter().map(|l| format!("  {l}")));
        lines.push(format!(") >> {STDOUT_FILE} 2>> {STDERR_FILE} < /dev/null"));
    }
    lines.push(format!("printf '%s\\n' \"$xpr_status\" > {EXIT_FILE}"));
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

/// Job script lines that copy, before the task runs, the outputs of a parent task that ran on
/// the same cluster into the run dir: the entries directly in `parent_dir` (a shell word, see
/// [`crate::scheduler::script::dir_word`]) whose names match `pattern` (a shell pattern of one
/// path component, taken as a pattern and never evaluated), except xpr's own files. Used when
/// the scheduler, not xpr, holds the task until the parent has ended, so its outputs cannot
/// come through this machine first.
///
/// A pattern that matches nothing, or a name that is already in the run dir, fails the job
/// before its command runs, saying why in [`STDERR_FILE`], with exit status 1 in
/// [`EXIT_FILE`].
pub fn inputs_from_lines(parent_dir: &str, pattern: &str, parent: &str) -> Vec<String> {
    let quote = |word: &str| String::from_utf8_lossy(&shell_quote(OsStr::new(word))).into_owned();
    vec![
        format!("# --- xpr: inputs from parent {parent}, matching {}", quote(pattern)),
        "xpr_take() {".to_owned(),
        "  xpr_n=0".to_owned(),
        // `"$1"/*` and the two dot globs list every entry; only the user's pattern is one.
        "  for xpr_f in \"$1\"/* \"$1\"/.[!.]* \"$1\"/..?*; do".to_owned(),
        "    [ -e \"$xpr_f\" ] || [ -L \"$xpr_f\" ] || continue".to_owned(),
        "    xpr_b=${xpr_f##*/}".to_owned(),
        "    case $xpr_b in xpr.*|xpr_*|.xpr-*|job.*) continue ;; esac".to_owned(),
        // shellcheck reads an unquoted `$2` in a case pattern as a pattern: that is the point.
        "    case $xpr_b in $2) ;; *) continue ;; esac".to_owned(),
        "    if [ -e \"$xpr_b\" ] || [ -L \"$xpr_b\" ]; then".to_owned(),
        "      printf 'xpr: two of its inputs would be %s (one from parent %s)\\n' \"$xpr_b\" \"$3\"; return 1".to_owned(),
        "    fi".to_owned(),
        "    cp -pR -- \"$xpr_f\" \"$xpr_b\" || return 1".to_owned(),
        "    xpr_n=$((xpr_n + 1))".to_owned(),
        "  done".to_owned(),
        "  [ \"$xpr_n\" -gt 0 ] || { printf 'xpr: the outputs of its parent %s hold nothing matching %s (in %s)\\n' \"$3\" \"$2\" \"$1\"; return 1; }".to_owned(),
        "}".to_owned(),
        format!(
            "xpr_take {parent_dir} {} {} >> {STDERR_FILE} 2>&1 || {{ printf '1\\n' > {EXIT_FILE}.tmp && mv -f {EXIT_FILE}.tmp {EXIT_FILE}; exit 1; }}",
            quote(pattern),
            quote(parent)
        ),
    ]
}
