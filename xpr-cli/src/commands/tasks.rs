//! Commands over the task life cycle: `run`, `submit`, `status`, `wait`, `sync`, `results`,
//! `logs`, `cancel`, `clean`, `mark_processed`, `rm`, `reset_status`. Each opens a session on
//! the config, calls the library, and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::{EndState, TaskFilter, TaskRecord, TaskStatus};
use xpr::ids::TaskId;
use xpr::resources::{Resources, parse_time};
use xpr::session::{Session, StartRequest, TaskResults};
use xpr::task::{STDERR_FILE, STDOUT_FILE, TaskSpec, is_env_name};

use super::db::filter_from;
use super::nodes::request_from;
use super::print_json;
use crate::cli::{ResetArgs, ResourceArgs, RmArgs, RunArgs, SelectArgs, TaskArgs, WaitArgs};
use crate::exit;

/// Waiting for ever, in practice (a year).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn open_session() -> anyhow::Result<Session> {
    Ok(Session::open(LoadedConfig::from_env()?)?)
}

/// The task and its start request, from the flags and the profile; checks everything that
/// needs no I/O first.
fn start_request(args: &TaskArgs, session: &Session) -> anyhow::Result<StartRequest> {
    let mut env = Vec::new();
    let mut header = Vec::new();
    let mut system = args.system.clone();
    let mut resources: Option<Resources> = None;
    if let Some(name) = &args.profile {
        let profile = session.config().config.profile(name)?.clone();
        if system.is_none() {
            system = profile.system.as_ref().map(|s| s.to_string());
        }
        if !profile.resources.is_empty() {
            resources = Some(
                Resources::from_json_map(&profile.resources)
                    .with_context(|| format!("resources of profile {name:?}"))?,
            );
        }
        header = profile.header.clone();
        env = profile.env.clone();
    }
    if flags_given(&args.resources) || resources.is_none() {
        resources = Some(request_from(&args.resources)?);
    }
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--env {pair:?}: expected K=V"))?;
        if !is_env_name(key) {
            anyhow::bail!(
                "--env {pair:?}: {key:?} is not a valid variable name (letters, digits, _)"
            );
        }
        env.push((key.to_owned(), value.to_owned()));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        Path::new(&args.command[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "task".to_owned())
    });
    let mut spec = TaskSpec::argv(name, args.command.clone());
    spec.inputs = args.inputs.clone();
    spec.outputs = args.outputs.clone();
    spec.env = env;
    if let Some(text) = &args.args {
        spec.args = Some(serde_json::from_str(text).context("--args is not valid JSON")?);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let system = system.unwrap_or_else(|| "local".to_owned());
    Ok(
        StartRequest::new(spec, system, resources.expect("set above"))
            .with_base_dir(cwd)
            .with_extra_header(header)
            .with_force_rerun(args.force_rerun),
    )
}

fn flags_given(r: &ResourceArgs) -> bool {
    r.max_time.is_some()
        || r.num_nodes.is_some()
        || r.num_cores.is_some()
        || r.max_mem_tot.is_some()
        || r.max_mem_per_core.is_some()
        || !r.partitions.is_empty()
        || r.no_exact_fit
        || r.partial_node
}

/// `xpr submit`: prints the task id (or its record as JSON).
pub fn submit(args: &TaskArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let session = open_session()?;
    let request = start_request(args, &session)?;
    let started = rt.block_on(session.start(request))?;
    if args.json {
        print_json(
            &json!({"id": started.record.id, "reused": started.reused, "status": started.record.status}),
        )?;
    } else {
        println!("{}", started.record.id);
        if started.reused {
            eprintln!(
                "xpr: an identical task is already known ({}); nothing was submitted (hint: `xpr mark_processed {}` to run it anew)",
                started.record.status, started.record.id
            );
        }
    }
    rt.block_on(session.close())?;
    Ok(ExitCode::SUCCESS)
}

/// `xpr run`: submit, wait with progress, bring the outputs here, print the job's output,
/// exit with its exit code.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let timeout = match &args.timeout {
        Some(t) => Duration::from_secs(parse_time(t).context("--timeout")?.unwrap_or(u64::MAX / 4)),
        None => FOREVER,
    };
    let rt = runtime()?;
    let session = open_session()?;
    let request = start_request(&args.task, &session)?;
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
    let copied = copy_outputs(&results.local_dir, &args.task.outputs, &dest)?;
    std::io::stdout()
        .write_all(&std::fs::read(results.local_dir.join(STDOUT_FILE)).unwrap_or_default())?;
    std::io::stderr()
        .write_all(&std::fs::read(results.local_dir.join(STDERR_FILE)).unwrap_or_default())?;
    if args.task.json {
        print_json(&results_json(&results, &copied))?;
    }
    rt.block_on(session.close())?;
    Ok(task_exit_code(&results))
}

/// The job's exit code when it has one; [`exit::TASK_FAILED`] for a failure without one
/// (time limit, cancelled, vanished, missing outputs).
fn task_exit_code(results: &TaskResults) -> ExitCode {
    match (results.status, results.exit_code) {
        (TaskStatus::Succeeded, _) => ExitCode::SUCCESS,
        // The job's own exit code, only when the job ended by itself (not killed at its time
        // limit, cancelled ...: those exit 5 whatever code the kill left).
        (_, Some(code)) if code != 0 && results.end_state == Some(EndState::Failed) => {
            eprintln!(
                "xpr: task {} failed: {}",
                results.id,
                results.reason.as_deref().unwrap_or("non-zero exit")
            );
            ExitCode::from(u8::try_from(code.rem_euclid(256)).unwrap_or(1))
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
            ExitCode::from(exit::TASK_FAILED)
        }
    }
}

/// Copies the files matching `globs` in `run_dir` to `dest`, keeping relative paths.
fn copy_outputs(run_dir: &Path, globs: &[String], dest: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    for pattern in globs {
        let full = run_dir.join(pattern);
        for path in
            glob::glob(&full.to_string_lossy()).with_context(|| format!("--output {pattern:?}"))?
        {
            let path = path?;
            let relative = path.strip_prefix(run_dir).unwrap_or(&path).to_path_buf();
            let target = dest.join(&relative);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            if path.is_file() {
                std::fs::copy(&path, &target).with_context(|| {
                    format!("copying {} to {}", path.display(), target.display())
                })?;
                copied.push(target);
            }
        }
    }
    Ok(copied)
}

fn results_json(r: &TaskResults, copied: &[PathBuf]) -> serde_json::Value {
    json!({
        "id": r.id, "status": r.status, "end_state": r.end_state, "exit_code": r.exit_code,
        "scheduler_job_id": r.scheduler_job_id, "attempts": r.attempts,
        "reason": r.reason, "local_dir": r.local_dir.display().to_string(),
        "outputs": copied.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "stdout_tail": r.stdout_tail, "stderr_tail": r.stderr_tail,
    })
}

/// The tasks named by ids and filters; `None` when neither was given.
fn selected(session: &Session, select: &SelectArgs) -> anyhow::Result<Option<Vec<TaskRecord>>> {
    let filter = filter_from(&select.filter)?;
    let any_filter = !(filter.ids.is_empty()
        && filter.names.is_empty()
        && filter.statuses.is_empty()
        && filter.systems.is_empty());
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
    selected(session, select)?.with_context(|| {
        format!("`xpr {command}` needs task ids or a filter (-i, -n, -s, -S) (hint: `xpr ls` lists the tasks)")
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

fn print_statuses(tasks: &[TaskRecord]) {
    for t in tasks {
        let exit = t
            .exit_code
            .map(|c| format!(" exit {c}"))
            .unwrap_or_default();
        let state = t.end_state.map(|s| format!(" ({s})")).unwrap_or_default();
        println!("{}  {}  {}{state}{exit}", t.id, t.system, t.status);
    }
}

/// `xpr status` and `xpr sync`: one poll, then the selected tasks' states.
pub fn status(select: &SelectArgs) -> anyhow::Result<ExitCode> {
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
    print_statuses(&refreshed);
    rt.block_on(session.close())?;
    // One unreachable system does not hide the others: each is reported, the rest shown.
    for (system, error) in &report.failed {
        eprintln!(
            "xpr: system {system} could not be polled (its tasks above are as last known): {error}"
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::OTHER)
    })
}

/// `xpr wait`: follow until the selected (default: all ongoing) tasks finish.
pub fn wait(args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let timeout = match &args.timeout {
        Some(t) => Duration::from_secs(parse_time(t).context("--timeout")?.unwrap_or(u64::MAX / 4)),
        None => FOREVER,
    };
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = match selected(&session, &args.select)? {
        Some(tasks) => tasks,
        None => ongoing(&session)?,
    };
    let done = rt.block_on(session.wait(&ids(&tasks), timeout))?;
    print_statuses(&done);
    rt.block_on(session.close())?;
    let all_ok = done
        .iter()
        .all(|t| t.status == TaskStatus::Succeeded || t.status == TaskStatus::Processed);
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::TASK_FAILED)
    })
}

/// `xpr results ID`.
pub fn results(id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let session = open_session()?;
    let r = session.results(&TaskId::new(id))?;
    if as_json {
        print_json(&results_json(&r, &[]))?;
    } else {
        println!("task:      {}", r.id);
        println!("status:    {}", r.status);
        if let Some(s) = r.end_state {
            println!("end state: {s}");
        }
        if let Some(job) = &r.scheduler_job_id {
            println!("job:       {job}");
        }
        if let Some(c) = r.exit_code {
            println!("exit code: {c}");
        }
        if let Some(reason) = &r.reason {
            println!("reason:    {reason}");
        }
        println!("run dir:   {}", r.local_dir.display());
        if r.attempts.len() > 1 {
            println!("attempts:");
            for a in &r.attempts {
                let job = a.scheduler_job_id.as_ref().map_or("-", |j| j.as_str());
                let end = a.end_state.map_or("-", EndState::as_str);
                let exit = a
                    .exit_code
                    .map(|c| format!(" exit {c}"))
                    .unwrap_or_default();
                println!("  {}: job {job} on {}: {end}{exit}", a.number, a.system);
            }
        }
        if !r.stdout_tail.is_empty() {
            println!("--- stdout (tail)\n{}", r.stdout_tail.trim_end());
        }
        if !r.stderr_tail.is_empty() {
            println!("--- stderr (tail)\n{}", r.stderr_tail.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `xpr logs ID`: the whole stdout and stderr of the task's command.
pub fn logs(id: &str) -> anyhow::Result<ExitCode> {
    let session = open_session()?;
    let r = session.results(&TaskId::new(id))?;
    let read = |name: &str| std::fs::read(r.local_dir.join(name)).ok();
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
    Ok(ExitCode::SUCCESS)
}

/// `xpr cancel`.
pub fn cancel(select: &SelectArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, select, "cancel")?;
    let cancelled = rt.block_on(session.cancel(&ids(&tasks)))?;
    for id in &cancelled {
        println!("cancel requested: {id}");
    }
    rt.block_on(session.close())?;
    Ok(ExitCode::SUCCESS)
}

/// `xpr clean`.
pub fn clean(select: &SelectArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, select, "clean")?;
    rt.block_on(session.clean(&ids(&tasks)))?;
    println!("cleaned {} task(s)", tasks.len());
    rt.block_on(session.close())?;
    Ok(ExitCode::SUCCESS)
}

/// `xpr mark_processed`.
pub fn mark_processed(select: &SelectArgs) -> anyhow::Result<ExitCode> {
    let session = open_session()?;
    for task in required(&session, select, "mark_processed")? {
        session.mark_processed(&task.id)?;
        println!("processed: {}", task.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// `xpr rm`.
pub fn rm(args: &RmArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let session = open_session()?;
    let tasks = required(&session, &args.select, "rm")?;
    if tasks.is_empty() {
        println!("no task matches");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        print_statuses(&tasks);
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
            println!("nothing removed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    rt.block_on(session.remove(&ids(&tasks), args.clean))?;
    println!("removed {} task(s)", tasks.len());
    rt.block_on(session.close())?;
    Ok(ExitCode::SUCCESS)
}

/// `xpr reset_status`.
pub fn reset_status(args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let to = TaskStatus::from_name(&args.to).with_context(|| {
        let known: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!(
            "--to {:?} is not a status (hint: one of {})",
            args.to,
            known.join(", ")
        )
    })?;
    let session = open_session()?;
    for task in required(&session, &args.select, "reset_status")? {
        session.reset_status(&task.id, to)?;
        println!("{}: {} -> {to}", task.id, task.status);
    }
    Ok(ExitCode::SUCCESS)
}
