//! The `pbs` scheduler adapter: PBS Pro / OpenPBS and Torque behind one kind.
//!
//! # Resource lines
//!
//! With `"resource_lines": true` the job's one chunk request is xpr's
//! (`#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={ntasks_per_node}`, then
//! `:mem={mem_per_node}kb` and `:ngpus={gpus}` when asked: a chunk is a node, and PBS takes
//! one `select`, so a config with its own `select=` line and `resource_lines` is refused at
//! load), and the account is `#PBS -A {account}`. Torque reads `-l nodes=`, not `select=`:
//! leave `resource_lines` off there and write the lines with the template keys.
//!
//! # Commands
//!
//! | action | command (run in) |
//! |---|---|
//! | submit | `qsub SCRIPT` (in the job dir) |
//! | status, accounting | `qstat -x -f ID...` |
//! | find by name | `sh -c FIND_SCRIPT sh N_NAME...`: `qselect [-x] -N N_NAME` per name, then `qstat -x -f` on the ids found |
//! | cancel / hold / release | `qdel ID...` / `qhold ID...` / `qrls ID...` |
//! | submit an array of N | `sh -c SUBMIT_ARRAY_SCRIPT sh 0-(N-1) 0-(N-1) SCRIPT` (in the job dir): `qsub -J` or `qsub -t` |
//! | array size limit | `qmgr -c 'list server'` (`max_array_size`, Torque `max_job_array_size`) |
//!
//! An empty id or name list gives the command `true` (no output): `qstat -x -f` with no ids
//! would list every job on the server, and `qdel` with none is an error.
//!
//! # Why one `qstat -x -f` for both flavours
//!
//! The two PBS flavours read `-x` differently, and the same command line serves both without
//! knowing which one a site runs:
//!
//! - PBS Pro: `-x` adds finished and moved jobs (job history, when the server keeps it:
//!   `job_history_enable`, default off; `job_history_duration`, default two weeks; RG 2024.1
//!   §2.55, AG §10.15). Finished jobs show `job_state = F` and `Exit_status`. The output is the
//!   `qstat -f` text.
//! - Torque: `-x` means XML output of `qstat -f` (changelog 1.1.0p2). Completed jobs stay as
//!   `job_state` C with `exit_status` for `keep_completed` seconds (server default 300 in 6.1).
//!
//! The parser sniffs the reply: `<` is Torque XML, `{` is PBS Pro JSON, `Job Id:` is the text
//! form. We deliberately do not ask PBS Pro for `-F json`: Torque rejects the option, and PBS
//! Pro's JSON has a history of invalid output (bad escapes, bare `005` values, duplicate keys;
//! see the notes in the private `json` module) and, in a recent OpenPBS, lists only the first
//! of several ids (openpbs/openpbs issue #2672). The JSON reader is still here, lenient, for sites whose
//! `qstat` wrapper forces JSON and for the test simulators.
//!
//! So status and accounting are the same command: the "accounting" of PBS is the job history.
//! When history is off (PBS Pro) or `keep_completed` has passed (Torque), a finished job is
//! simply absent ("qstat: Unknown Job Id ..." on stderr, which is not an error here); the
//! layers above then rely on the job's own exit marker file.
//!
//! # Final states
//!
//! `F` (PBS Pro), `C` (Torque) and `X` (an expired PBS Pro subjob) are final; what happened is
//! in the exit status, read with the flavour's table (the flavour is told by the attribute
//! spelling: PBS Pro writes `Exit_status`, Torque `exit_status`; XML is always Torque, JSON
//! always PBS Pro):
//!
//! | exit status | PBS Pro | Torque |
//! |---|---|---|
//! | none | deleted before it ran: cancelled | same |
//! | 0 | succeeded | succeeded |
//! | 1..=255 | the script's own status: failed (128+N is a child killed by signal N, RG Table 11-1) | same |
//! | 256+N | the job shell killed by signal N (the MoM adds 0x100): `qdel` sends SIGTERM then SIGKILL, so N = 15 or 9 is cancelled; any other N failed | same |
//! | -29 `JOB_EXEC_KILL_WALLTIME` | timeout | |
//! | -27 `JOB_EXEC_KILL_MEM`, -26 `..._VMEM` | out of memory | |
//! | -14 `JOB_EXEC_RERUN_ON_SIS_FAIL`, -20 `JOB_EXEC_RERUN_MS_FAIL` | node failure | |
//! | -11 `JOB_EXEC_OVERLIMIT_WT` | | timeout |
//! | -10 `JOB_EXEC_OVERLIMIT(_MEM)` | | out of memory (a generic limit before Torque 6) |
//! | other negative | failed | failed |
//!
//! Sources: OpenPBS `src/include/job.h` (`JOB_EXEC_*`), PBS Pro RG 2024.1 Tables 11-1/11-2,
//! Torque 6.1.2 admin guide "Job exit status". Older PBS Pro and Torque kill a job over its
//! walltime with a signal (Exit_status 271 or 265, see the Torque tracejob example), so a signal
//! death, or a status of 128 and up, whose `resources_used.walltime` reached
//! `Resource_List.walltime` is a timeout whatever the code.
//!
//! # Names
//!
//! Torque wants a job name that starts with a letter, so the default header names a job
//! `N_{id}` (as upstream ExPyRe). Every [`JobStatus::name`] this adapter returns has that
//! prefix taken off (the task id xpr put there); names without it are returned verbatim.
//! [`Scheduler::find_by_name`] takes task ids and asks `qselect -N` for `N_{id}`; `qselect`
//! matches names exactly, so every job it lists is one that was asked about.
//!
//! # Job ids
//!
//! `123.server`, `123` (no server suffix, some Torque sites), array jobs `123[].server`, subjobs
//! `123[4].server`, Torque's old `123-4.server`. Anything else in a reply is rejected, since the
//! id goes back into command lines.
//!
//! # Job arrays
//!
//! Both flavours index from 0 here and name an element `123[7].server` after its array
//! `123[].server` (the id `qsub` prints), so one adapter serves both; only the submit option
//! and the index variable differ:
//!
//! | | PBS Pro / OpenPBS | Torque |
//! |---|---|---|
//! | submit | `qsub -J 0-N` (RG `qsub`) | `qsub -t 0-N` |
//! | index variable | `PBS_ARRAY_INDEX` | `PBS_ARRAYID` |
//! | one element | `-J 0-1:2` (index 0 alone: PBS Pro refuses a range whose start is not below its end, OpenPBS `chk_Jrange`) | `-t 0` |
//! | size limit | server `max_array_size`, default 10000 (OpenPBS `PBS_MAX_ARRAY_JOB_DFL`) | server `max_job_array_size`, unset by default |
//! | not rerunnable | refused: `qsub:  cannot submit non-rerunable Array Job` | allowed |
//!
//! [`SUBMIT_ARRAY_SCRIPT`] asks the installed `qsub --version` which one it is, every time
//! (one cheap local command per array). The script's element index is
//! `${PBS_ARRAY_INDEX:-$PBS_ARRAYID}`, whichever the flavour sets. An array's default header
//! has no `-r n` ([`ARRAY_DEFAULT_HEADER`]), which PBS Pro refuses in arrays.
//!
//! Each element is then followed as a job of its own: `qstat -x -f 123[7].server` shows one
//! subjob (PBS Pro: `job_state` R while it runs, `X` once it ended, with its `Exit_status`;
//! the array itself is `B` once a subjob began), `qdel 123[7].server` deletes that element
//! alone. Without job history (`job_history_enable` off) an ended subjob is `X` with no
//! `Exit_status` (read as cancelled) until its array ends and it is gone: the task's own exit
//! marker decides, as for any job PBS has forgotten. A lookup by name (`qselect -N`) lists
//! the array (`123[].server`), whose element ids [`Scheduler::element_id`] derives. Torque's dialect is covered by the command lines and
//! fixtures, not by the test simulator, which plays PBS Pro.

mod json;
mod text;
mod xml;

use std::collections::BTreeMap;

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::ids::SchedulerJobId;
use crate::resources::NodeAllocation;
use crate::scheduler::{
    ArraySyntax, JobState, JobStatus, ParseError, Scheduler, SchedulerKind, ids_command,
    nothing_to_do,
};

/// The PBS adapter (PBS Pro, OpenPBS and Torque).
#[derive(Clone, Copy, Debug, Default)]
pub struct PbsScheduler;

/// The default header lines, as upstream ExPyRe writes them. The `N_` prefix
/// ([`JOB_NAME_PREFIX`]) is there because Torque wants a job name that starts with a letter.
pub const DEFAULT_HEADER: &[&str] = &[
    "#PBS -N N_{job_name}",
    "#PBS -q {partition}",
    "#PBS -l walltime={max_time}",
    "#PBS -o job.{id}.stdout",
    "#PBS -e job.{id}.stderr",
    "#PBS -S /bin/bash",
    "#PBS -r n",
];

/// The default header lines of a job array: [`DEFAULT_HEADER`] without `#PBS -r n`, since
/// PBS Pro refuses a non-rerunnable array (`qsub:  cannot submit non-rerunable Array Job`).
pub const ARRAY_DEFAULT_HEADER: &[&str] = &[
    "#PBS -N N_{job_name}",
    "#PBS -q {partition}",
    "#PBS -l walltime={max_time}",
    "#PBS -o job.{id}.stdout",
    "#PBS -e job.{id}.stderr",
    "#PBS -S /bin/bash",
];

/// The element index inside an array job, for both flavours: PBS Pro sets `PBS_ARRAY_INDEX`,
/// Torque `PBS_ARRAYID` (a parameter expression, put inside `${...}` by the array script).
pub const ARRAY_INDEX_VAR: &str = "PBS_ARRAY_INDEX:-$PBS_ARRAYID";

/// The shell program behind [`Scheduler::submit_array`] (`submit_array.sh`): `qsub -J` on PBS
/// Pro, `qsub -t` on Torque, by what `qsub --version` says (see "Job arrays" in the module
/// docs); the ranges and the script's name are its positional arguments.
pub const SUBMIT_ARRAY_SCRIPT: &str = shell_program!(include_str!("submit_array.sh"));

/// The resource lines' `select=` request: alone, with memory, with GPUs, with both.
pub const SELECT_LINES: [&str; 4] = [
    "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={ntasks_per_node}",
    "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={ntasks_per_node}:mem={mem_per_node}kb",
    "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={ntasks_per_node}:ngpus={gpus}",
    "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={ntasks_per_node}:mem={mem_per_node}kb:ngpus={gpus}",
];

/// The prefix the default header puts before the task id in a job name.
pub const JOB_NAME_PREFIX: &str = "N_";

/// The task id in a job name: `N_abc` -> `abc`; other names unchanged.
pub fn task_name(job_name: &str) -> &str {
    job_name.strip_prefix(JOB_NAME_PREFIX).unwrap_or(job_name)
}

/// The shell program behind [`Scheduler::find_by_name`], kept in `find_by_name.sh`; the job
/// names (`N_{id}`) are its positional arguments, so nothing is ever spliced into the program
/// text.
///
/// - `qselect -x` (PBS Pro) also selects finished jobs; Torque's `qselect` has no `-x`, fails,
///   and the plain form runs (Torque keeps completed jobs selectable while it keeps them).
/// - `set -e` makes a failing `qselect` fail the whole command, so a server error can never
///   read as "no such job" (which would let a submission be repeated).
/// - `set -f` keeps the `[]` of array ids from being taken as glob patterns.
/// - When nothing matched, nothing runs: `qstat -x -f` without ids would list every job.
pub const FIND_BY_NAME_SCRIPT: &str = shell_program!(include_str!("find_by_name.sh"));

/// Which `qstat` output a job record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QstatDialect {
    /// `qstat -f` text (PBS Pro `-x -f`, or Torque without `-x`).
    Text,
    /// PBS Pro `qstat -f -F json`.
    Json,
    /// Torque `qstat -x` XML.
    Xml,
}

/// Which PBS a record comes from, as far as its spelling tells; it selects the exit code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbsFlavour {
    /// PBS Professional / OpenPBS.
    Pro,
    /// Torque (Adaptive Computing).
    Torque,
}

/// One job of a `qstat -f` reply, in any dialect, as a flat attribute map. Nested attributes
/// use the text dialect's dotted names (`Resource_List.walltime`, `resources_used.walltime`)
/// whatever the dialect, so one classifier serves all three.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QstatJob {
    /// The job id (validated).
    pub id: SchedulerJobId,
    /// Attribute name -> value, values as printed (continuation lines joined).
    pub attributes: BTreeMap<String, String>,
    /// Which output it was read from.
    pub dialect: QstatDialect,
}

impl QstatJob {
    /// An attribute's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// PBS Pro or Torque: by the exit status attribute's spelling, then the final state letter,
    /// then the dialect (XML is Torque-only, JSON PBS Pro-only, text defaults to PBS Pro).
    pub fn flavour(&self) -> PbsFlavour {
        if self.attributes.contains_key("Exit_status") {
            return PbsFlavour::Pro;
        }
        if self.attributes.contains_key("exit_status") {
            return PbsFlavour::Torque;
        }
        match (self.get("job_state"), self.dialect) {
            (Some("C"), _) | (_, QstatDialect::Xml) => PbsFlavour::Torque,
            _ => PbsFlavour::Pro,
        }
    }

    /// The exit status, when the job has one.
    pub fn exit_status(&self) -> Result<Option<i32>, ParseError> {
        let Some(raw) = self.get("Exit_status").or_else(|| self.get("exit_status")) else {
            return Ok(None);
        };
        raw.trim().parse::<i32>().map(Some).map_err(|_| {
            parse_error(
                "qstat output",
                format!("job {}: exit status is not an integer", self.id),
                Some(raw),
            )
        })
    }

    /// True when the job used its whole wall time (`resources_used.walltime` reached
    /// `Resource_List.walltime`): the evidence that a signal death was the walltime kill.
    pub fn walltime_exhausted(&self) -> bool {
        let used = self.get("resources_used.walltime").and_then(parse_duration);
        let limit = self.get("Resource_List.walltime").and_then(parse_duration);
        matches!((used, limit), (Some(u), Some(l)) if l > 0 && u >= l)
    }

    /// The job's state in xpr's model (see the module docs for the tables), its name with
    /// the `N_` prefix taken off (see "Names" in the module docs).
    pub fn status(&self) -> Result<JobStatus, ParseError> {
        let Some(raw_state) = self.get("job_state").map(str::trim) else {
            return Err(parse_error(
                "qstat output",
                format!("job {} has no job_state", self.id),
                None,
            ));
        };
        let exit_code = self.exit_status()?;
        let state = match raw_state {
            // T: in transit between queues/servers; W: waiting for its start time (or 30 min
            // after a failed stage-in).
            "Q" | "T" | "W" => JobState::Queued,
            "H" => JobState::Held,
            // B: an array with subjobs started; E: exiting (exit status may still change);
            // S/U: suspended while running.
            "R" | "E" | "B" | "S" | "U" => JobState::Running,
            "F" | "X" | "C" => final_state(self.flavour(), exit_code, self.walltime_exhausted()),
            // M: moved to another server, whose qstat knows the rest.
            other => JobState::Unknown {
                raw: other.to_owned(),
            },
        };
        let node = self
            .get("exec_host")
            .and_then(|h| h.split('+').next())
            .and_then(|h| h.split('/').next())
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        Ok(JobStatus {
            id: self.id.clone(),
            name: self.get("Job_Name").map(|n| task_name(n).to_owned()),
            raw_state: raw_state.to_owned(),
            exit_code,
            node,
            reason: self
                .get("comment")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            elapsed_secs: self.get("resources_used.walltime").and_then(parse_duration),
            peak_memory_kb: self
                .get("resources_used.mem")
                .and_then(|m| crate::scheduler::memory_kb(m, 1)),
            scheduler_reason: state.is_final().then(|| self.end_reason(exit_code)),
            state,
        })
    }

    /// PBS's own words on a finished job: its exit status with the meaning PBS gives it
    /// (`Exit_status -29 (JOB_EXEC_KILL_WALLTIME: over its walltime)`), then its `comment`.
    fn end_reason(&self, exit_code: Option<i32>) -> String {
        let name = match self.flavour() {
            PbsFlavour::Torque => "exit_status",
            PbsFlavour::Pro => "Exit_status",
        };
        let status = match exit_code {
            // A finished job without one never ran (see `final_state`).
            None => format!("no {name}: deleted before it ran"),
            Some(code) => match exit_meaning(self.flavour(), code) {
                Some(meaning) => format!("{name} {code} ({meaning})"),
                None => format!("{name} {code}"),
            },
        };
        let comment = self.get("comment").map(str::trim).filter(|c| !c.is_empty());
        match comment {
            Some(c) => format!("{status}; {c}"),
            None => status,
        }
    }
}

/// What PBS means by an exit status other than the script's own (table in the module docs).
fn exit_meaning(flavour: PbsFlavour, code: i32) -> Option<String> {
    let named = match (flavour, code) {
        (PbsFlavour::Pro, -29) => "JOB_EXEC_KILL_WALLTIME: over its walltime",
        (PbsFlavour::Pro, -27) => "JOB_EXEC_KILL_MEM: over its memory",
        (PbsFlavour::Pro, -26) => "JOB_EXEC_KILL_VMEM: over its virtual memory",
        (PbsFlavour::Pro, -14) => "JOB_EXEC_RERUN_ON_SIS_FAIL: a sister node failed",
        (PbsFlavour::Pro, -20) => "JOB_EXEC_RERUN_MS_FAIL: the mother superior failed",
        (PbsFlavour::Torque, -11) => "JOB_EXEC_OVERLIMIT_WT: over its walltime",
        (PbsFlavour::Torque, -10) => "JOB_EXEC_OVERLIMIT: over a limit",
        (_, c) if c < 0 => "a PBS failure to run the job",
        (_, c) if c > 256 => {
            return Some(format!("the job shell was killed by signal {}", c - 256));
        }
        (_, c) if c > 128 => {
            return Some(format!(
                "the script's command was killed by signal {}",
                c - 128
            ));
        }
        _ => return None,
    };
    Some(named.to_owned())
}

/// The final state of a job in `F`/`X`/`C`, from its exit status (tables in the module docs).
fn final_state(flavour: PbsFlavour, exit: Option<i32>, walltime_exhausted: bool) -> JobState {
    const SIGKILL: i32 = 9;
    const SIGTERM: i32 = 15;
    let Some(code) = exit else {
        // RG: "F: job has completed execution, job failed during execution, or job was
        // deleted"; a job that never ran has no Exit_status.
        return JobState::Cancelled;
    };
    let failed = JobState::Failed {
        exit_code: Some(code),
    };
    match (flavour, code) {
        (_, 0) => JobState::Succeeded,
        (PbsFlavour::Pro, -29) | (PbsFlavour::Torque, -11) => JobState::Timeout,
        (PbsFlavour::Torque, -10) if walltime_exhausted => JobState::Timeout,
        (PbsFlavour::Pro, -27 | -26) | (PbsFlavour::Torque, -10) => JobState::OutOfMemory,
        (PbsFlavour::Pro, -14 | -20) => JobState::NodeFail,
        (_, c) if c < 0 => failed,
        (_, c) if c >= 128 && walltime_exhausted => JobState::Timeout,
        (_, c) if c == 256 + SIGTERM || c == 256 + SIGKILL => JobState::Cancelled,
        _ => failed,
    }
}

/// A PBS duration, `[[H:]M:]S[.fraction]` (hours may pass 24) or plain seconds, in whole
/// seconds (a fraction is dropped). Used for jobs' `walltime` and queues' limits alike.
pub fn parse_duration(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut total: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let whole = if i + 1 == parts.len() {
            part.split_once('.').map_or(*part, |(w, _)| w)
        } else {
            part
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total.checked_mul(60)?.checked_add(whole.parse().ok()?)?;
    }
    Some(total)
}

/// Parses a `qstat -f` reply in whichever dialect it is (see the module docs).
///
/// Empty output is no jobs (Torque before 6.1.0 prints nothing when no job matches; PBS Pro
/// JSON with no `Jobs` key is likewise no jobs).
pub fn parse_qstat(output: &str) -> Result<Vec<QstatJob>, ParseError> {
    let trimmed = output.trim_start();
    match trimmed.chars().next() {
        None => Ok(Vec::new()),
        Some('<') => xml::parse(trimmed),
        Some('{') => parse_qstat_json(trimmed),
        Some(_) => text::parse(output),
    }
}

fn parse_qstat_json(text: &str) -> Result<Vec<QstatJob>, ParseError> {
    const WHAT: &str = "qstat -F json output";
    let root = json::parse(text).map_err(|e| {
        parse_error(
            WHAT,
            format!("{e} (hint: is the reply cut short?)"),
            text.lines().nth(e.line.saturating_sub(1)),
        )
    })?;
    if !matches!(root, json::Value::Object(_)) {
        return Err(parse_error(
            WHAT,
            "the reply is not a JSON object".into(),
            None,
        ));
    }
    // PBS Pro leaves the `Jobs` key out entirely when no job matched.
    let Some(jobs) = root.get("Jobs") else {
        return Ok(Vec::new());
    };
    let json::Value::Object(jobs) = jobs else {
        return Err(parse_error(WHAT, "`Jobs` is not an object".into(), None));
    };
    let mut out = Vec::with_capacity(jobs.len());
    for (id, body) in jobs {
        validate_job_id(id, WHAT)?;
        let json::Value::Object(members) = body else {
            return Err(parse_error(
                WHAT,
                format!("`Jobs.{id}` is not an object"),
                None,
            ));
        };
        let mut attributes = BTreeMap::new();
        for (key, value) in members {
            flatten(key, value, &mut attributes);
        }
        out.push(QstatJob {
            id: id.as_str().into(),
            attributes,
            dialect: QstatDialect::Json,
        });
    }
    Ok(out)
}

/// Nested objects become dotted names; arrays are joined with `,` as the text form prints them.
fn flatten(prefix: &str, value: &json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        json::Value::Scalar(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        json::Value::Null => {}
        json::Value::Object(members) => {
            for (key, v) in members {
                flatten(&format!("{prefix}.{key}"), v, out);
            }
        }
        json::Value::Array(items) => {
            let joined: Vec<&str> = items
                .iter()
                .filter_map(|v| match v {
                    json::Value::Scalar(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            out.insert(prefix.to_owned(), joined.join(","));
        }
    }
}

/// A [`ParseError`] of this scheduler.
fn parse_error(what: &'static str, message: String, snippet: Option<&str>) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Pbs,
        what,
        message,
        snippet: snippet.map(|s| s.chars().take(200).collect()),
    }
}

/// Checks a job id from scheduler output (see "Job ids" in the module docs).
fn validate_job_id(id: &str, what: &'static str) -> Result<(), ParseError> {
    if is_job_id(id) {
        Ok(())
    } else {
        Err(parse_error(what, "not a PBS job id".into(), Some(id)))
    }
}

fn is_job_id(id: &str) -> bool {
    let digits = id.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let mut rest = &id[digits..];
    if let Some(r) = rest.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return false;
        };
        if !r[..close].bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        rest = &r[close + 1..];
    } else if let Some(r) = rest.strip_prefix('-') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    match rest.strip_prefix('.') {
        None => rest.is_empty(),
        Some(server) => {
            server.starts_with(|c: char| c.is_ascii_alphanumeric())
                && server
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
    }
}

/// True for a stderr line that only says a job is not (or no longer) known: PBS Pro's
/// "qstat: Unknown Job Id 12.srv" and "qstat: 12.srv Job has finished, use -x or -H ...",
/// Torque's "qstat: Unknown Job Id Error 12.srv".
fn is_absent_job_message(line: &str) -> bool {
    line.contains("Unknown Job Id") || line.contains("Job has finished")
}

/// The jobs in a `qstat` reply, after checking its exit status and stderr.
fn parse_qstat_reply(output: &CommandOutput, command: &str) -> Result<Vec<JobStatus>, ParseError> {
    let stderr = output.stderr_text();
    let problems: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_absent_job_message(l))
        .collect();
    // qstat exits non-zero (PBS Pro 153, Torque 153) when any id is unknown while still
    // printing the others, so a failure is only what stderr says beyond unknown ids.
    if !output.succeeded() && (!problems.is_empty() || output.code.is_none()) {
        return Err(parse_error(
            "qstat reply",
            format!(
                "{command} failed ({}): {}",
                match output.code {
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".to_owned(),
                },
                if problems.is_empty() {
                    "no message"
                } else {
                    problems[0]
                }
            ),
            None,
        ));
    }
    parse_qstat(&output.stdout_text())?
        .iter()
        .map(QstatJob::status)
        .collect()
}

impl Scheduler for PbsScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Pbs
    }

    fn default_header(&self) -> &'static [&'static str] {
        DEFAULT_HEADER
    }

    /// One `select=` chunk request for everything, then `-A` (see the module docs).
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        let select = match (alloc.mem.is_some(), alloc.gpus.is_some()) {
            (false, false) => SELECT_LINES[0],
            (true, false) => SELECT_LINES[1],
            (false, true) => SELECT_LINES[2],
            (true, true) => SELECT_LINES[3],
        };
        let mut lines = vec![select];
        if alloc.account.is_some() {
            lines.push("#PBS -A {account}");
        }
        lines
    }

    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        CommandSpec::new("qsub").arg(script).cwd(job_dir)
    }

    /// `qsub` prints the id alone on stdout (`123.server`, `123[].server`); warnings go to
    /// stderr. A site wrapper may print lines before it, so the id is the last non-empty line.
    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        const WHAT: &str = "qsub reply";
        if !output.succeeded() {
            let stderr = output.stderr_text();
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
            return Err(parse_error(
                WHAT,
                format!(
                    "qsub failed ({}): {} (hint: the message is the scheduler's; check the \
                     header lines and the partition)",
                    output
                        .code
                        .map_or("killed by a signal".to_owned(), |c| format!(
                            "exit code {c}"
                        )),
                    first.unwrap_or("no message")
                ),
                None,
            ));
        }
        let stdout = output.stdout_text();
        let Some(last) = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()) else {
            return Err(parse_error(WHAT, "qsub printed no job id".into(), None));
        };
        validate_job_id(last, WHAT)?;
        Ok(SchedulerJobId::new(last))
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        if ids.is_empty() {
            return nothing_to_do();
        }
        CommandSpec::new("qstat")
            .args(["-x", "-f"])
            .args(ids.iter().map(SchedulerJobId::as_str))
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_qstat_reply(output, "qstat -x -f")
    }

    /// The same as [`status`](Self::status): PBS Pro's history and Torque's completed jobs
    /// are in `qstat`, and there is nothing else a user can read.
    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        self.status(ids)
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_qstat_reply(output, "qstat -x -f")
    }

    /// Asks for `N_{name}` per task id (see "Names" in the module docs).
    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        if names.is_empty() {
            return nothing_to_do();
        }
        CommandSpec::new("sh")
            .arg("-c")
            .arg(FIND_BY_NAME_SCRIPT)
            .arg("sh")
            .args(names.iter().map(|n| format!("{JOB_NAME_PREFIX}{n}")))
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_qstat_reply(output, "qselect/qstat")
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("qdel", ids)
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("qhold", ids)
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("qrls", ids)
    }

    /// Indices from 0 in `${PBS_ARRAY_INDEX:-$PBS_ARRAYID}`, at most PBS Pro's default
    /// `max_array_size` (see "Job arrays" in the module docs).
    fn arrays(&self) -> Option<ArraySyntax> {
        Some(ArraySyntax {
            index_var: ARRAY_INDEX_VAR,
            first_index: 0,
            default_limit: 10_000,
        })
    }

    /// `qsub -J 0-(N-1)` or `qsub -t 0-(N-1)`, whichever the installed `qsub` takes; one
    /// element is `-J 0-1:2` / `-t 0` (see the module docs).
    fn submit_array(
        &self,
        job_dir: &str,
        script: &str,
        _name: &str,
        count: u32,
    ) -> Option<CommandSpec> {
        let (pro, torque) = match count {
            0 | 1 => ("0-1:2".to_owned(), "0".to_owned()),
            n => (format!("0-{}", n - 1), format!("0-{}", n - 1)),
        };
        Some(
            CommandSpec::new("sh")
                .args(["-c", SUBMIT_ARRAY_SCRIPT, "sh", &pro, &torque, script])
                .cwd(job_dir),
        )
    }

    /// `123[].server` -> `123[7].server` (`123[]` -> `123[7]`).
    fn element_id(&self, array: &SchedulerJobId, index: u32) -> Option<SchedulerJobId> {
        let text = array.as_str();
        let id = match text.split_once("[]") {
            Some((seq, server)) => format!("{seq}[{index}]{server}"),
            // Not an array's id as qsub prints it; the element goes before the server.
            None => match text.split_once('.') {
                Some((seq, server)) => format!("{seq}[{index}].{server}"),
                None => format!("{text}[{index}]"),
            },
        };
        Some(SchedulerJobId::new(id))
    }

    /// `123[7].server` -> `123[].server`; other ids unchanged.
    fn array_of(&self, id: &SchedulerJobId) -> SchedulerJobId {
        let text = id.as_str();
        match (text.find('['), text.find(']')) {
            (Some(open), Some(close)) if open < close => {
                SchedulerJobId::new(format!("{}[]{}", &text[..open], &text[close + 1..]))
            }
            _ => id.clone(),
        }
    }

    fn array_default_header(&self) -> &'static [&'static str] {
        ARRAY_DEFAULT_HEADER
    }

    /// `qmgr -c 'list server'`: any user may list the server's attributes.
    fn site_array_limit(&self) -> Option<CommandSpec> {
        Some(CommandSpec::new("qmgr").args(["-c", "list server"]))
    }

    /// `max_array_size = N` (PBS Pro) or `max_job_array_size = N` (Torque): the most
    /// elements (not the highest index) one array may have.
    fn parse_site_array_limit(&self, output: &CommandOutput) -> Option<u32> {
        if !output.succeeded() {
            return None;
        }
        output.stdout_text().lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            matches!(key.trim(), "max_array_size" | "max_job_array_size")
                .then(|| value.trim().parse::<u32>().ok())
                .flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids() {
        for ok in [
            "1",
            "1.pbs",
            "123[].srv",
            "123[4].a.b-c",
            "12-3.srv",
            "549159",
        ] {
            assert!(is_job_id(ok), "{ok}");
        }
        for bad in [
            "", "x1", "1.", "1.-a", "1 2", "1;rm", "1[a].s", "1[", "1.s/x", "-1",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_array_header_is_the_default_without_rerun_refusal() {
        let without: Vec<&str> = DEFAULT_HEADER
            .iter()
            .copied()
            .filter(|l| *l != "#PBS -r n")
            .collect();
        assert_eq!(ARRAY_DEFAULT_HEADER, without.as_slice());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("00:05:00"), Some(300));
        assert_eq!(parse_duration("71:59:59"), Some(259_199));
        assert_eq!(parse_duration("300"), Some(300));
        assert_eq!(parse_duration("1:2:3:4"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn exit_code_tables() {
        use PbsFlavour::{Pro, Torque};
        assert_eq!(final_state(Pro, None, false), JobState::Cancelled);
        assert_eq!(final_state(Pro, Some(0), false), JobState::Succeeded);
        assert_eq!(final_state(Pro, Some(-29), false), JobState::Timeout);
        assert_eq!(final_state(Pro, Some(-27), false), JobState::OutOfMemory);
        assert_eq!(
            final_state(Pro, Some(-11), false),
            JobState::Failed {
                exit_code: Some(-11)
            }
        );
        assert_eq!(final_state(Torque, Some(-11), false), JobState::Timeout);
        assert_eq!(final_state(Torque, Some(-10), false), JobState::OutOfMemory);
        assert_eq!(final_state(Torque, Some(-10), true), JobState::Timeout);
        assert_eq!(final_state(Pro, Some(271), false), JobState::Cancelled);
        assert_eq!(final_state(Torque, Some(265), true), JobState::Timeout);
        assert_eq!(
            final_state(Pro, Some(267), false),
            JobState::Failed {
                exit_code: Some(267)
            }
        );
        assert_eq!(
            final_state(Pro, Some(137), false),
            JobState::Failed {
                exit_code: Some(137)
            }
        );
        assert_eq!(final_state(Pro, Some(143), true), JobState::Timeout);
        assert_eq!(
            final_state(Pro, Some(1), true),
            JobState::Failed { exit_code: Some(1) }
        );
        assert_eq!(final_state(Pro, Some(-20), false), JobState::NodeFail);
    }
}
