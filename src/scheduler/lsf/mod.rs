//! The `lsf` scheduler adapter: IBM Spectrum LSF (`bsub`, `bjobs`, `bkill`).
//!
//! # Resource lines
//!
//! With `"resource_lines": true`: memory as `#BSUB -R "rusage[mem={mem_per_node}KB]"`
//! (reserved per host by default; a site with `RESOURCE_RESERVE_PER_TASK=y` reserves it per
//! task instead; unit suffixes need LSF 10.1.0.2 or later, older sites write their own line
//! in their `LSF_UNIT_FOR_LIMITS` unit), GPUs per host as `#BSUB -gpu "num={gpus}"`, the
//! account (LSF's project) as `#BSUB -P {account}`.
//!
//! # Commands
//!
//! | action | command (run in) |
//! |---|---|
//! | submit | `sh -c 'exec bsub < "$1"' sh SCRIPT` (in the job dir) |
//! | status, accounting | `bjobs -a -json -o "FIELDS" ID...` |
//! | find by name | `sh -c 'for name do bjobs -a -json -o "$0" -J "$name"; done' FIELDS NAME...` |
//! | cancel / hold / release | `bkill ID...` / `bstop ID...` / `bresume ID...` |
//! | submit an array of N | `sh -c 'exec bsub -J "$2" < "$1"' sh SCRIPT 'NAME[1-N]'` (in the job dir) |
//! | array size limit | `bparams -a` (`MAX_JOB_ARRAY_SIZE`) |
//!
//! with FIELDS = [`BJOBS_FIELDS`]. An empty id or name list gives the command `true`: `bjobs`
//! without ids lists all of the user's jobs, and `bkill` without one kills the user's most
//! recent job (bkill man page).
//!
//! - `bsub` reads `#BSUB` lines only from a script on its standard input (`bsub < script`);
//!   given as an argument the script runs but its directives are ignored. The scheduler layer is
//!   pure and does not read the script, so a fixed `sh -c` program redirects it, with the file
//!   name as a positional argument (never spliced into the program text).
//! - `-json` (LSF 10.1+) is machine-readable where `-o ... delimiter='|'` breaks on a `|` in a
//!   job name or reason. `-a` keeps finished jobs (DONE/EXIT) in the list for `CLEAN_PERIOD`
//!   (lsb.params, default one hour): that window is the accounting xpr reads. After it a job is
//!   absent ("Job <123> is not found" on stderr, which is not an error here) and the layers
//!   above rely on the job's own exit marker file; `bhist`/`bacct` are not used.
//! - `run_time` and `max_mem` are the accounting of a finished job ([`JobStatus::elapsed_secs`],
//!   [`JobStatus::peak_memory_kb`]); `exit_reason` with the exit code is LSF's own word on its
//!   end ([`JobStatus::scheduler_reason`]).
//! - Delimited `-o` text and plain JSON are both parsed ([`parse_bjobs`]), so outputs captured
//!   with other field lists can be read too.
//!
//! # States
//!
//! `PEND`, `WAIT` (chunk job), `PROV` (provisioning) are queued; `PSUSP` (suspended while
//! pending: `bstop`, `bsub -H`) and `USUSP` (suspended by its owner) are held; `RUN` and `SSUSP`
//! (suspended by LSF for load or preemption) are running; `DONE` succeeded; `EXIT` is read from
//! the termination reason (`exit_reason`, "TERM_RUNLIMIT: job killed after reaching LSF run time
//! limit"; keywords from IBM's "Termination reasons displayed by bacct, bhist, and bjobs"):
//!
//! | reason | state |
//! |---|---|
//! | `TERM_RUNLIMIT`, `TERM_DEADLINE` | timeout |
//! | `TERM_MEMLIMIT`, `TERM_SWAP` | out of memory |
//! | `TERM_OWNER`, `TERM_FORCE_OWNER`, `TERM_ADMIN`, `TERM_FORCE_ADMIN`, `TERM_BUCKET_KILL` | cancelled |
//! | `TERM_PREEMPT` | preempted |
//! | `TERM_SLURM` (node failure), `TERM_REMOVE_HUNG_JOB`, `TERM_RC` (cloud host reclaimed) | node failure |
//! | any other, or none | failed, with `exit_code` |
//!
//! `ZOMBI` and `UNKWN` (LSF lost track of the job) are kept as unknown.
//!
//! # Job ids
//!
//! `123`, array elements `123[4]`. Anything else in a reply is rejected. `bjobs -o` prints an
//! element's `JOBID` as its array's (`123`) with the index in `JOBINDEX` (`0` outside arrays),
//! so [`BJOBS_FIELDS`] asks for both and a record's id is `JOBID[JOBINDEX]` for an element.
//!
//! # Job arrays
//!
//! `bsub -J "NAME[1-N]"` (IBM LSF 10.1 "Job arrays"): the array's name and index range go on
//! the command line, where they override the script's `#BSUB -J {id}` line (options given to
//! `bsub` win over the script's). Elements count from 1 in `LSB_JOBINDEX`; element `i` of job
//! `123` is `123[i]`, which `bjobs`, `bkill`, `bstop` and `bresume` take for that element alone.
//! An element's `JOB_NAME` is `NAME[i]`: the adapter reports `NAME`, the array's name, so a
//! lookup by name (`bjobs -J NAME`, which lists every element) finds the array. The size limit
//! is `MAX_JOB_ARRAY_SIZE` in `lsb.params` (default 1000; it caps the index too, and indices
//! start at 1, so it is also the most elements), read with `bparams -a`.

mod time;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

pub use time::{LsfTime, parse_lsf_time};

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::ids::SchedulerJobId;
use crate::resources::NodeAllocation;
use crate::scheduler::{
    ArraySyntax, JobState, JobStatus, ParseError, Scheduler, SchedulerKind, ids_command,
    nothing_to_do,
};

/// The LSF adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct LsfScheduler;

/// The default header lines. `-W` takes `[hours:]minutes`, not `H:MM:SS`, hence the template
/// key `max_time_minutes` (the wall time in whole minutes, rounded up).
pub const DEFAULT_HEADER: &[&str] = &[
    "#BSUB -J {job_name}",
    "#BSUB -q {partition}",
    "#BSUB -W {max_time_minutes}",
    "#BSUB -n {num_cores}",
    "#BSUB -o job.{id}.stdout",
    "#BSUB -e job.{id}.stderr",
];

/// The `bjobs -o` fields the adapter asks for.
pub const BJOBS_FIELDS: &str = concat!(
    "jobid jobindex job_name stat exit_code exit_reason exec_host pend_reason finish_time ",
    "run_time max_mem"
);

/// The program behind [`Scheduler::submit`] (`submit.sh`); `$1` is the script's file name.
pub const SUBMIT_SCRIPT: &str = shell_program!(include_str!("submit.sh"));

/// The program behind [`Scheduler::submit_array`] (`submit_array.sh`); `$1` is the script's
/// file name, `$2` the array's `NAME[1-N]`.
pub const SUBMIT_ARRAY_SCRIPT: &str = shell_program!(include_str!("submit_array.sh"));

/// The program behind [`Scheduler::find_by_name`] (`find_by_name.sh`); `$0` is
/// [`BJOBS_FIELDS`], the names follow.
/// `bjobs -J` takes one name per call, so it runs once per name; each prints its own JSON
/// document and the parser reads them in turn.
pub const FIND_BY_NAME_SCRIPT: &str = shell_program!(include_str!("find_by_name.sh"));

/// One job of a `bjobs` reply: field name (upper case, as `bjobs` heads its columns and names
/// its JSON keys) -> value. Empty values and LSF's `-` placeholder are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BjobsRecord {
    /// `JOBID` -> `22005`, `STAT` -> `DONE`, ...
    pub fields: BTreeMap<String, String>,
}

impl BjobsRecord {
    /// A field's value (trimmed; `None` when empty or `-`).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// A time field (`SUBMIT_TIME`, `START_TIME`, `FINISH_TIME`) parsed, suffix and all.
    pub fn time(&self, field: &str) -> Result<Option<LsfTime>, ParseError> {
        let Some(raw) = self.get(field) else {
            return Ok(None);
        };
        parse_lsf_time(raw)
            .map_err(|m| parse_error("bjobs output", format!("{field}: {m}"), Some(raw)))
    }

    /// The job's state in xpr's model (tables in the module docs).
    pub fn status(&self) -> Result<JobStatus, ParseError> {
        let Some(id) = self.get("JOBID") else {
            return Err(parse_error(
                "bjobs output",
                "a record has no JOBID".into(),
                None,
            ));
        };
        validate_job_id(id)?;
        // An element's JOBID is its array's; JOBINDEX tells it apart (0 outside arrays).
        let id = match self.get("JOBINDEX") {
            None | Some("0") => id.to_owned(),
            Some(_) if id.contains('[') => id.to_owned(),
            Some(i) if i.bytes().all(|b| b.is_ascii_digit()) => format!("{id}[{i}]"),
            Some(i) => {
                return Err(parse_error(
                    "bjobs output",
                    format!("job {id}: JOBINDEX is not an index"),
                    Some(i),
                ));
            }
        };
        let id = id.as_str();
        let raw_state = self.get("STAT").unwrap_or_default();
        let exit_code = match self.get("EXIT_CODE") {
            None => None,
            Some(c) => Some(c.parse::<i32>().map_err(|_| {
                parse_error(
                    "bjobs output",
                    format!("job {id}: EXIT_CODE is not an integer"),
                    Some(c),
                )
            })?),
        };
        let exit_reason = self.get("EXIT_REASON");
        let state = match raw_state {
            "PEND" | "WAIT" | "PROV" => JobState::Queued,
            "PSUSP" | "USUSP" => JobState::Held,
            "RUN" | "SSUSP" => JobState::Running,
            "DONE" => JobState::Succeeded,
            "EXIT" => exit_state(exit_reason, exit_code),
            other => JobState::Unknown {
                raw: other.to_owned(),
            },
        };
        // `exec_host` is `host1:host2` in -o/-json output, `4*host1` with slot counts.
        let node = self
            .get("EXEC_HOST")
            .and_then(|h| h.split([':', ' ']).next())
            .map(|h| h.split_once('*').map_or(h, |(_, host)| host))
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        let reason = self
            .get("PEND_REASON")
            .or(exit_reason)
            .map(|r| r.trim_end_matches(';').to_owned());
        let scheduler_reason = state.is_final().then(|| {
            let exit = exit_code.map(|c| format!("exit code {c}"));
            match (exit_reason.map(|r| r.trim_end_matches(';')), exit) {
                (Some(r), Some(e)) => format!("{raw_state}: {r} ({e})"),
                (Some(r), None) => format!("{raw_state}: {r}"),
                (None, Some(e)) => format!("{raw_state}, {e}"),
                (None, None) => raw_state.to_owned(),
            }
        });
        Ok(JobStatus {
            id: SchedulerJobId::new(id),
            // An element is named after its array (`NAME[7]`): report the array's name.
            name: self
                .get("JOB_NAME")
                .map(|n| if id.contains('[') { array_name(n) } else { n }.to_owned()),
            state,
            raw_state: raw_state.to_owned(),
            exit_code,
            node,
            reason,
            elapsed_secs: self.get("RUN_TIME").and_then(run_time_seconds),
            // LSF's bare numbers are in LSF_UNIT_FOR_LIMITS, MB by default.
            peak_memory_kb: self
                .get("MAX_MEM")
                .and_then(|m| crate::scheduler::memory_kb(m, 1024 * 1024)),
            scheduler_reason,
        })
    }
}

/// The array's name in an element's `JOB_NAME`: `sweep[7]` -> `sweep`; a name without an
/// index suffix unchanged.
pub fn array_name(job_name: &str) -> &str {
    job_name
        .strip_suffix(']')
        .and_then(|rest| rest.rsplit_once('['))
        .filter(|(_, index)| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .map_or(job_name, |(name, _)| name)
}

/// Seconds of a `RUN_TIME` value: `16038 second(s)` (bjobs -o), or `HH:MM:SS` (some
/// `-json` replies).
fn run_time_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(number) = text.strip_suffix("second(s)") {
        return number.trim().parse().ok();
    }
    let mut total: u64 = 0;
    for part in text.split(':') {
        total = total
            .checked_mul(60)?
            .checked_add(part.trim().parse().ok()?)?;
    }
    Some(total)
}

/// An `EXIT` job's state from its termination reason keyword (the text before the colon).
fn exit_state(reason: Option<&str>, exit_code: Option<i32>) -> JobState {
    let keyword = reason
        .map(|r| r.split([':', ' ']).next().unwrap_or(r).trim())
        .unwrap_or_default();
    match keyword {
        "TERM_RUNLIMIT" | "TERM_DEADLINE" => JobState::Timeout,
        "TERM_MEMLIMIT" | "TERM_SWAP" => JobState::OutOfMemory,
        "TERM_OWNER" | "TERM_FORCE_OWNER" | "TERM_ADMIN" | "TERM_FORCE_ADMIN"
        | "TERM_BUCKET_KILL" => JobState::Cancelled,
        "TERM_PREEMPT" => JobState::Preempted,
        "TERM_SLURM" | "TERM_REMOVE_HUNG_JOB" | "TERM_RC" => JobState::NodeFail,
        _ => JobState::Failed { exit_code },
    }
}

/// Canonical field names for the `-o` aliases found in the wild (`id`, `name`).
fn canonical_field(name: &str) -> String {
    match name.trim().to_ascii_lowercase().as_str() {
        "id" => "JOBID".to_owned(),
        "name" => "JOB_NAME".to_owned(),
        "st" => "STAT".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

fn insert_value(fields: &mut BTreeMap<String, String>, key: String, value: &str) {
    let value = value.trim();
    if !value.is_empty() && value != "-" {
        fields.insert(key, value.to_owned());
    }
}

/// Parses a `bjobs` reply: one or more `-json` documents, or `-o ... delimiter='|'` text with
/// its header line. Empty output is no jobs.
pub fn parse_bjobs(output: &str) -> Result<Vec<BjobsRecord>, ParseError> {
    let trimmed = output.trim_start();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('{') {
        return parse_bjobs_json(trimmed);
    }
    let mut lines = trimmed.lines();
    let header = lines.next().unwrap_or_default();
    if !header.contains("JOBID") {
        return Err(parse_error(
            "bjobs output",
            "neither JSON nor a delimited table with a JOBID header".into(),
            Some(header),
        ));
    }
    let delimiter = header
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '%' | ' ')))
        .unwrap_or(' ');
    if delimiter == ' ' {
        // The default `bjobs` table: fixed-width, truncated columns (`1*launch_ho`), and wrapped
        // EXEC_HOST lines. Not machine-readable, and never asked for.
        return Err(parse_error(
            "bjobs output",
            "a fixed-width bjobs table, not `-json` or `-o ... delimiter=` output".into(),
            Some(header),
        ));
    }
    let fields: Vec<&str> = header.split(delimiter).collect();
    let rest: String = lines.map(|l| format!("{l}\n")).collect();
    parse_bjobs_delimited(&rest, &fields, delimiter)
}

/// Parses `bjobs -noheader -o "f1 f2 ... delimiter='D'"` output, given the field list and the
/// delimiter. The last field takes the rest of the line, so only it may contain the delimiter.
pub fn parse_bjobs_delimited(
    text: &str,
    fields: &[&str],
    delimiter: char,
) -> Result<Vec<BjobsRecord>, ParseError> {
    let names: Vec<String> = fields.iter().map(|f| canonical_field(f)).collect();
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let values: Vec<&str> = line.splitn(names.len(), delimiter).collect();
        if values.len() != names.len() {
            return Err(parse_error(
                "bjobs output",
                format!(
                    "line {} has {} fields, expected {}",
                    index + 1,
                    values.len(),
                    names.len()
                ),
                Some(line),
            ));
        }
        let mut record = BjobsRecord::default();
        for (name, value) in names.iter().zip(values) {
            insert_value(&mut record.fields, name.clone(), value);
        }
        records.push(record);
    }
    Ok(records)
}

/// Parses `bjobs -json` output: `{"COMMAND":"bjobs","JOBS":n,"RECORDS":[{...}]}`, possibly
/// several documents in a row (one per `bjobs` call of the find-by-name loop).
pub fn parse_bjobs_json(text: &str) -> Result<Vec<BjobsRecord>, ParseError> {
    const WHAT: &str = "bjobs -json output";
    let mut records = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    for document in stream {
        let document = document.map_err(|e| {
            parse_error(
                WHAT,
                format!("{e} (hint: is the reply cut short?)"),
                text.lines().nth(e.line().saturating_sub(1)),
            )
        })?;
        let Some(list) = document.get("RECORDS").and_then(|r| r.as_array()) else {
            return Err(parse_error(WHAT, "no RECORDS array".into(), None));
        };
        for item in list {
            let Some(object) = item.as_object() else {
                return Err(parse_error(WHAT, "a record is not an object".into(), None));
            };
            let mut record = BjobsRecord::default();
            for (key, value) in object {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                insert_value(&mut record.fields, canonical_field(key), &text);
            }
            records.push(record);
        }
    }
    Ok(records)
}

/// A [`ParseError`] of this scheduler.
fn parse_error(what: &'static str, message: String, snippet: Option<&str>) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Lsf,
        what,
        message,
        snippet: snippet.map(|s| s.chars().take(200).collect()),
    }
}

fn validate_job_id(id: &str) -> Result<(), ParseError> {
    static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]+(\[[0-9]+\])?$").unwrap());
    if ID.is_match(id) {
        Ok(())
    } else {
        Err(parse_error(
            "bjobs output",
            "not an LSF job id".into(),
            Some(id),
        ))
    }
}

/// True for a message that only says a job is not (or no longer) known.
fn is_absent_job_message(line: &str) -> bool {
    line.contains("is not found") || (line.starts_with("No ") && line.contains("job found"))
}

/// The jobs in a `bjobs` reply, after checking its exit status and stderr.
fn parse_bjobs_reply(output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
    let stderr = output.stderr_text();
    let problems: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_absent_job_message(l))
        .collect();
    // bjobs exits 255 when any id is unknown, still printing the others.
    if !output.succeeded() && (!problems.is_empty() || output.code.is_none()) {
        return Err(parse_error(
            "bjobs reply",
            format!(
                "bjobs failed ({}): {}",
                output
                    .code
                    .map_or("killed by a signal".to_owned(), |c| format!(
                        "exit code {c}"
                    )),
                problems.first().copied().unwrap_or("no message")
            ),
            None,
        ));
    }
    let mut jobs = Vec::new();
    for record in parse_bjobs(&output.stdout_text())? {
        // With -json an unknown id comes back as a record holding only JOBID and ERROR.
        if let Some(error) = record.get("ERROR") {
            if is_absent_job_message(error) {
                continue;
            }
            return Err(parse_error(
                "bjobs reply",
                error.to_owned(),
                record.get("JOBID"),
            ));
        }
        jobs.push(record.status()?);
    }
    Ok(jobs)
}

impl Scheduler for LsfScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lsf
    }

    fn default_header(&self) -> &'static [&'static str] {
        DEFAULT_HEADER
    }

    /// `rusage[mem=...]`, `-gpu "num=N"`, `-P` (see the module docs).
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        let mut lines = Vec::new();
        if alloc.mem.is_some() {
            lines.push("#BSUB -R \"rusage[mem={mem_per_node}KB]\"");
        }
        if alloc.gpus.is_some() {
            lines.push("#BSUB -gpu \"num={gpus}\"");
        }
        if alloc.account.is_some() {
            lines.push("#BSUB -P {account}");
        }
        lines
    }

    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        CommandSpec::new("sh")
            .args(["-c", SUBMIT_SCRIPT, "sh", script])
            .cwd(job_dir)
    }

    /// `Job <123> is submitted to queue <normal>.` or `... to default queue <normal>.`; other
    /// lines (esub messages, warnings) may come before it.
    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        static REPLY: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^Job <([0-9]+)> is submitted to (?:default )?queue <[^<>]*>\.?$").unwrap()
        });
        if !output.succeeded() {
            let stderr = output.stderr_text();
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
            return Err(parse_error(
                "bsub reply",
                format!(
                    "bsub failed ({}): {} (hint: the message is the scheduler's; check the \
                     header lines and the queue)",
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
        stdout
            .lines()
            .find_map(|l| REPLY.captures(l.trim()))
            .map(|c| SchedulerJobId::new(&c[1]))
            .ok_or_else(|| {
                parse_error(
                    "bsub reply",
                    "no `Job <N> is submitted to ... queue <Q>.` line".into(),
                    stdout.lines().find(|l| !l.trim().is_empty()),
                )
            })
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        if ids.is_empty() {
            return nothing_to_do();
        }
        CommandSpec::new("bjobs")
            .args(["-a", "-json", "-o", BJOBS_FIELDS])
            .args(ids.iter().map(SchedulerJobId::as_str))
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_bjobs_reply(output)
    }

    /// The same as [`status`](Self::status): `bjobs -a` keeps finished jobs for
    /// `CLEAN_PERIOD`, with their exit code and termination reason.
    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        self.status(ids)
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_bjobs_reply(output)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        if names.is_empty() {
            return nothing_to_do();
        }
        CommandSpec::new("sh")
            .args(["-c", FIND_BY_NAME_SCRIPT, BJOBS_FIELDS])
            .args(names)
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_bjobs_reply(output)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("bkill", ids)
    }

    /// `bstop`: a pending job becomes PSUSP (held), a running one USUSP (suspended).
    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("bstop", ids)
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_command("bresume", ids)
    }

    /// Indices from 1 in `LSB_JOBINDEX`, at most `MAX_JOB_ARRAY_SIZE`'s default (see "Job
    /// arrays" in the module docs).
    fn arrays(&self) -> Option<ArraySyntax> {
        Some(ArraySyntax {
            index_var: "LSB_JOBINDEX",
            first_index: 1,
            default_limit: 1000,
        })
    }

    /// `bsub -J "NAME[1-N]" < SCRIPT`: the array is named on the command line.
    fn submit_array(
        &self,
        job_dir: &str,
        script: &str,
        name: &str,
        count: u32,
    ) -> Option<CommandSpec> {
        let array = format!("{name}[1-{}]", count.max(1));
        Some(
            CommandSpec::new("sh")
                .args(["-c", SUBMIT_ARRAY_SCRIPT, "sh", script, &array])
                .cwd(job_dir),
        )
    }

    /// `123` -> `123[7]`.
    fn element_id(&self, array: &SchedulerJobId, index: u32) -> Option<SchedulerJobId> {
        Some(SchedulerJobId::new(format!("{array}[{index}]")))
    }

    /// `123[7]` -> `123`.
    fn array_of(&self, id: &SchedulerJobId) -> SchedulerJobId {
        let text = id.as_str();
        SchedulerJobId::new(text.split_once('[').map_or(text, |(array, _)| array))
    }

    fn site_array_limit(&self) -> Option<CommandSpec> {
        Some(CommandSpec::new("bparams").arg("-a"))
    }

    /// `MAX_JOB_ARRAY_SIZE = 1000`: it caps the index, and indices start at 1, so an array has
    /// at most that many elements.
    fn parse_site_array_limit(&self, output: &CommandOutput) -> Option<u32> {
        if !output.succeeded() {
            return None;
        }
        output.stdout_text().lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "MAX_JOB_ARRAY_SIZE")
                .then(|| value.trim().parse::<u32>().ok())
                .flatten()
        })
    }
}
