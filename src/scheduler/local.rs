//! The `local` scheduler: no batch system, a core-limited queue with backfill on one host.
//!
//! Jobs run detached in the background, survive the xpr process (and the SSH session that
//! started them), and never use more cores together than the host offers. Like every adapter
//! here, this module is pure: it builds [`CommandSpec`]s and parses their replies. The queue
//! itself is [`PROGRAM`] (`local/localq.sh`), a small POSIX `sh` program (needing only
//! coreutils and util-linux `flock`/`setsid`) that every command carries as one quoted
//! argument, so the same commands work on this machine and, through a transport, on any plain
//! host over SSH ([`ENTRY`] is `local/entry.sh`):
//!
//! ```text
//! /bin/sh -c 'XPR_LOCALQ_PROGRAM=$1; shift; eval "$XPR_LOCALQ_PROGRAM"' xpr-localq <PROGRAM> <verb> <args>...
//! ```
//!
//! | verb | args | prints |
//! |---|---|---|
//! | `submit` | job dir, script file name | the new job id |
//! | `status`, `accounting` | job ids | one line per known job |
//! | `find` | job names | one line per job with one of those names |
//! | `cancel`, `hold`, `release` | job ids | nothing; exit 1 if some id could not be acted on |
//!
//! A job line is `id|name|state|exit_code|reason`, state one of `queued`, `held`, `running`,
//! `succeeded`, `failed`, `timeout`, `cancelled`; exit code and reason may be empty.
//!
//! # The spool
//!
//! `${XPR_LOCAL_QUEUE_DIR:-$HOME/.xpr/local-queue}` (mode 700) holds `lock` (every change is
//! made under `flock` on it), `next_id` (a counter: ids are never reused), `active/<id>` (empty
//! files naming the queued, held and running jobs) and `jobs/<id>/` with one small file per
//! field: `dir`, `script`, `name`, `cores`, `time` (seconds, 0 = no limit), `out`, `err`,
//! `status` (`state|exit_code|reason`), `runner` (`pid boot_id`), `pgid`, and `submitted`,
//! `started`, `ended` (epoch seconds). Every file is written to a temporary name and renamed,
//! so a reader never sees half a file. Finished jobs are forgotten after
//! `XPR_LOCAL_KEEP_DAYS` (default 30) days.
//!
//! # What a job asks for
//!
//! `submit` reads `#XPR-LOCAL` lines at the top of the script (comment lines may be mixed in;
//! the first other line ends the header, as with `#SBATCH`): `--job-name=` (default `job`),
//! `--cores=` (default 1), `--time=` (`[D-]H:MM:SS` or seconds; none = no limit),
//! `--output=` / `--error=` (default `job.<name>.stdout` / `.stderr`, relative to the job
//! dir), and `--gpus=` (default 0). The [`LocalScheduler::default_header`] writes the first
//! five from the templates, and its resource lines (`"resource_lines": true`, the built-in
//! `local` system's default) `--gpus={gpus}` when GPUs are asked. A job asking for more cores
//! than the host has is refused at once, and so is one asking for more GPUs: the GPUs are
//! `XPR_LOCAL_GPUS` if set, else the NVIDIA devices `/dev/nvidia0`, `/dev/nvidia1`, ... The
//! queue does not share GPUs out among its jobs (every job sees them all), it only refuses a
//! job that cannot have them. Memory and account do not reach the local queue: memory is the
//! node finder's (the built-in partition has this machine's memory), and an account is an
//! error there (there is nothing to charge).
//!
//! # No daemon
//!
//! There is no long-lived dispatcher to crash or to start. Under the lock, one idempotent
//! `dispatch` step goes through the queued jobs in id order and starts each one that fits
//! while the cores of running jobs stay within the capacity: `XPR_LOCAL_CORES` if set (an
//! explicit override, which may oversubscribe), else `nproc` (with `OMP_*` ignored). A job
//! that does not fit waits, and a later, smaller one that fits starts meanwhile (backfill,
//! python-cluster's rule): the cores are never idle while a queued job could use them, at the
//! price that a steady stream of small jobs can hold a wide one back. Every event that can
//! free or need cores runs it: `submit`, `release`, `cancel`, the end of every job, and
//! `status`/`accounting`/`find` (which also heals the queue after a crash).
//!
//! Each started job gets a runner, a copy of the program started with `setsid` in its own
//! session, stdio detached and descriptors 3 to 9 closed (one inherited from the submitter,
//! such as xpr's submit lock, would otherwise stay open, and its lock held, for as long as
//! the job runs), that runs the script through its `#!` interpreter as
//! `setsid timeout -k 10 <seconds> <interpreter> <script>` in the job dir (`timeout 0` = no
//! limit) with `XPR_LOCAL_JOB_ID` set, waits for it and records the final state: exit 0 ->
//! `succeeded`; 124/137 after the time limit -> `timeout`; else `failed` with the code. A
//! runner found dead (`kill -0` fails, or the host rebooted since: the boot id differs) makes
//! its job `failed` with a reason, and the job's process group is killed so its cores are free
//! for real. `cancel` records `cancelled` first, then sends SIGTERM to the job's process group
//! and SIGKILL 10 s later if it still runs (like Slurm's `KillWait`).

use std::ffi::OsString;

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::ids::SchedulerJobId;
use crate::resources::NodeAllocation;
use crate::scheduler::{JobState, JobStatus, ParseError, Scheduler, SchedulerKind};

/// The queue program, as kept in `local/localq.sh` with its comments. Commands carry
/// [`wire_program`]: the same text without comment lines, blank lines and indentation.
pub const PROGRAM: &str = include_str!("local/localq.sh");

/// The entry point every command runs with `/bin/sh -c`: it takes the program from `$1`
/// (keeping it for the runners it starts) and runs it on the remaining arguments.
pub const ENTRY: &str = shell_program!(include_str!("local/entry.sh"));

/// The name the program runs under (`$0`, and the prefix of its messages).
pub const PROGRAM_NAME: &str = "xpr-localq";

/// [`PROGRAM`] as commands carry it: without comment lines, blank lines and indentation,
/// which keeps commands (and the error messages showing them) shorter (see
/// `shell_program!` in [`crate::command`] for why that is safe for this program).
pub fn wire_program() -> &'static str {
    const WIRE: &str = shell_program!(PROGRAM);
    WIRE
}

/// The `local` adapter: commands for the queue program in [`PROGRAM`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalScheduler;

impl LocalScheduler {
    /// The command running the queue program's `verb` on `args`.
    pub fn command<I, S>(verb: &str, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        CommandSpec::new("/bin/sh")
            .arg("-c")
            .arg(ENTRY)
            .arg(PROGRAM_NAME)
            .arg(wire_program())
            .arg(verb)
            .args(args)
    }
}

fn parse_error(
    what: &'static str,
    message: impl Into<String>,
    snippet: Option<&str>,
) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Local,
        what,
        message: message.into(),
        snippet: snippet.map(str::to_owned),
    }
}

/// Fails when the command did not exit 0, with its stderr as the message.
fn check_exit(what: &'static str, output: &CommandOutput) -> Result<(), ParseError> {
    if output.succeeded() {
        return Ok(());
    }
    let code = output
        .code
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    let stderr = output.stderr_text();
    let stderr = stderr.trim();
    Err(parse_error(
        what,
        format!("{PROGRAM_NAME} failed with {code}"),
        (!stderr.is_empty()).then_some(stderr),
    ))
}

/// True for a job id the queue program writes: decimal digits, no leading zero.
fn is_job_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
}

/// True for a job name the queue program accepts (see `q_submit`).
fn is_job_name(text: &str) -> bool {
    text.len() <= 200
        && !text.starts_with(['-', '.'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+=@%,:-".contains(c))
}

/// Parses the `id|name|state|exit_code|reason` lines of `status`, `accounting` and `find`.
fn parse_job_lines(
    what: &'static str,
    output: &CommandOutput,
) -> Result<Vec<JobStatus>, ParseError> {
    check_exit(what, output)?;
    let text = output.stdout_text();
    let mut jobs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = |why: &str| parse_error(what, why, Some(line));
        let fields: Vec<&str> = line.split('|').collect();
        let [id, name, state, code, reason] = fields[..] else {
            return Err(bad(
                "expected 5 `|`-separated fields: id|name|state|exit_code|reason",
            ));
        };
        if !is_job_id(id) {
            return Err(bad("the job id is not a number"));
        }
        if !is_job_name(name) {
            return Err(bad("the job name holds characters the queue never writes"));
        }
        let exit_code = match code {
            "" => None,
            c => Some(
                c.parse::<i32>()
                    .map_err(|_| bad("the exit code is not a number"))?,
            ),
        };
        let state = match state {
            "queued" => JobState::Queued,
            "held" => JobState::Held,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed { exit_code },
            "timeout" => JobState::Timeout,
            "cancelled" => JobState::Cancelled,
            s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
                JobState::Unknown { raw: s.to_owned() }
            }
            _ => return Err(bad("the state is not a word")),
        };
        jobs.push(JobStatus {
            id: SchedulerJobId::new(id),
            name: (!name.is_empty()).then(|| name.to_owned()),
            state,
            raw_state: fields[2].to_owned(),
            exit_code,
            node: None,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
            // The local queue keeps no accounting of time or memory.
            elapsed_secs: None,
            peak_memory_kb: None,
            scheduler_reason: None,
        });
    }
    Ok(jobs)
}

fn id_args(ids: &[SchedulerJobId]) -> impl Iterator<Item = &str> {
    ids.iter().map(SchedulerJobId::as_str)
}

impl Scheduler for LocalScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Local
    }

    fn default_header(&self) -> &'static [&'static str] {
        &[
            "#XPR-LOCAL --job-name={job_name}",
            "#XPR-LOCAL --cores={num_cores}",
            "#XPR-LOCAL --time={max_time}",
            "#XPR-LOCAL --output=job.{id}.stdout",
            "#XPR-LOCAL --error=job.{id}.stderr",
        ]
    }

    /// `--gpus=N` when GPUs are asked: the queue refuses a job the host cannot give them to.
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        match alloc.gpus {
            Some(_) => vec!["#XPR-LOCAL --gpus={gpus}"],
            None => Vec::new(),
        }
    }

    /// `xpr-localq submit <job_dir> <script>`: a relative `job_dir` is relative to where the
    /// transport starts the command (the home directory over SSH).
    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        Self::command("submit", [job_dir, script])
    }

    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        const WHAT: &str = "submit reply";
        check_exit(WHAT, output)?;
        let text = output.stdout_text();
        let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
        match last {
            Some(id) if is_job_id(id) => Ok(SchedulerJobId::new(id)),
            Some(other) => Err(parse_error(
                WHAT,
                "expected a job id (a number)",
                Some(other),
            )),
            None => Err(parse_error(WHAT, "empty reply, expected a job id", None)),
        }
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("status", id_args(ids))
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("status output", output)
    }

    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("accounting", id_args(ids))
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("accounting output", output)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        Self::command("find", names)
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("find output", output)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("cancel", id_args(ids))
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("hold", id_args(ids))
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("release", id_args(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_program_drops_comments_only() {
        let wire = wire_program();
        assert!(!wire.lines().any(|l| l.starts_with('#')));
        assert!(wire.contains("q_submit \"$@\""));
        assert!(wire.len() < PROGRAM.len());
    }

    #[test]
    fn status_lines_parse_into_states() {
        let out = CommandOutput::success(
            "1|a|succeeded|0|\n2|b|failed|3|\n3|c|timeout|124|exceeded its time limit of 1 s\n\
             4||queued||\n5|e|weird_state||\n",
        );
        let jobs = LocalScheduler.parse_status(&out).unwrap();
        assert_eq!(jobs.len(), 5);
        assert_eq!(jobs[1].state, JobState::Failed { exit_code: Some(3) });
        assert_eq!(jobs[2].state, JobState::Timeout);
        assert_eq!(jobs[3].name, None);
        assert_eq!(
            jobs[4].state,
            JobState::Unknown {
                raw: "weird_state".into()
            }
        );
    }

    #[test]
    fn hostile_status_lines_are_refused() {
        for line in [
            "x|a|running||",
            "1|a b|running||",
            "1|a|running",
            "1|a|failed|x|",
            "01|a|queued||",
        ] {
            let out = CommandOutput::success(format!("{line}\n"));
            assert!(
                LocalScheduler.parse_status(&out).is_err(),
                "{line} accepted"
            );
        }
    }
}
