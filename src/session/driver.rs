//! The system driver: the one owner of a system's remote side.
//!
//! Everything the engine asks of a system goes through its [`SystemDriver`]: status and
//! accounting of many jobs, finding jobs by name, cancelling, the batch program that submits,
//! staging run dirs up, fetching them back and removing them. Each operation is one round trip
//! for many tasks (id lists are chunked only to stay under [`MAX_ARG_BYTES`]), returns typed
//! results, and names the system and host in its errors. The driver holds no task state and
//! never touches the jobs DB: the orchestrators above it (`submit`, `follow`, `manage`) decide
//! and write transitions.
//!
//! A driver is a transport (how to reach the host) plus a scheduler adapter (which commands
//! to run there and how to read their replies); tests give it fakes of both.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::Arc;

use super::error::{SessionError, exit_words};
use super::protocol::{
    BATCH_PROGRAM, BatchReply, CLEAN_PROGRAM, COLLECT_PROGRAM, LIST_PROGRAM, STAGE_PROGRAM,
    TAIL_PROGRAM, WATCH_PROGRAM, frame_lines, parse_batch_reply, tail_text,
};
use crate::command::{CommandOutput, CommandSpec, shell_quote};
use crate::config::System;
use crate::ids::SchedulerJobId;
use crate::scheduler::{JobStatus, ParseError, Scheduler};
use crate::transport::{DynRead, DynWrite, Retry, Transport, check_success};

/// Most bytes of ids/names put in one command (well below `ARG_MAX` and sshd's limits).
pub const MAX_ARG_BYTES: usize = 64 * 1024;

/// The remote lock file's name in each remote base.
pub const SUBMIT_LOCK_FILE: &str = ".xpr-submit.lock";

/// What the scheduler said to one job's submission in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitReply {
    /// Accepted, with this job id.
    Submitted(SchedulerJobId),
    /// Refused: the submit command failed, with what it said.
    Refused {
        /// Its exit code.
        code: Option<i32>,
        /// The end of its stderr (or the parser's complaint when stderr is empty).
        message: String,
    },
    /// No readable reply (the batch was cut short, or the reply does not parse): the job may
    /// or may not exist; look it up by name before submitting again.
    Unsure,
}

/// One job to submit in a batch: a task's own script, or a group's (see the `group` module).
#[derive(Clone, Copy, Debug)]
pub struct SubmitJob<'a> {
    /// The remote dir the job is submitted from (its script is there).
    pub job_dir: &'a str,
    /// The script's file name in `job_dir`.
    pub script: &'a str,
    /// For a group, the script's text: the submit line writes it into `job_dir` first.
    pub text: Option<&'a str>,
    /// For an array: its name and number of elements.
    pub array: Option<(&'a str, u32)>,
}

/// The driver of one system (see the module docs).
pub struct SystemDriver {
    system: System,
    transport: Arc<dyn Transport>,
    scheduler: Arc<dyn Scheduler>,
    /// The site's per-user job cap, asked once per driver (see [`SystemDriver::site_job_limit`]).
    site_limit: tokio::sync::OnceCell<Option<u32>>,
    /// The site's array size limit, asked once (see [`SystemDriver::array_limit`]).
    array_limit: tokio::sync::OnceCell<u32>,
    /// Remote commands run so far (see [`SystemDriver::round_trips`]).
    round_trips: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SystemDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemDriver")
            .field("system", &self.system.name)
            .field("host", &self.transport.host())
            .field("scheduler", &self.scheduler.kind())
            .finish()
    }
}

/// One of a scheduler's "ask about many jobs" commands: how to build it and read its reply.
type JobQuery = (
    &'static str,
    fn(&dyn Scheduler, &[SchedulerJobId]) -> CommandSpec,
    fn(&dyn Scheduler, &CommandOutput) -> Result<Vec<JobStatus>, ParseError>,
);

const STATUS: JobQuery = ("status", |s, ids| s.status(ids), |s, o| s.parse_status(o));
const ACCOUNTING: JobQuery = (
    "accounting",
    |s, ids| s.accounting(ids),
    |s, o| s.parse_accounting(o),
);

impl SystemDriver {
    /// A driver for `system` reaching it through `transport` and speaking `scheduler`.
    pub fn new(
        system: System,
        transport: Arc<dyn Transport>,
        scheduler: Arc<dyn Scheduler>,
    ) -> Self {
        Self {
            system,
            transport,
            scheduler,
            site_limit: tokio::sync::OnceCell::new(),
            array_limit: tokio::sync::OnceCell::new(),
            round_trips: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many remote commands (round trips to the system's host: queries, batches, tar
    /// streams) this driver has run: what a sweep's submission costs in latency over a slow
    /// link grows with this, not with its number of tasks.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_round_trip(&self) {
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs `cmd` on the host, counted as one round trip.
    async fn run(&self, cmd: &CommandSpec, retry: Retry) -> Result<CommandOutput, SessionError> {
        self.count_round_trip();
        let started = std::time::Instant::now();
        let out = self.transport.run(cmd, retry).await;
        // The program and its first word (`sh -c PROGRAM NAME` names the shell program).
        tracing::debug!(
            system = %self.system.name,
            program = %cmd.program.to_string_lossy(),
            what = %cmd.args.get(2).or(cmd.args.first()).map(|a| a.to_string_lossy()).unwrap_or_default(),
            took = ?started.elapsed(),
            "remote command"
        );
        Ok(out?)
    }

    /// The scheduler adapter.
    pub(crate) fn scheduler(&self) -> &dyn Scheduler {
        self.scheduler.as_ref()
    }

    /// The most elements one job array may have here: the site's limit where the scheduler
    /// tells it (Slurm's `MaxArraySize`), else the system's `max_array_size`, else the
    /// scheduler's default; asked once. The config's value caps the site's too (a user may
    /// want smaller arrays). 1 for a scheduler without arrays.
    pub async fn array_limit(&self) -> u32 {
        *self
            .array_limit
            .get_or_init(|| async {
                let Some(syntax) = self.scheduler.arrays() else {
                    return 1;
                };
                let site = match self.scheduler.site_array_limit() {
                    None => None,
                    Some(cmd) => match self.run(&cmd, Retry::Safe).await {
                        Ok(out) => self.scheduler.parse_site_array_limit(&out),
                        Err(e) => {
                            tracing::warn!(system = %self.system.name, error = %e, "cannot read the site's array size limit");
                            None
                        }
                    },
                };
                let limit = match (site, self.system.max_array_size) {
                    (Some(s), Some(c)) => s.min(c),
                    (Some(s), None) => s,
                    (None, Some(c)) => c,
                    (None, None) => syntax.default_limit,
                };
                tracing::info!(system = %self.system.name, limit, "array size limit");
                limit.max(1)
            })
            .await
    }

    /// The site's own cap on this user's jobs in the queue (Slurm's association
    /// `MaxSubmitJobs`), asked once: `None` when the scheduler does not tell it, none is set,
    /// or asking failed (logged: xpr then relies on the config's `max_queued` alone).
    pub async fn site_job_limit(&self) -> Option<u32> {
        *self
            .site_limit
            .get_or_init(|| async {
                let cmd = self.scheduler.site_job_limit()?;
                match self.run(&cmd, Retry::Safe).await {
                    Ok(out) => {
                        let limit = self.scheduler.parse_site_job_limit(&out);
                        if let Some(limit) = limit {
                            tracing::info!(system = %self.system.name, limit, "the site caps this user's jobs in the queue");
                        }
                        limit
                    }
                    Err(e) => {
                        tracing::warn!(system = %self.system.name, error = %e, "cannot read the site's job limit");
                        None
                    }
                }
            })
            .await
    }

    /// How many jobs this user has in the queue now (all of them, not only xpr's), where
    /// the scheduler can list them.
    pub async fn user_queue_len(&self) -> Result<Option<usize>, SessionError> {
        let Some(cmd) = self.scheduler.user_jobs() else {
            return Ok(None);
        };
        let out = self.run(&cmd, Retry::Safe).await?;
        if !out.succeeded() {
            return Err(self.remote_error(format!("`{cmd}` failed: {}", out.stderr_text().trim())));
        }
        Ok(Some(
            out.stdout_text()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count(),
        ))
    }

    /// The system driven.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// The host it reaches.
    pub fn host(&self) -> &str {
        self.transport.host()
    }

    /// The transport (to close it).
    pub(crate) fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    fn remote_error(&self, message: String) -> SessionError {
        SessionError::Remote {
            system: self.system.name.clone(),
            host: self.host().to_owned(),
            message,
        }
    }

    fn parse_error(&self, source: ParseError) -> SessionError {
        SessionError::Scheduler {
            system: self.system.name.clone(),
            source,
        }
    }

    /// Runs one of the "about many jobs" queries for `ids`: chunk, run, parse, key by id.
    async fn query_jobs(
        &self,
        (what, build, parse): JobQuery,
        ids: &[SchedulerJobId],
    ) -> Result<HashMap<SchedulerJobId, JobStatus>, SessionError> {
        let mut out = HashMap::new();
        for chunk in chunk_by_len(ids, |j| j.as_str().len()) {
            let cmd = build(self.scheduler.as_ref(), chunk);
            let reply = self.run(&cmd, Retry::Safe).await?;
            let parsed = parse(self.scheduler.as_ref(), &reply).map_err(|e| {
                tracing::debug!(system = %self.system.name, what, command = %cmd, "reply does not parse");
                self.parse_error(e)
            })?;
            out.extend(parsed.into_iter().map(|s| (s.id.clone(), s)));
        }
        Ok(out)
    }

    /// What the queue says of `ids` (jobs it no longer lists are absent from the map).
    pub async fn status(
        &self,
        ids: &[SchedulerJobId],
    ) -> Result<HashMap<SchedulerJobId, JobStatus>, SessionError> {
        self.query_jobs(STATUS, ids).await
    }

    /// What accounting says of `ids` (jobs it has no record of are absent).
    pub async fn accounting(
        &self,
        ids: &[SchedulerJobId],
    ) -> Result<HashMap<SchedulerJobId, JobStatus>, SessionError> {
        self.query_jobs(ACCOUNTING, ids).await
    }

    /// Asks the scheduler to cancel `ids`. A cancel of a job that just ended fails harmlessly
    /// and the follow loop reads the final state either way, so a refusal is only logged.
    pub async fn cancel(&self, ids: &[SchedulerJobId]) -> Result<(), SessionError> {
        for chunk in chunk_by_len(ids, |j| j.as_str().len()) {
            let cmd = self.scheduler.cancel(chunk);
            let out = self.run(&cmd, Retry::Never).await?;
            if !out.succeeded() {
                tracing::warn!(system = %self.system.name, command = %cmd, stderr = %out.stderr_text(), "cancel reported an error");
            }
        }
        Ok(())
    }

    /// Runs `lines` through the batch program under `base`'s remote lock.
    pub async fn run_batch(
        &self,
        base: &str,
        lines: &[Vec<u8>],
        retry: Retry,
    ) -> Result<(CommandSpec, CommandOutput, BatchReply), SessionError> {
        let lock = format!("{}/{SUBMIT_LOCK_FILE}", base.trim_end_matches('/'));
        let cmd = CommandSpec::new("sh")
            .args([
                OsString::from("-c"),
                OsString::from(BATCH_PROGRAM),
                OsString::from("xpr-batch"),
                OsString::from(lock),
            ])
            .stdin(frame_lines(lines));
        let out = self.run(&cmd, retry).await?;
        let reply = parse_batch_reply(&out.stdout);
        Ok((cmd, out, reply))
    }

    /// Submits `jobs` in one batch under `base`'s remote lock, each after the system's
    /// `pre_submit_cmds` (a group's line first writes its script, by a here-document, so its
    /// size is bounded by no argument limit). Returns one reply per job, in order. Fails,
    /// having run nothing, when the batch could not take the lock; a transport error means
    /// some jobs may have been submitted (look them up by name).
    pub async fn submit(
        &self,
        base: &str,
        jobs: &[SubmitJob<'_>],
    ) -> Result<Vec<SubmitReply>, SessionError> {
        let lines = jobs
            .iter()
            .map(|job| {
                submit_line(&self.system, self.scheduler.as_ref(), job).ok_or_else(|| {
                    self.remote_error(format!(
                        "the {} scheduler has no job arrays",
                        self.scheduler.kind()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (cmd, out, reply) = self.run_batch(base, &lines, Retry::Never).await?;
        if !reply.locked {
            return Err(self.remote_error(format!(
                "the submission batch could not start ({}): {} (command: {cmd})",
                exit_words(out.code),
                out.stderr_text().trim()
            )));
        }
        if let Some(error) = &reply.error {
            tracing::warn!(system = %self.system.name, %error, "submission batch reply was cut short");
        }
        let mut by_index: HashMap<usize, &CommandOutput> =
            reply.records.iter().map(|(i, o)| (*i, o)).collect();
        Ok((0..jobs.len())
            .map(|i| match by_index.remove(&i) {
                None => SubmitReply::Unsure,
                Some(output) => match self.scheduler.parse_submit(output) {
                    Ok(job) => SubmitReply::Submitted(job),
                    Err(e) if !output.succeeded() => {
                        let stderr = tail_text(&output.stderr, 2000);
                        SubmitReply::Refused {
                            code: output.code,
                            message: if stderr.is_empty() {
                                e.to_string()
                            } else {
                                stderr
                            },
                        }
                    }
                    Err(e) => {
                        tracing::warn!(system = %self.system.name, error = %e, "submit reply unreadable; the job will be looked up by name");
                        SubmitReply::Unsure
                    }
                },
            })
            .collect())
    }

    /// The jobs carrying each of `names`, under `base`'s remote lock (so no batch of a dead
    /// process is still submitting). A name absent from the map has no job.
    pub async fn find_by_name(
        &self,
        base: &str,
        names: &[String],
    ) -> Result<HashMap<String, Vec<JobStatus>>, SessionError> {
        // The scheduler knows the jobs by their names after the system's prefix.
        let prefix = self.system.job_name_prefix.as_deref().unwrap_or_default();
        let names: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
        let lines: Vec<Vec<u8>> = chunk_by_len(&names, String::len)
            .into_iter()
            .map(|chunk| self.scheduler.find_by_name(chunk).to_shell_line())
            .collect();
        let (cmd, out, reply) = self.run_batch(base, &lines, Retry::Safe).await?;
        if !reply.locked || !reply.complete || reply.records.len() != lines.len() {
            return Err(self.remote_error(format!(
                "looking up interrupted submissions by name failed ({}): {} (command: {cmd})",
                exit_words(out.code),
                out.stderr_text().trim()
            )));
        }
        let mut found: HashMap<String, Vec<JobStatus>> = HashMap::new();
        for (_, output) in &reply.records {
            let jobs = self
                .scheduler
                .parse_find_by_name(output)
                .map_err(|e| self.parse_error(e))?;
            for job in jobs {
                if let Some(name) = job.name.as_deref().and_then(|n| n.strip_prefix(prefix)) {
                    found.entry(name.to_owned()).or_default().push(job);
                }
            }
        }
        Ok(found)
    }

    /// Streams the tar stream `tar` (as it is packed: [`crate::stage::TarStream`]) into
    /// `base`, where the stage program unpacks it.
    pub async fn stage(&self, base: &str, tar: DynRead<'_>) -> Result<(), SessionError> {
        let cmd = stage_command(base);
        self.count_round_trip();
        let out = self.transport.run_streaming(&cmd, Some(tar), None).await?;
        check_success(self.host(), &cmd, out)?;
        Ok(())
    }

    /// Fetches the run dirs `names` under `base` as one tar stream, written to `tar` as it
    /// comes (an unpacker reading the other end of a pipe: nothing on disk but the files).
    pub async fn fetch(
        &self,
        base: &str,
        names: &[String],
        tar: DynWrite<'_>,
    ) -> Result<(), SessionError> {
        let cmd = CommandSpec::new("sh")
            .args(["-c", COLLECT_PROGRAM, "xpr-collect", base])
            .args(names.iter().map(OsString::from));
        self.count_round_trip();
        let out = self.transport.run_streaming(&cmd, None, Some(tar)).await?;
        if !out.succeeded() {
            return Err(self.remote_error(format!(
                "fetching run dirs failed ({}): {} (command: {cmd})",
                exit_words(out.code),
                out.stderr_text().trim()
            )));
        }
        Ok(())
    }

    /// Waits until one of the run dirs `dirs` (relative to the remote `$HOME`, or absolute)
    /// has its exit status marker, napping `naps` (seconds) between looks, and `gather`
    /// seconds more once one has (for the others that end with it); returns those that have
    /// one, each with the status it holds (`None` when unreadable); none: the naps ran out.
    /// One command, no scheduler query: only the run dirs are looked at.
    pub async fn watch_markers(
        &self,
        naps: &[f64],
        gather: f64,
        dirs: &[String],
    ) -> Result<Vec<(String, Option<i32>)>, SessionError> {
        let naps: Vec<String> = naps.iter().map(|n| format!("{n:.2}")).collect();
        let cmd = CommandSpec::new("sh")
            .args(["-c", WATCH_PROGRAM, "xpr-watch"])
            .arg(naps.join(" "))
            .arg(format!("{gather:.2}"))
            .args(dirs.iter().map(OsString::from));
        let out = self.run(&cmd, Retry::Safe).await?;
        let out = check_success(self.host(), &cmd, out)?;
        Ok(out
            .stdout_text()
            .lines()
            .filter_map(|l| {
                let (code, dir) = l.split_once(' ')?;
                Some((dir.to_owned(), code.trim().parse().ok()))
            })
            .collect())
    }

    /// Removes the run dirs `names` (each `run_<id>`) under `base`.
    pub async fn remove_run_dirs(&self, base: &str, names: &[String]) -> Result<(), SessionError> {
        for chunk in chunk_by_len(names, String::len) {
            let cmd = CommandSpec::new("sh")
                .args(["-c", CLEAN_PROGRAM, "xpr-clean", base])
                .args(chunk.iter().map(OsString::from));
            let out = self.run(&cmd, Retry::Safe).await?;
            check_success(self.host(), &cmd, out)?;
        }
        Ok(())
    }
}

impl SystemDriver {
    /// What each of `files` (names in the run dir `dir`, with the bytes already read) holds
    /// past its offset, at most `max` bytes each, in one round trip: the bytes, in order
    /// (empty for a missing file or one with nothing new).
    pub async fn read_from(
        &self,
        dir: &str,
        files: &[(&str, u64)],
        max: u64,
    ) -> Result<Vec<Vec<u8>>, SessionError> {
        let mut cmd = CommandSpec::new("sh").args([
            "-c".to_owned(),
            TAIL_PROGRAM.to_owned(),
            "xpr-tail".to_owned(),
            dir.to_owned(),
            max.to_string(),
        ]);
        for (name, offset) in files {
            cmd = cmd.args([name.to_string(), offset.to_string()]);
        }
        let out = self.run(&cmd, Retry::Safe).await?;
        let out = check_success(self.host(), &cmd, out)?;
        parse_tail_frames(&out.stdout, files.len(), max)
            .map_err(|why| self.remote_error(format!("reading the logs in {dir}: {why}")))
    }

    /// The names of the directories `run_*` and `grp_*` under `base` (none when `base` does
    /// not exist), in one round trip. Each name is checked: one that is not `run_<id>` or
    /// `grp_<id>` as xpr writes them is left out (and traced), never handed on.
    pub async fn list_run_dirs(&self, base: &str) -> Result<Vec<String>, SessionError> {
        let cmd = CommandSpec::new("sh").args(["-c", LIST_PROGRAM, "xpr-list", base]);
        let out = self.run(&cmd, Retry::Safe).await?;
        let out = check_success(self.host(), &cmd, out)?;
        let text = out.stdout_text();
        let mut names = Vec::new();
        for name in text.lines().filter(|l| !l.is_empty()) {
            let id = name
                .strip_prefix("run_")
                .or_else(|| name.strip_prefix("grp_"))
                .unwrap_or_default();
            if crate::task::is_task_id(id) {
                names.push(name.to_owned());
            } else {
                tracing::debug!(system = %self.system.name, base, name, "not an xpr run dir name; left alone");
            }
        }
        Ok(names)
    }
}

/// The `count` frames of `tail.sh`'s reply, each at most `max` bytes.
fn parse_tail_frames(mut reply: &[u8], count: usize, max: u64) -> Result<Vec<Vec<u8>>, String> {
    let mut frames = Vec::with_capacity(count);
    for i in 0..count {
        let end = reply
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("frame {i}: no header line"))?;
        let header =
            std::str::from_utf8(&reply[..end]).map_err(|_| format!("frame {i}: not text"))?;
        let len: u64 = header
            .strip_prefix("@xpr-tail ")
            .and_then(|n| n.parse().ok())
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("frame {i}: bad header {header:?}"))?;
        let body = &reply[end + 1..];
        let len = usize::try_from(len).map_err(|_| format!("frame {i}: too long"))?;
        if body.len() < len {
            return Err(format!("frame {i}: {} bytes of {len}", body.len()));
        }
        frames.push(body[..len].to_vec());
        reply = &body[len..];
    }
    Ok(frames)
}

/// The command that unpacks a tar stream of run dirs (on its stdin) into `base`.
pub(crate) fn stage_command(base: &str) -> CommandSpec {
    CommandSpec::new("sh").args(["-c", STAGE_PROGRAM, "xpr-stage", base])
}

/// The shell line of the submission batch that submits `job` on `system`: its script
/// written first when it travels in the line (a group's), the system's `pre_submit_cmds`,
/// then the scheduler's submit command. `None`: an array asked of a scheduler with none.
pub(crate) fn submit_line(
    system: &System,
    scheduler: &dyn Scheduler,
    job: &SubmitJob<'_>,
) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    if let Some(text) = job.text {
        line.extend(write_file_lines(job.job_dir, job.script, text));
    }
    // Config lines (trusted), each in braces so `;`/`||` inside stay inside.
    for pre in &system.pre_submit_cmds {
        line.extend_from_slice(b"{ ");
        line.extend_from_slice(pre.as_bytes());
        line.extend_from_slice(b"\n} && ");
    }
    let cmd = match job.array {
        None => scheduler.submit(job.job_dir, job.script),
        Some((name, count)) => {
            // The array's name as its script's header gives it (see `header_lines`).
            let prefix = system.job_name_prefix.as_deref().unwrap_or_default();
            scheduler.submit_array(job.job_dir, job.script, &format!("{prefix}{name}"), count)?
        }
    };
    line.extend(cmd.to_shell_line());
    Some(line)
}

/// Shell lines that write `text` to `dir/name` (creating `dir`, private to the user): a
/// here-document, so the text is data, never shell code, whatever it holds; by rename, so a
/// half-written file never has the name. A failure ends the batch line with exit 1 (its
/// stderr says why).
fn write_file_lines(dir: &str, name: &str, text: &str) -> Vec<u8> {
    let quote = |w: &str| shell_quote(std::ffi::OsStr::new(w));
    let path = format!("{}/{name}", dir.trim_end_matches('/'));
    let tmp = format!("{path}.tmp");
    // A delimiter no line of the text is.
    let mut delimiter = "XPR_END_OF_FILE".to_owned();
    while text.lines().any(|l| l == delimiter) {
        delimiter.push('_');
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"{ (umask 077 && mkdir -p -- ");
    out.extend(quote(dir));
    out.extend_from_slice(b") && cat > ");
    out.extend(quote(&tmp));
    out.extend_from_slice(b" && mv -f -- ");
    out.extend(quote(&tmp));
    out.push(b' ');
    out.extend(quote(&path));
    out.extend_from_slice(format!("; }} <<'{delimiter}' || exit 1\n").as_bytes());
    out.extend_from_slice(text.as_bytes());
    if !text.ends_with('\n') {
        out.push(b'\n');
    }
    out.extend_from_slice(format!("{delimiter}\n").as_bytes());
    out
}

/// Splits `items` into chunks whose lengths (plus one separator each) stay under
/// [`MAX_ARG_BYTES`].
pub(crate) fn chunk_by_len<T>(items: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, item) in items.iter().enumerate() {
        let l = len(item) + 1;
        if i > start && size + l > MAX_ARG_BYTES {
            chunks.push(&items[start..i]);
            start = i;
            size = 0;
        }
        size += l;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}
