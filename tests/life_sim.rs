//! A task's whole life through [`Session`] on the PBS and LSF SIMULATORS (`tests/simulators`:
//! test doubles of PBS Pro and LSF, not the real schedulers), over SSH on the test bed host
//! `xpr-sim`: start, stage, batch submit, follow, accounting, collect, clean. For each
//! simulator: inputs (files and a subdirectory) to byte-identical outputs, several tasks in one
//! batch; a failing command, a task over its wall time and a cancelled one told apart; and a
//! submitter killed mid-batch whose tasks are found by name and run exactly once.
//!
//! Each test has a [`SimLife`]: its own simulator spool on `xpr-sim` (see `tests/sim_life`),
//! removed when done, which stops every job the test left behind.

mod common;
mod life_support;
mod sim_life;
mod sim_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Testbed;
use life_support::{close_masters, numbered_requests, one_core, options, write};
use sim_life::SimLife;
use xpr::config::LoadedConfig;
use xpr::db::{TaskRecord, TaskStatus};
use xpr::ids::TaskId;
use xpr::scheduler::SchedulerKind;
use xpr::session::{Session, StartRequest};
use xpr::task::TaskSpec;

/// How long a test waits for its tasks.
const DEADLINE: Duration = Duration::from_secs(120);

/// Starts `requests` in one call (one batch), waits for all, and cancels them all if the wait
/// runs out, so that a failing test leaves nothing running.
async fn start_and_wait(
    session: &Session,
    requests: Vec<StartRequest>,
    before_wait: impl AsyncFnOnce(&Session, &[TaskId]),
) -> Vec<TaskRecord> {
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    for s in &started {
        assert!(!s.reused, "{:?}", s.record);
        assert!(s.record.scheduler_job_id.is_some(), "{:?}", s.record);
    }
    before_wait(session, &ids).await;
    let done = session.wait(&ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    done.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_to_outputs_on_the_pbs_simulator_over_ssh() {
    inputs_to_outputs(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_to_outputs_on_the_lsf_simulator_over_ssh() {
    inputs_to_outputs(SchedulerKind::Lsf).await;
}

/// Three tasks in one batch, each with a file and a subdirectory of inputs and outputs in
/// the run dir and in a subdirectory: every output comes back byte for byte.
async fn inputs_to_outputs(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let work = life.work_dir();
    let tasks: Vec<(String, Vec<u8>)> = (0..3u32)
        .map(|n| {
            let data: Vec<u8> = (0..40_000u32)
                .flat_map(|i| (i * 7 + n).to_le_bytes())
                .collect();
            (format!("task {n}"), data)
        })
        .collect();
    // A shared subdirectory input (nested), and a file per task.
    let deep: Vec<u8> = (0..=255u8).rev().cycle().take(70_000).collect();
    write(&work, "shared/deeper/table.dat", &deep);
    write(&work, "shared/notes.txt", b"no newline at the end");
    let requests: Vec<StartRequest> = tasks
        .iter()
        .enumerate()
        .map(|(n, (label, data))| {
            let input = format!("in dir {n}/it's data.bin");
            write(&work, &input, data);
            let mut spec = TaskSpec::argv(
                format!("copy {n}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "mkdir -p res/sub && cat -- \"$1\" > out.bin \
                     && cat shared/deeper/table.dat shared/notes.txt > res/sub/joined.dat \
                     && echo \"$2 on $(hostname)\" && echo 'a warning' >&2"
                        .to_owned(),
                    "sh".to_owned(),
                    input.clone(),
                    label.clone(),
                ],
            );
            spec.inputs = vec![input, "shared".to_owned()];
            spec.outputs = vec!["out.bin".into(), "res/sub/joined.dat".into()];
            StartRequest::new(spec, life.system(), one_core()).with_base_dir(&work)
        })
        .collect();
    let session = life.session();
    let done = start_and_wait(&session, requests, async |_, _| {}).await;
    let mut joined = deep.clone();
    joined.extend_from_slice(b"no newline at the end");
    for (record, (label, data)) in done.iter().zip(&tasks) {
        assert_eq!(record.status, TaskStatus::Succeeded, "{label}: {record:?}");
        assert_eq!(record.exit_code, Some(0), "{record:?}");
        let results = session.results(&record.id).unwrap();
        assert!(
            results.stdout_tail.starts_with(&format!("{label} on ")),
            "{label}: stdout {:?}",
            results.stdout_tail
        );
        assert_eq!(results.stderr_tail, "a warning");
        assert_eq!(
            std::fs::read(results.local_dir.join("out.bin")).unwrap(),
            *data,
            "{label}: out.bin"
        );
        assert_eq!(
            std::fs::read(results.local_dir.join("res/sub/joined.dat")).unwrap(),
            joined,
            "{label}: res/sub/joined.dat"
        );
    }
    let ids: Vec<TaskId> = done.iter().map(|r| r.id.clone()).collect();
    session.clean(&ids).await.unwrap();
    let left = life.ssh(&format!("ls -d {}/*/run_* 2>/dev/null", life.remote_root));
    assert!(
        left.stdout.is_empty(),
        "run dirs left after clean: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_timed_out_and_cancelled_tasks_on_the_pbs_simulator_over_ssh() {
    failed_timed_out_and_cancelled(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_timed_out_and_cancelled_tasks_on_the_lsf_simulator_over_ssh() {
    failed_timed_out_and_cancelled(SchedulerKind::Lsf).await;
}

/// In one batch: a command exiting 7 with a message on stderr, one running past its wall time,
/// and one cancelled while it runs. Each ends `failed`, told apart by `end_state`.
async fn failed_timed_out_and_cancelled(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let spec = |name: &str, line: &str| TaskSpec::argv(name, ["sh", "-c", line]);
    // LSF's run limit is in whole minutes (a simulated minute lasts
    // `sim_life::LSF_MINUTE_SECS` here).
    let walltime = match kind {
        SchedulerKind::Lsf => 60,
        _ => 3,
    };
    let requests = vec![
        StartRequest::new(
            spec("exit", "echo 'it says no' >&2; exit 7"),
            life.system(),
            one_core(),
        ),
        StartRequest::new(
            spec("slow", "sleep 300"),
            life.system(),
            one_core().with_max_time(walltime),
        ),
        // (not `sleep 300`: a task's identity is its command, and `slow` would be reused)
        StartRequest::new(spec("long", "sleep 301"), life.system(), one_core()),
    ];
    let session = life.session();
    let start = Instant::now();
    let done = start_and_wait(&session, requests, async |session, ids| {
        // Cancel the long one once it runs (a queued job's cancel is the adapters' own test).
        let long = &ids[2];
        let deadline = Instant::now() + DEADLINE;
        while session.get(long).unwrap().status != TaskStatus::Started {
            assert!(Instant::now() < deadline, "{long} never started");
            session.poll().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let cancelled = session.cancel(std::slice::from_ref(long)).await.unwrap();
        assert_eq!(cancelled, vec![long.clone()]);
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(100),
        "the sleeps ran to their end: {:?}",
        start.elapsed()
    );

    let failed = &done[0];
    assert_eq!(failed.status, TaskStatus::Failed, "{failed:?}");
    assert_eq!(failed.exit_code, Some(7), "{failed:?}");
    assert_eq!(
        failed.end_state,
        Some(xpr::db::EndState::Failed),
        "{failed:?}"
    );
    assert_eq!(
        session.results(&failed.id).unwrap().stderr_tail,
        "it says no"
    );
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("it says no"),
        "{failed:?}"
    );

    let slow = &done[1];
    assert_eq!(slow.status, TaskStatus::Failed, "{slow:?}");
    assert_eq!(slow.end_state, Some(xpr::db::EndState::Timeout), "{slow:?}");

    let long = &done[2];
    assert_eq!(long.status, TaskStatus::Failed, "{long:?}");
    assert_eq!(
        long.end_state,
        Some(xpr::db::EndState::Cancelled),
        "{long:?}"
    );

    let ids: Vec<TaskId> = done.iter().map(|r| r.id.clone()).collect();
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}

/// How many tasks the crash test submits in its batch.
const CRASH_TASKS: usize = 20;
/// Set (to the config file) for the child process of the crash test.
const CRASH_CHILD_ENV: &str = "XPR_LIFE_SIM_CRASH_CHILD";

/// The submitting process of the crash test: started by it with [`CRASH_CHILD_ENV`] set.
#[test]
fn crash_child() {
    let Ok(config) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let config = PathBuf::from(config);
    let root = config.parent().unwrap().to_path_buf();
    let system = std::env::var("XPR_LIFE_SIM_SYSTEM").unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let loaded = LoadedConfig::from_files(&[config], &root).unwrap();
        let session = Session::open_with(loaded, options(Duration::from_secs(60))).unwrap();
        session
            .start_many(numbered_requests(CRASH_TASKS, &system))
            .await
            .unwrap();
    });
}

#[test]
fn a_killed_submitter_runs_every_task_once_on_the_pbs_simulator_over_ssh() {
    killed_submitter(SchedulerKind::Pbs);
}

#[test]
fn a_killed_submitter_runs_every_task_once_on_the_lsf_simulator_over_ssh() {
    killed_submitter(SchedulerKind::Lsf);
}

/// Kills the process submitting a batch while the batch is in flight, then starts the same
/// tasks again: the interrupted submissions are looked up by name in the simulator (PBS
/// `qselect -x -N`, LSF `bjobs -a -J`), every task runs exactly once (the simulator's own job
/// list says so) and all results come back.
fn killed_submitter(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let config = life.root.path().join("config.json");
    let db = life.root.path().join(xpr::session::DB_FILE);
    let count = |status: TaskStatus| {
        xpr::db::Db::open(&db)
            .unwrap()
            .list(&xpr::db::TaskFilter {
                statuses: vec![status],
                ..xpr::db::TaskFilter::default()
            })
            .unwrap()
            .len()
    };
    // The child's own HOME keeps its ssh master (`~/.xpr/ssh`), which outlives a kill -9,
    // where the test finds and closes it.
    let child_home = life.root.path().join("child-home");
    std::fs::create_dir_all(&child_home).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_ENV, &config)
        .env("HOME", &child_home)
        .env("XPR_LIFE_SIM_SYSTEM", life.system())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the whole batch is `submitting`, 0-1.5 s more (the batch takes about that long):
    // the kill lands before, during or after the remote batch.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut extra_polls = 1 + (nanos / 7) % 30;
    common::wait_for("the batch to be in flight", DEADLINE, || {
        if child.try_wait().unwrap().is_some() {
            return Some(());
        }
        let hit = db.exists() && count(TaskStatus::Submitting) == CRASH_TASKS && {
            extra_polls -= 1;
            extra_polls == 0
        };
        hit.then_some(())
    });
    let _ = child.kill();
    child.wait().unwrap();
    close_masters(&child_home.join(".xpr/ssh"), &life.host);
    eprintln!(
        "killed the submitter: submitting={} submitted={}",
        count(TaskStatus::Submitting),
        count(TaskStatus::Submitted)
    );

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let session = life.session();
        // The same requests again: the tasks of the killed process, continued.
        let started = session
            .start_many(numbered_requests(CRASH_TASKS, &life.system()))
            .await
            .unwrap();
        assert!(started.iter().all(|s| s.reused), "{started:?}");
        let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
        let done = session.wait(&ids, DEADLINE).await;
        if done.is_err() {
            let _ = session.cancel(&ids).await;
        }
        let done = done.unwrap();
        for (i, record) in done.iter().enumerate() {
            assert_eq!(record.status, TaskStatus::Succeeded, "{record:?}");
            let out = session
                .results(&record.id)
                .unwrap()
                .local_dir
                .join("out.txt");
            assert_eq!(std::fs::read_to_string(out).unwrap(), format!("{i}\n"));
        }
        let found_by_name = done
            .iter()
            .filter(|r| {
                let history = xpr::db::Db::open(&db).unwrap().history(&r.id).unwrap();
                history.iter().any(|h| {
                    h.detail
                        .as_deref()
                        .is_some_and(|d| d.contains("found by name"))
                })
            })
            .count();
        eprintln!("{found_by_name} task(s) were found by name after the crash");
        // The simulator's own list of every job it ever had: one job per task.
        let list = match kind {
            SchedulerKind::Pbs => "qstat -x -f | sed -n 's/^ *Job_Name = //p'",
            _ => "bjobs -a -json -o 'job_name' | sed -n 's/^ *\"JOB_NAME\":\"\\(.*\\)\"$/\\1/p'",
        };
        let out = life.ssh(list);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names = String::from_utf8_lossy(&out.stdout).into_owned();
        for record in &done {
            let runs = names
                .lines()
                .filter(|n| n.trim_start_matches("N_") == record.id.as_str())
                .count();
            assert_eq!(
                runs, 1,
                "task {} ran {runs} times; jobs: {names}",
                record.id
            );
        }
        assert_eq!(names.lines().count(), CRASH_TASKS, "{names}");
        session.close().await.unwrap();
    });
}
