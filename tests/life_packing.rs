//! Packing: many short tasks in few scheduler jobs, each task still its own (run dir, exit
//! code, logs, outputs, end state), on the built-in local queue and the test bed's real Slurm.

mod common;
mod life_support;

use std::collections::HashSet;
use std::time::Duration;

use life_support::{Bed, one_core, slurm_system};
use serde_json::json;
use xpr::db::{EndState, TaskFilter, TaskStatus};
use xpr::ids::TaskId;
use xpr::session::{PackSize, Session, StartRequest, Submission};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

/// `count` tasks; task `i` writes `i` to `out.txt` and to its stdout, and exits `i` when `i`
/// is in `failing` (else 0).
fn tasks(
    count: usize,
    failing: &[usize],
    system: &str,
    submission: Submission,
) -> Vec<StartRequest> {
    (0..count)
        .map(|i| {
            let code = if failing.contains(&i) { i } else { 0 };
            let mut spec = TaskSpec::argv(
                format!("pk {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo \"$1\" > out.txt; echo \"out $1\"; echo \"err $1\" >&2; exit \"$2\""
                        .to_owned(),
                    "sh".to_owned(),
                    i.to_string(),
                    code.to_string(),
                ],
            );
            spec.outputs = vec!["out.txt".into()];
            StartRequest::new(spec, system, one_core()).with_submission(submission)
        })
        .collect()
}

/// Starts `requests`, waits for all, and checks each task's own end: exit code `i` for the
/// failing ones, its own output and logs for all; returns the distinct job ids they ran in.
async fn run_and_check(
    session: &Session,
    requests: Vec<StartRequest>,
    failing: &[usize],
) -> HashSet<String> {
    let count = requests.len();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let done = session.wait(&ids, DEADLINE).await.unwrap();
    let mut jobs = HashSet::new();
    for (i, record) in done.iter().enumerate() {
        let results = session.results(&record.id).unwrap();
        if failing.contains(&i) {
            assert_eq!(record.status, TaskStatus::Failed, "task {i}: {record:?}");
            assert_eq!(record.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(results.exit_code, Some(i as i32), "task {i}");
        } else {
            assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
            assert_eq!(
                std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
                format!("{i}\n")
            );
        }
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
        assert_eq!(results.stderr_tail, format!("err {i}"), "task {i}");
        assert_eq!(
            results.attempts.len(),
            1,
            "task {i}: {:?}",
            results.attempts
        );
        assert!(
            results.attempts[0].group.is_some(),
            "task {i} ran in a pack"
        );
        jobs.insert(record.scheduler_job_id.clone().unwrap().to_string());
    }
    assert_eq!(done.len(), count);
    jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tasks_packed_five_a_job_on_the_local_queue_end_each_as_its_own() {
    let bed = Bed::new(
        None,
        json!({"loc": {"host": null, "scheduler": "local",
            "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}}}),
    );
    let session = bed.session(Duration::from_secs(60));
    let failing = [3, 11, 17];
    let requests = tasks(20, &failing, "loc", Submission::Packed(PackSize::PerJob(5)));
    let jobs = run_and_check(&session, requests, &failing).await;
    assert_eq!(jobs.len(), 4, "20 tasks, 5 per job: {jobs:?}");
    // The scripts xpr wrote (the packs' and the tasks') pass shellcheck.
    let remote = bed.root.path().join("remote");
    let mut scripts: Vec<std::path::PathBuf> = std::fs::read_dir(&remote)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter_map(|dir| {
            let name = dir.file_name()?.to_string_lossy().into_owned();
            if name.starts_with("grp_") {
                Some(dir.join("xpr_group.sh"))
            } else if name.starts_with("run_") {
                Some(dir.join("xpr_job.sh"))
            } else {
                None
            }
        })
        .collect();
    scripts.sort();
    assert_eq!(
        scripts
            .iter()
            .filter(|p| p.ends_with("xpr_group.sh"))
            .count(),
        4
    );
    if std::process::Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("shellcheck")
            .args(["--format=gcc", "--"])
            .args(&scripts)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    } else {
        eprintln!("SKIPPED the shellcheck part: shellcheck is not installed");
    }
    // Cleaning the tasks takes their packs' dirs too, once no member is left; not before.
    let records = session.list(&TaskFilter::default()).unwrap();
    let ids: Vec<TaskId> = records.iter().map(|t| t.id.clone()).collect();
    let group_of = |r: &xpr::db::TaskRecord| r.group.as_ref().map(|g| g.group.clone());
    // All but one member of the first pack.
    let first = group_of(&records[0]).expect("a packed task has a group");
    let mut partial: Vec<TaskId> = records
        .iter()
        .filter(|r| group_of(r).as_ref() == Some(&first))
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(partial.len(), 5);
    partial.pop();
    let grp_dirs = || {
        std::fs::read_dir(&remote)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("grp_"))
            .count()
    };
    session.clean(&partial).await.unwrap();
    assert_eq!(grp_dirs(), 4, "a pack with a member left keeps its dir");
    session.clean(&ids).await.unwrap();
    assert_eq!(
        grp_dirs(),
        0,
        "no pack dir is left once its tasks are cleaned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_a_pack_that_runs_on_are_finished_before_it_ends() {
    let bed = Bed::new(
        None,
        json!({"loc": {"host": null, "scheduler": "local",
            "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}}}),
    );
    let session = bed.session(Duration::from_secs(60));
    let gate = bed.root.path().join("gate");
    // Tasks 0 and 1 end at once; task 2 holds the pack until the gate opens.
    let requests: Vec<StartRequest> = (0..3)
        .map(|i| {
            let line = if i == 2 {
                format!("while [ ! -e '{}' ]; do sleep 0.1; done", gate.display())
            } else {
                "true".to_owned()
            };
            let spec = TaskSpec::shell(format!("on {i}"), line);
            StartRequest::new(spec, "loc", one_core())
                .with_submission(Submission::Packed(PackSize::PerJob(3)))
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let follower = {
        let (session, ids) = (session.clone(), ids.clone());
        tokio::spawn(async move { session.wait(&ids, DEADLINE).await })
    };
    let watcher = session.clone();
    let early = ids[..2].to_vec();
    let last = ids[2].clone();
    tokio::task::spawn_blocking(move || {
        common::wait_for(
            "tasks 0 and 1 to finish while their pack runs on",
            Duration::from_secs(60),
            || {
                let done = early
                    .iter()
                    .all(|id| watcher.get(id).unwrap().status == TaskStatus::Succeeded);
                done.then_some(())
            },
        );
        assert!(
            !watcher.get(&last).unwrap().status.is_finished(),
            "the pack's last task is still running"
        );
    })
    .await
    .unwrap();
    std::fs::write(&gate, "").unwrap();
    let done = follower.await.unwrap().unwrap();
    assert!(
        done.iter().all(|r| r.status == TaskStatus::Succeeded),
        "{done:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_in_eight_slurm_jobs_with_three_failing() {
    let Some(tb) = common::Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"slurm": slurm_system(json!({}))}));
    let session = bed.session(Duration::from_secs(60));
    let failing = [7, 99, 180];
    let requests = tasks(
        200,
        &failing,
        "slurm",
        Submission::Packed(PackSize::Jobs(8)),
    );
    let jobs = run_and_check(&session, requests, &failing).await;
    assert_eq!(jobs.len(), 8, "200 tasks in 8 jobs: {jobs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_cancelled_half_way_keeps_what_finished_and_runs_the_rest_again_once() {
    let Some(tb) = common::Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"slurm": slurm_system(json!({}))}));
    let session = bed.session(Duration::from_secs(60));
    let root = bed.remote_root.clone();
    // One core: the pack runs its tasks one after another. Task 4 waits for a gate, so the
    // pack is half-way (0-3 done, 4 running, 5-9 not started) when it is cancelled.
    let requests: Vec<StartRequest> = (0..10)
        .map(|i| {
            let mut spec = TaskSpec::argv(
                format!("half {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "touch \"$HOME/$2/started_$1\"; \
                     if [ \"$1\" = 4 ]; then n=0; while [ ! -e \"$HOME/$2/gate\" ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; fi; \
                     echo \"$1\" > out.txt"
                        .to_owned(),
                    "sh".to_owned(),
                    i.to_string(),
                    root.clone(),
                ],
            );
            spec.outputs = vec!["out.txt".into()];
            StartRequest::new(spec, "slurm", one_core())
                .with_submission(Submission::Packed(PackSize::PerJob(10)))
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let pack_job = started[0].record.scheduler_job_id.clone().unwrap();
    assert!(
        started
            .iter()
            .all(|s| s.record.scheduler_job_id.as_ref() == Some(&pack_job))
    );
    common::wait_for(
        "task 4 to start in the pack",
        Duration::from_secs(120),
        || {
            let out = bed.ssh("xpr-local", &format!("test -e \"$HOME/{root}/started_4\""));
            out.status.success().then_some(())
        },
    );
    let out = bed.ssh("xpr-local", &format!("scancel {pack_job}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The gate opens only once the pack is gone: attempt 2 of task 4 passes it.
    common::wait_for(
        "the pack to leave the queue",
        Duration::from_secs(120),
        || {
            let out = bed.ssh("xpr-local", &format!("squeue -h -j {pack_job} -o %T"));
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .is_empty()
                .then_some(())
        },
    );
    let out = bed.ssh("xpr-local", &format!("touch \"$HOME/{root}/gate\""));
    assert!(out.status.success());
    let done = session.wait(&ids, DEADLINE).await.unwrap();
    let mut second_packs = HashSet::new();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        if i < 4 {
            assert_eq!(
                results.attempts.len(),
                1,
                "task {i} finished before the cancel"
            );
        } else {
            assert_eq!(
                results.attempts.len(),
                2,
                "task {i}: {:?}",
                results.attempts
            );
            assert_eq!(results.attempts[0].end_state, Some(EndState::Cancelled));
            second_packs.insert(results.attempts[1].group.clone().unwrap().group);
        }
    }
    assert_eq!(
        second_packs.len(),
        1,
        "tasks 4-9 went again in one new pack"
    );
}
