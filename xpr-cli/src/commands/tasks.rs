//! Commands over the task life cycle: `run`, `submit`, `status`, `wait`, `sync`, `results`,
//! `logs`, `cancel`, `clean`, `mark_processed`, `rm`, `reset_status`. Each opens a session on
//! the config, calls the library, and prints.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use xpr::db::{DependencyKind, EndState, TaskFilter, TaskRecord, TaskStatus};
use xpr::ids::{SystemName, TaskId};
use xpr::resources::parse_time;
use xpr::session::deliver::{DeliverError, Delivery, Existing, deliver_outputs};
use xpr::session::profile::TaskOptions;
use xpr::session::{
    DryRun, EventsFrom, FailureReport, LOG_CHUNK, Retries, Session, StartRequest, TaskEvent,
    TaskRef, TaskResults,
};
use xpr::task::{STDERR_FILE, STDOUT_FILE, TaskCommand, TaskSpec, adopt_batch_script, is_env_name};

use super::db::filter_from;
use super::nodes::{request_from, resource_flags_given};
use super::{lenient_config, print_json};
use crate::cli::{CleanArgs, ResetArgs, RmArgs, RunArgs, SelectArgs, TaskArgs, WaitArgs};
use crate::exit::{self, bad_flag, usage};

/// Waiting for ever, in practice (a year).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A session on the config, loaded leniently: a config with problems leaves the built-in
/// `local` system usable (with a warning), and any other system an error.
pub(super) fn open_session() -> anyhow::Result<Session> {
    Ok(Session::open(lenient_config()?)?)
}

/// `--timeout T` as a duration; no flag is for ever.
fn timeout_from(flag: &Option<String>) -> anyhow::Result<Duration> {
    Ok(match flag {
        Some(t) => Duration::from_secs(
            parse_time(t)
                .map_err(|e| bad_flag("--timeout", e))?
                .unwrap_or(u64::MAX / 4),
        ),
        None => FOREVER,
    })
}

/// The task and its choices, from the flags alone: every usage error is found here, before
/// any I/O.
pub(super) fn task_from(args: &TaskArgs) -> anyhow::Result<(TaskSpec, TaskOptions)> {
    let mut options = TaskOptions::new();
    if let Some(name) = &args.profile {
        options = options.profile(name);
    }
    if let Some(system) = &args.system {
        options = options.system(system);
    }
    // No resource flag leaves the profile's resources, else the library's first-run default.
    if resource_flags_given(&args.resources) {
        options = options.resources(request_from(&args.resources)?);
    }
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("--env {pair:?}: expected K=V")))?;
        if !is_env_name(key) {
            return Err(usage(format!(
                "--env {pair:?}: {key:?} is not a valid variable name (letters, digits, _)"
            )));
        }
        options = options.env(key, value);
    }
    let named_after = args
        .script
        .as_deref()
        .or_else(|| args.command.first().map(Path::new));
    let name = args.name.clone().unwrap_or_else(|| {
        named_after
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "task".to_owned())
    });
    // A script's command is set once its system's scheduler is known (`adopt_script`).
    let mut spec = TaskSpec::argv(name, args.command.clone());
    spec.inputs = args.inputs.clone();
    spec.outputs = args.outputs.clone();
    if let Some(text) = &args.args {
        spec.args = Some(serde_json::from_str(text).map_err(|e| bad_flag("--args", e))?);
    }
    Ok((spec, options))
}

/// The start request: the flags over the profile they name (the library's merge, as any
/// caller gets it), inputs taken from the current directory.
pub(super) fn start_request(
    spec: TaskSpec,
    options: TaskOptions,
    args: &TaskArgs,
    session: &Session,
) -> anyhow::Result<StartRequest> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let profile_resources = options
        .profile
        .as_deref()
        .and_then(|name| session.config().profile(name).ok())
        .is_some_and(|p| !p.resources.is_empty());
    // (An adopted script's own directives say what it asks for.)
    let chose_for_user = options.resources.is_none() && !profile_resources && args.script.is_none();
    let mut request = StartRequest::from_profile(spec, session.config(), &options.base_dir(cwd))?
        .with_force_rerun(args.force_rerun);
    if let Some(script) = &args.script {
        adopt_script(&mut request, script, session)?;
    }
    if chose_for_user {
        eprintln!(
            "xpr: no resources asked, so on {1} the task gets {0} (hint: --num-cores/--num-nodes and --max-time, \
             or the system's `default_max_time`)",
            request.resources, request.system
        );
    }
    if let Some(retries) = retries_from(args)? {
        request = request.with_retries(retries);
    }
    for (kind, parents) in [
        (DependencyKind::AfterOk, &args.after_ok),
        (DependencyKind::AfterFail, &args.after_fail),
        (DependencyKind::AfterAny, &args.after_any),
    ] {
        for parent in parents {
            request = request.after(kind, TaskRef::parse(parent));
        }
    }
    for pair in &args.input_from {
        let (parent, glob) = pair
            .split_once(':')
            .filter(|(p, g)| !p.is_empty() && !g.is_empty())
            .ok_or_else(|| usage(format!("--input-from {pair:?}: expected PARENT:GLOB")))?;
        request = request.inputs_from(TaskRef::parse(parent), glob);
    }
    Ok(request)
}

/// Makes `request` run the batch script at `path` (see the library's
/// [`adopt_batch_script`]): the script as an input, its interpreter as the command, its
/// directives for the header; says which directives were left out.
fn adopt_script(request: &mut StartRequest, path: &Path, session: &Session) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--script {}: cannot read it", path.display()))?;
    // Where the inputs rule stages it: a relative path as it is, an absolute one by its name.
    let staged = if path.is_absolute() {
        path.file_name().map(Path::new)
    } else {
        Some(path)
    }
    .and_then(|p| p.to_str())
    .ok_or_else(|| usage(format!("--script {}: not a file name", path.display())))?;
    let kind = session.system(&request.system)?.scheduler;
    let adopted = adopt_batch_script(&text, staged, kind)?;
    for line in &adopted.dropped {
        eprintln!(
            "xpr: {}: {line:?} left out: xpr names the job itself",
            path.display()
        );
    }
    request.spec.command = TaskCommand::Argv(adopted.argv);
    request
        .spec
        .inputs
        .push(path.to_string_lossy().into_owned());
    request.spec.script_directives = adopted.directives;
    Ok(())
}

/// The retry flags as the library's [`Retries`]; `None` when none is given (the profile's
/// or system's retry defaults apply).
fn retries_from(args: &TaskArgs) -> anyhow::Result<Option<Retries>> {
    if args.max_retries.is_none()
        && args.retry_on.is_empty()
        && args.retry_time_factor.is_none()
        && args.retry_mem_factor.is_none()
    {
        return Ok(None);
    }
    let mut retries = Retries::up_to(args.max_retries.unwrap_or(0));
    if !args.retry_on.is_empty() {
        let classes = args
            .retry_on
            .iter()
            .map(|word| {
                EndState::from_name(word).ok_or_else(|| {
                    let known: Vec<&str> = EndState::ALL.iter().map(|s| s.as_str()).collect();
                    usage(format!(
                        "--retry-on {word:?} is not an end state (hint: one of {})",
                        known.join(", ")
                    ))
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        retries = retries
            .on(&classes)
            .map_err(|e| bad_flag("--retry-on", e))?;
    }
    for (flag, factor) in [
        ("--retry-time-factor", args.retry_time_factor),
        ("--retry-mem-factor", args.retry_mem_factor),
    ] {
        if let Some(f) = factor
            && !(f > 1.0 && f.is_finite())
        {
            return Err(usage(format!("{flag} {f}: must be a number above 1")));
        }
    }
    if let Some(f) = args.retry_time_factor {
        retries = retries.with_time_factor(f);
    }
    if let Some(f) = args.retry_mem_factor {
        retries = retries.with_mem_factor(f);
    }
    Ok(Some(retries))
}

/// Prints what `--dry-run` found: each task's run dir and inputs; the job script and remote
/// commands of the first in full (a sweep's others differ only in their points). As JSON:
/// a list of the library's [`DryRun`] records, all in full.
pub(super) fn print_dry_runs(runs: &[DryRun], json: bool) -> anyhow::Result<u8> {
    if json {
        print_json(&serde_json::to_value(runs)?)?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, run) in runs.iter().enumerate() {
        let host = run.host.as_deref().unwrap_or("this machine");
        writeln!(
            out,
            "task {} on {} ({host}), {}",
            run.id, run.system, run.submission
        )?;
        writeln!(out, "  remote run dir: {}", run.remote_dir)?;
        writeln!(out, "  outputs come back to: {}", run.local_dir.display())?;
        for (source, dest) in &run.inputs {
            writeln!(out, "  input: {} -> {}", source.display(), dest.display())?;
        }
        if i > 0 {
            continue;
        }
        writeln!(out, "job script ({}):", xpr::session::SCRIPT_FILE)?;
        for line in run.script.lines() {
            writeln!(out, "  {line}")?;
        }
        writeln!(out, "remote commands:")?;
        for (n, command) in run.commands.iter().enumerate() {
            writeln!(out, "  {}. {}", n + 1, command.what)?;
            writeln!(out, "     {}", command.line)?;
        }
    }
    if runs.len() > 1 {
        writeln!(out, "{} tasks; nothing was started (--dry-run)", runs.len())?;
    } else {
        writeln!(out, "nothing was started (--dry-run)")?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// `xpr submit`: prints the task id (or its record as JSON).
pub fn submit(args: &TaskArgs) -> anyhow::Result<u8> {
    let (spec, options) = task_from(args)?;
    let rt = runtime()?;
    let session = open_session()?;
    let request = start_request(spec, options, args, &session)?;
    if args.dry_run {
        return print_dry_runs(&[session.dry_run(&request)?], args.json);
    }
    let started = rt.block_on(session.start(request))?;
    if args.json {
        print_json(
            &json!({"id": started.record.id, "reused": started.reused, "status": started.record.status}),
        )?;
    } else {
        writeln!(std::io::stdout(), "{}", started.record.id)?;
        if started.reused {
            eprintln!(
                "xpr: an identical task is already known ({}); nothing was submitted (hint: `xpr mark_processed {}` to run it anew)",
                started.record.status, started.record.id
            );
        }
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// `xpr run`: submit, wait with progress, deliver the outputs here, print the job's output,
/// exit with its exit code.
///
/// With `--json`, stdout holds one JSON object and nothing else; the job's stdout and stderr
/// then both go to stderr (their tails are in the JSON too).
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let timeout = timeout_from(&args.timeout)?;
    let (spec, options) = task_from(&args.task)?;
    let rt = runtime()?;
    let session = open_session()?;
    let request = start_request(spec, options, &args.task, &session)?;
    if args.task.dry_run {
        return print_dry_runs(&[session.dry_run(&request)?], args.task.json);
    }
    let started = rt.block_on(session.start(request))?;
    let id = started.record.id.clone();
    if started.reused {
        eprintln!(
            "xpr: reusing task {id} ({}): an identical task ran or runs already (hint: --force-rerun runs it anew)",
            started.record.status
        );
    }
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(Duration::from_millis(200));
    progress.set_message(format!("{id}: {}", started.record.status));
    let waiter = {
        let session = session.clone();
        let id = id.clone();
        rt.spawn(async move { session.wait(&[id], timeout).await })
    };
    while !waiter.is_finished() {
        if let Ok(record) = session.get(&id) {
            let job = record
                .scheduler_job_id
                .as_ref()
                .map(|j| format!(" (job {j})"))
                .unwrap_or_default();
            progress.set_message(format!("{id}: {}{job}", record.status));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    progress.finish_and_clear();
    rt.block_on(waiter).context("the wait task panicked")??;
    let results = session.results(&id)?;
    let dest = match &args.dest {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let delivered = deliver(&results, &args.task.outputs, &dest);

    let job_stdout = std::fs::read(results.local_dir.join(STDOUT_FILE)).unwrap_or_default();
    let job_stderr = std::fs::read(results.local_dir.join(STDERR_FILE)).unwrap_or_default();
    {
        let mut stderr = std::io::stderr().lock();
        if args.task.json {
            stderr.write_all(&job_stdout)?;
        } else {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&job_stdout)?;
            stdout.flush()?;
        }
        stderr.write_all(&job_stderr)?;
    }
    let (delivery, unmatched) = match delivered {
        Ok(outcome) => outcome,
        Err(err) => {
            // The task's own failure says more than the outputs it did not leave.
            if results.status == TaskStatus::Succeeded {
                return Err(err);
            }
            eprint!("{}", crate::render(&err, "xpr: warning: "));
            (Delivery::default(), Vec::new())
        }
    };
    for (path, kept) in delivery.kept_aside() {
        eprintln!(
            "xpr: {} held other content: kept it as {}",
            path.display(),
            kept.display()
        );
    }
    if args.task.json {
        let analysis = failure_report(&session, &id);
        print_json(&results_json(
            &results,
            analysis.as_ref(),
            &delivery,
            &unmatched,
        ))?;
    }
    rt.block_on(session.close())?;
    if !unmatched.is_empty() && results.status == TaskStatus::Succeeded {
        // The task left its outputs where it ran, but they are not here: never a success.
        eprintln!(
            "xpr: task {id} succeeded, but its expected output(s) {} matched nothing in {} \
             (hint: `xpr results {id}` shows its run dir)",
            unmatched.join(", "),
            results.local_dir.display()
        );
        return Ok(exit::TASK_FAILED);
    }
    Ok(task_exit_code(&results))
}

/// Delivers the task's expected outputs to `dest` (a file there with other content is kept as
/// `NAME.~N~`): what was delivered, and the patterns that matched nothing.
fn deliver(
    results: &TaskResults,
    outputs: &[String],
    dest: &Path,
) -> anyhow::Result<(Delivery, Vec<String>)> {
    if outputs.is_empty() {
        return Ok((Delivery::default(), Vec::new()));
    }
    match deliver_outputs(&results.local_dir, outputs, dest, Existing::KeepNumbered) {
        Ok(delivery) => Ok((delivery, Vec::new())),
        Err(DeliverError::Unmatched {
            patterns,
            delivered,
            ..
        }) => Ok((*delivered, patterns)),
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "delivering the outputs of task {} to {}",
            results.id,
            dest.display()
        ))),
    }
}

/// The job's exit code when it has one; [`exit::TASK_FAILED`] for a failure without one
/// (time limit, cancelled, vanished, missing outputs).
fn task_exit_code(results: &TaskResults) -> u8 {
    match (results.status, results.exit_code) {
        (TaskStatus::Succeeded, _) => exit::SUCCESS,
        // The job's own exit code, only when the job ended by itself (not killed at its time
        // limit, cancelled ...: those exit 5 whatever code the kill left).
        (_, Some(code)) if code != 0 && results.end_state == Some(EndState::Failed) => {
            eprintln!(
                "xpr: task {} failed: {}",
                results.id,
                results.reason.as_deref().unwrap_or("non-zero exit")
            );
            u8::try_from(code.rem_euclid(256)).unwrap_or(1)
        }
        _ => {
            eprintln!(
                "xpr: task {} {}: {}",
                results.id,
                results.status,
                results
                    .reason
                    .as_deref()
                    .or(results.end_state.map(EndState::as_str))
                    .unwrap_or("no result")
            );
            exit::TASK_FAILED
        }
    }
}

/// The task's failure report, or `None` with a warning on stderr when its error rules cannot
/// be used (the rest of its results are still worth showing).
fn failure_report(session: &Session, id: &TaskId) -> Option<FailureReport> {
    match session.failure_report(id) {
        Ok(report) => Some(report),
        Err(err) => {
            eprint!(
                "{}",
                crate::render(
                    &anyhow::Error::new(err),
                    "xpr: warning: no failure analysis: "
                )
            );
            None
        }
    }
}

/// The JSON of `xpr results --json` and `xpr run --json` (`schemas/results.schema.json`).
fn results_json(
    r: &TaskResults,
    analysis: Option<&FailureReport>,
    delivery: &Delivery,
    unmatched: &[String],
) -> serde_json::Value {
    json!({
        "id": r.id, "status": r.status, "end_state": r.end_state, "exit_code": r.exit_code,
        "scheduler_job_id": r.scheduler_job_id, "attempts": r.attempts,
        "reason": r.reason, "local_dir": r.local_dir.display().to_string(),
        "outputs": delivery.paths().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "kept_aside": delivery.kept_aside().map(|(path, kept)| json!({
            "path": path.display().to_string(), "kept_as": kept.display().to_string(),
        })).collect::<Vec<_>>(),
        "unmatched_outputs": unmatched,
        "stdout_tail": r.stdout_tail, "stderr_tail": r.stderr_tail,
        "analysis": analysis,
    })
}

/// The tasks named by ids and filters; `None` when neither was given.
fn selected(session: &Session, select: &SelectArgs) -> anyhow::Result<Option<Vec<TaskRecord>>> {
    let filter = filter_from(&select.filter)?;
    let any_filter = !filter.is_empty();
    if select.task_ids.is_empty() && !any_filter {
        return Ok(None);
    }
    let mut tasks = Vec::new();
    for id in &select.task_ids {
        tasks.push(session.get(&TaskId::new(id.as_str()))?);
    }
    if any_filter {
        for record in session.list(&filter)? {
            if !tasks.iter().any(|t| t.id == record.id) {
                tasks.push(record);
            }
        }
    }
    Ok(Some(tasks))
}

fn required(
    session: &Session,
    select: &SelectArgs,
    command: &str,
) -> anyhow::Result<Vec<TaskRecord>> {
    selected(session, select)?.ok_or_else(|| {
        usage(format!("`xpr {command}` needs task ids or a filter (-i, -n, -s, -S) (hint: `xpr ls` lists the tasks)"))
    })
}

fn ongoing(session: &Session) -> anyhow::Result<Vec<TaskRecord>> {
    let filter = TaskFilter {
        statuses: TaskStatus::ONGOING.to_vec(),
        ..TaskFilter::default()
    };
    Ok(session.list(&filter)?)
}

fn ids(tasks: &[TaskRecord]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.id.clone()).collect()
}

pub(super) fn print_statuses(tasks: &[TaskRecord], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::to_value(tasks)?);
    }
    let mut out = std::io::stdout().lock();
    for t in tasks {
        let exit = t
            .exit_code
            .map(|c| format!(" exit {c}"))
            .unwrap_or_default();
        let state = t.end_state.map(|s| format!(" ({s})")).unwrap_or_default();
        writeln!(out, "{}  {}  {}{state}{exit}", t.id, t.system, t.status)?;
    }
    Ok(())
}

/// `xpr status` and `xpr sync`: one poll, then the selected tasks' states.
pub fn status(select: &SelectArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let report = rt.block_on(session.poll())?;
    let tasks = match selected(&session, select)? {
        Some(tasks) => tasks,
        None => session.list(&TaskFilter::default())?,
    };
    let refreshed: Vec<TaskRecord> = tasks
        .iter()
        .filter_map(|t| session.get(&t.id).ok())
        .collect();
    print_statuses(&refreshed, select.json)?;
    rt.block_on(session.close())?;
    // One unreachable system does not hide the others: each is reported, the rest shown.
    for (system, error) in &report.failed {
        eprintln!(
            "xpr: system {system} could not be polled (its tasks above are as last known): {error}"
        );
    }
    Ok(if report.failed.is_empty() {
        exit::SUCCESS
    } else {
        exit::OTHER
    })
}

/// `xpr wait`: follow until the selected (default: all ongoing) tasks finish.
pub fn wait(args: &WaitArgs) -> anyhow::Result<u8> {
    let timeout = timeout_from(&args.timeout)?;
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = match selected(&session, &args.select)? {
        Some(tasks) => tasks,
        None => ongoing(&session)?,
    };
    let done = if args.events {
        rt.block_on(wait_printing_events(&session, &ids(&tasks), timeout))?
    } else {
        // On a terminal, a progress bar per system while it waits.
        let done = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            rt.block_on(super::progress::wait_with_progress(
                &session,
                &ids(&tasks),
                Some(timeout),
            ))?
        } else {
            rt.block_on(session.wait(&ids(&tasks), timeout))?
        };
        print_statuses(&done, args.select.json)?;
        done
    };
    rt.block_on(session.close())?;
    let all_ok = done
        .iter()
        .all(|t| t.status == TaskStatus::Succeeded || t.status == TaskStatus::Processed);
    Ok(if all_ok {
        exit::SUCCESS
    } else {
        exit::TASK_FAILED
    })
}

/// Waits for `ids`, printing each of their events as one JSON line on stdout, flushed, as
/// it is read (a shell script reading the lines reacts at once).
async fn wait_printing_events(
    session: &Session,
    ids: &[TaskId],
    timeout: Duration,
) -> anyhow::Result<Vec<TaskRecord>> {
    let mut failed = None;
    let mut print = |event: &TaskEvent| {
        if failed.is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let line = serde_json::to_string(event).expect("an event serialises");
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            failed = Some(e);
        }
    };
    let done = session
        .wait_observed(Some(ids), Some(timeout), EventsFrom::Recorded, &mut print)
        .await?;
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context("writing events to stdout"));
    }
    Ok(done)
}

/// `xpr results ID`.
pub fn results(id: &str, as_json: bool) -> anyhow::Result<u8> {
    let session = open_session()?;
    let r = session.results(&TaskId::new(id))?;
    let analysis = failure_report(&session, &r.id);
    if as_json {
        print_json(&results_json(
            &r,
            analysis.as_ref(),
            &Delivery::default(),
            &[],
        ))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "task:      {}", r.id)?;
        writeln!(out, "status:    {}", r.status)?;
        if let Some(s) = r.end_state {
            writeln!(out, "end state: {s}")?;
        }
        if let Some(job) = &r.scheduler_job_id {
            writeln!(out, "job:       {job}")?;
        }
        if let Some(c) = r.exit_code {
            writeln!(out, "exit code: {c}")?;
        }
        if let Some(reason) = &r.reason {
            writeln!(out, "reason:    {reason}")?;
        }
        writeln!(out, "run dir:   {}", r.local_dir.display())?;
        if r.attempts.len() > 1 {
            writeln!(out, "attempts:")?;
            for a in &r.attempts {
                let job = a.scheduler_job_id.as_ref().map_or("-", |j| j.as_str());
                let end = a.end_state.map_or("-", EndState::as_str);
                let exit = a
                    .exit_code
                    .map(|c| format!(" exit {c}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {}: job {job} on {}: {end}{exit}",
                    a.number, a.system
                )?;
            }
        }
        if let Some(report) = &analysis {
            print_analysis(&mut out, report)?;
        }
        if !r.stdout_tail.is_empty() {
            writeln!(out, "--- stdout (tail)\n{}", r.stdout_tail.trim_end())?;
        }
        if !r.stderr_tail.is_empty() {
            writeln!(out, "--- stderr (tail)\n{}", r.stderr_tail.trim_end())?;
        }
    }
    Ok(exit::SUCCESS)
}

/// The failure analysis part of `xpr results`: the scheduler's words, run time, peak memory
/// and the error lines with file and line (`file@offset` where the head of a huge log was not
/// read).
fn print_analysis(out: &mut impl Write, report: &FailureReport) -> std::io::Result<()> {
    if let Some(said) = &report.scheduler_reason {
        writeln!(out, "scheduler: {said}")?;
    }
    if let Some(secs) = report.elapsed_secs {
        let from = match report.elapsed_source {
            Some(xpr::session::FigureSource::JobMarkers) => " (from the job's markers)",
            _ => "",
        };
        writeln!(out, "elapsed:   {}{from}", xpr::units::format_hms(secs))?;
    }
    if let Some(kb) = report.peak_memory_kb {
        writeln!(out, "peak mem:  {}", xpr::units::format_mem(kb))?;
    }
    let errors = &report.errors;
    if errors.count() == 0 {
        return Ok(());
    }
    let mut heading = format!("error lines ({}", errors.count());
    if errors.omitted > 0 {
        heading.push_str(&format!(", {} shown", errors.lines.len()));
    }
    if errors.whitelisted > 0 {
        heading.push_str(&format!(", {} more whitelisted", errors.whitelisted));
    }
    heading.push(')');
    if report.error_lines_fail {
        heading.push_str(", which fail this task");
    }
    writeln!(out, "{heading}:")?;
    let head = errors.lines.len().div_ceil(2).min(errors.lines.len());
    for (i, line) in errors.lines.iter().enumerate() {
        if errors.omitted > 0 && i == head {
            writeln!(out, "  ... {} more", errors.omitted)?;
        }
        let at = match line.line {
            Some(n) => format!("{}:{n}", line.file),
            None => format!("{}@{}", line.file, line.offset),
        };
        let cut = if line.truncated { " ..." } else { "" };
        writeln!(out, "  {at}: {}{cut}", line.text)?;
    }
    Ok(())
}

/// `xpr logs ID`: the whole stdout and stderr of the task's command.
pub fn logs(id: &str, attempt: Option<u32>) -> anyhow::Result<u8> {
    let session = open_session()?;
    let r = session.results(&TaskId::new(id))?;
    let dir = match attempt {
        None => r.local_dir.clone(),
        Some(n) if r.attempts.iter().any(|a| a.number == n) => session.attempt_dir(&r.id, n),
        Some(n) => {
            return Err(usage(format!(
                "--attempt {n}: task {id} has {} attempt(s) (hint: `xpr results {id}` lists them)",
                r.attempts.len()
            )));
        }
    };
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    match (read(STDOUT_FILE), read(STDERR_FILE)) {
        (None, None) => anyhow::bail!(
            "task {id} has no logs here yet (status {}) (hint: `xpr sync` brings finished tasks back)",
            r.status
        ),
        (out, err) => {
            std::io::stdout().write_all(&out.unwrap_or_default())?;
            std::io::stderr().write_all(&err.unwrap_or_default())?;
        }
    }
    Ok(exit::SUCCESS)
}

/// `xpr logs -f`: the task's stdout and stderr as they grow, until it has finished. Each
/// round asks the schedulers once (so the task's status moves on) and reads what was added.
pub fn follow_logs(id: &str) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let id = TaskId::new(id);
    session.get(&id)?;
    let mut offsets = [0u64; 2];
    loop {
        if let Err(e) = rt.block_on(session.poll()) {
            eprintln!("xpr: warning: asking the schedulers failed ({e}); trying again");
        }
        let read = rt.block_on(session.read_logs_from(&id, offsets))?;
        std::io::stdout().write_all(&read.stdout)?;
        std::io::stdout().flush()?;
        std::io::stderr().write_all(&read.stderr)?;
        offsets[0] += read.stdout.len() as u64;
        offsets[1] += read.stderr.len() as u64;
        let more = read.stdout.len() as u64 == LOG_CHUNK || read.stderr.len() as u64 == LOG_CHUNK;
        if read.finished && !more {
            break;
        }
        if !more {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// `xpr retry`: a new attempt of each selected failed or died task, submitted now.
pub fn retry(select: &SelectArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, select, "retry")?;
    let retried = rt.block_on(session.retry(&ids(&tasks)))?;
    if select.json {
        print_statuses(&records(&session, &retried)?, true)?;
        rt.block_on(session.close())?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    for id in &retried {
        let record = session.get(id)?;
        writeln!(
            out,
            "retried: {id} (attempt {}, {})",
            record.attempt, record.status
        )?;
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// The records of `ids` as the DB holds them now.
fn records(session: &Session, ids: &[TaskId]) -> anyhow::Result<Vec<TaskRecord>> {
    Ok(ids
        .iter()
        .map(|id| session.get(id))
        .collect::<Result<_, _>>()?)
}

/// `xpr cancel`.
pub fn cancel(select: &SelectArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, select, "cancel")?;
    let cancelled = rt.block_on(session.cancel(&ids(&tasks)))?;
    if select.json {
        print_statuses(&records(&session, &cancelled)?, true)?;
    } else {
        let mut out = std::io::stdout().lock();
        for id in &cancelled {
            writeln!(out, "cancel requested: {id}")?;
        }
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// `xpr clean`.
pub fn clean(select: &SelectArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, select, "clean")?;
    rt.block_on(session.clean(&ids(&tasks)))?;
    if select.json {
        print_statuses(&records(&session, &ids(&tasks))?, true)?;
    } else {
        writeln!(std::io::stdout(), "cleaned {} task(s)", tasks.len())?;
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// `xpr clean --orphans [-y]`: the run dirs no task owns, listed, and removed with `-y`.
pub fn clean_orphans(args: &CleanArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let patterns = TaskFilter::from_patterns(&[], &[], Vec::new(), &args.select.filter.systems)
        .map_err(|e| bad_flag("-S/--system", e))?;
    let systems: Vec<SystemName> = session
        .config()
        .config
        .systems
        .iter()
        .filter(|s| {
            patterns.systems.is_empty()
                || patterns
                    .systems
                    .iter()
                    .any(|re| re.is_match(s.name.as_str()))
        })
        .map(|s| s.name.clone())
        .collect();
    let report = rt.block_on(session.orphans(&systems))?;
    for (system, why) in &report.unreachable {
        eprintln!("xpr: warning: {system} not looked at: {why}");
    }
    let removed = if args.yes {
        rt.block_on(session.remove_orphans(&report.found))?
    } else {
        0
    };
    if args.select.json {
        print_json(&json!({
            "orphans": report.found,
            "removed": removed,
            "unreachable": report.unreachable,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for orphan in &report.found {
            writeln!(out, "{}", orphan.location())?;
        }
        if args.yes {
            writeln!(out, "removed {removed} run dir(s) no task owns")?;
        } else if report.found.is_empty() {
            writeln!(out, "no run dir without a task")?;
        } else {
            writeln!(
                out,
                "{} run dir(s) no task owns (hint: `xpr clean --orphans -y` removes them)",
                report.found.len()
            )?;
        }
    }
    rt.block_on(session.close())?;
    Ok(if report.unreachable.is_empty() {
        exit::SUCCESS
    } else {
        exit::OTHER
    })
}

/// `xpr mark_processed`.
pub fn mark_processed(select: &SelectArgs) -> anyhow::Result<u8> {
    let session = open_session()?;
    let tasks = required(&session, select, "mark_processed")?;
    for task in &tasks {
        session.mark_processed(&task.id)?;
        if !select.json {
            writeln!(std::io::stdout(), "processed: {}", task.id)?;
        }
    }
    if select.json {
        print_statuses(&records(&session, &ids(&tasks))?, true)?;
    }
    Ok(exit::SUCCESS)
}

/// `xpr rm`.
pub fn rm(args: &RmArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, &args.select, "rm")?;
    if tasks.is_empty() {
        writeln!(std::io::stdout(), "no task matches")?;
        return Ok(exit::SUCCESS);
    }
    if !args.yes {
        print_statuses(&tasks, false)?;
        eprint!(
            "remove these {} task(s){}? [y/N] ",
            tasks.len(),
            if args.clean {
                ", cancelling and cleaning them"
            } else {
                ""
            }
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            writeln!(std::io::stdout(), "nothing removed")?;
            return Ok(exit::SUCCESS);
        }
    }
    rt.block_on(session.remove(&ids(&tasks), args.clean))?;
    if args.select.json {
        // As they were: they are gone from the DB now.
        print_statuses(&tasks, true)?;
    } else {
        writeln!(std::io::stdout(), "removed {} task(s)", tasks.len())?;
    }
    rt.block_on(session.close())?;
    Ok(exit::SUCCESS)
}

/// `xpr reset_status`.
pub fn reset_status(args: &ResetArgs) -> anyhow::Result<u8> {
    let to = TaskStatus::from_name(&args.to).ok_or_else(|| {
        let known: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        usage(format!(
            "--to {:?} is not a status (hint: one of {})",
            args.to,
            known.join(", ")
        ))
    })?;
    let session = open_session()?;
    let mut out = std::io::stdout().lock();
    for task in required(&session, &args.select, "reset_status")? {
        session.reset_status(&task.id, to)?;
        writeln!(out, "{}: {} -> {to}", task.id, task.status)?;
    }
    Ok(exit::SUCCESS)
}
