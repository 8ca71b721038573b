//! Job arrays on the test bed's real Grid Engine: tasks of one shape started with
//! `Submission::Array` go as array jobs (`qsub -t`), and every task still ends as itself (its
//! own exit code, logs, outputs, end state and attempts). A retry of failed elements is a new
//! array of only them, a system's `max_array_size` cuts a batch into several arrays, and a
//! cancel of one task deletes only its element.
//!
//! The tests run at once in one process, where every session's SSH transport to `xpr-local`
//! shares one connection, and `Session::close` ends that connection for all of them (killing
//! another test's command in flight). So they leave it to the last session dropped, which
//! closes it when no one uses it any more.

mod common;
mod life_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Testbed;
use life_support::{Bed, one_core};
use serde_json::{Value, json};
use xpr::db::{EndState, TaskFilter, TaskRecord, TaskStatus};
use xpr::ids::{GroupId, TaskId};
use xpr::session::{Retries, Session, StartRequest, Submission};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(300);

/// The test bed's Grid Engine (queue `all.q`, 8 slots) as a system, with `extra` keys.
fn sge_system(extra: Value) -> Value {
    let mut system = json!({"host": "xpr-local", "scheduler": "sge",
        "partitions": {"all.q": {"num_cores": 8, "max_time": null, "max_mem": null}}});
    for (key, value) in extra.as_object().unwrap() {
        system[key] = value.clone();
    }
    system
}

/// A Grid Engine element id `123.7` as (job number, task number).
fn element(record: &TaskRecord) -> (u64, u64) {
    let id = record
        .scheduler_job_id
        .as_ref()
        .unwrap_or_else(|| panic!("{} has no job id: {record:?}", record.name));
    let (job, task) = id
        .as_str()
        .split_once('.')
        .unwrap_or_else(|| panic!("{id} is no array element id"));
    (job.parse().unwrap(), task.parse().unwrap())
}

/// `count` array tasks; task `i` writes `i` to `out.txt`, `out i` to its stdout and `err i`
/// to its stderr, and exits with the code `code(i)` gives (`sh -c LINE` with `i` and the code
/// as `$1` and `$2`; `line` may use them).
fn array_tasks(count: usize, line: &str, code: impl Fn(usize) -> i32) -> Vec<StartRequest> {
    (0..count)
        .map(|i| {
            let mut spec = TaskSpec::argv(
                format!("arr {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    line.to_owned(),
                    "sh".to_owned(),
                    i.to_string(),
                    code(i).to_string(),
                ],
            );
            spec.outputs = vec!["out.txt".into()];
            StartRequest::new(spec, "sge", one_core()).with_submission(Submission::Array)
        })
        .collect()
}

/// The line of a task that writes its own output and logs and exits `$2`.
const OWN_OUTPUT: &str = "echo \"$1\" > out.txt; echo \"out $1\"; echo \"err $1\" >&2; exit \"$2\"";

/// Deletes, when dropped while armed (a test that failed half-way), every array job the
/// session's tasks went in: by the group's job name (`qdel N_<group>`), which also finds an
/// array whose submit reply never came back. Finished jobs make `qdel` complain, harmlessly.
struct DeleteJobs<'a> {
    bed: &'a Bed,
    session: &'a Session,
    armed: bool,
}

impl<'a> DeleteJobs<'a> {
    fn new(bed: &'a Bed, session: &'a Session) -> Self {
        Self {
            bed,
            session,
            armed: true,
        }
    }
}

impl Drop for DeleteJobs<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(records) = self.session.list(&TaskFilter::default()) else {
            return;
        };
        let names: BTreeSet<String> = records
            .iter()
            .filter_map(|r| r.group.as_ref())
            .map(|g| format!("N_{}", g.group))
            .collect();
        if !names.is_empty() {
            let names: Vec<String> = names.into_iter().collect();
            let _ = self.bed.ssh(
                "xpr-local",
                &format!("qdel {} 2>/dev/null", names.join(" ")),
            );
        }
    }
}

/// Starts `requests`, checks each went as an element of an array, and returns the started
/// records in request order.
async fn start(session: &Session, requests: Vec<StartRequest>) -> Vec<TaskRecord> {
    let started = session.start_many(requests).await.unwrap();
    let records: Vec<TaskRecord> = started.into_iter().map(|s| s.record).collect();
    for r in &records {
        assert!(
            r.group.is_some(),
            "{} was not submitted in a group: {r:?}",
            r.name
        );
        element(r);
    }
    records
}

fn ids_of(records: &[TaskRecord]) -> Vec<TaskId> {
    records.iter().map(|r| r.id.clone()).collect()
}

/// Grid Engine's own accounting of array job `job` named `N_{group}`: task number -> exit
/// status, once it holds `count` records (the qmaster flushes them a few seconds after the
/// ends). Records of older jobs with the same number (numbers restart with a fresh spool) are
/// told apart by the name.
fn accounted(bed: &Bed, job: u64, group: &GroupId, count: usize) -> BTreeMap<u64, i32> {
    let name = format!("N_{group}");
    every_second_until(
        &format!("qacct to hold {count} records of job {job} ({name})"),
        Duration::from_secs(90),
        || {
            let out = bed.ssh("xpr-local", &format!("qacct -j {job} 2>/dev/null"));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut records = BTreeMap::new();
            // Each record starts with a rule of `=`.
            for record in text.split("\n=") {
                let field = |key: &str| {
                    record.lines().find_map(|l| {
                        let (k, v) = l.split_once(char::is_whitespace)?;
                        (k == key).then(|| v.split_whitespace().next().unwrap_or("").to_owned())
                    })
                };
                if field("jobname").as_deref() != Some(name.as_str()) {
                    continue;
                }
                let task = field("taskid").and_then(|t| t.parse().ok());
                let exit = field("exit_status").and_then(|e| e.parse().ok());
                let (Some(task), Some(exit)) = (task, exit) else {
                    panic!("a record of {name} without taskid or exit_status: {record}");
                };
                records.insert(task, exit);
            }
            (records.len() >= count).then_some(records)
        },
    )
}

/// Asks `condition` once a second (each ask is an ssh connection: the test bed is shared)
/// until it returns `Some`, or panics naming `what` after `deadline`.
fn every_second_until<T>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_array_tasks_end_each_as_its_own() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"sge": sge_system(json!({}))}));
    let session = bed.session(Duration::from_secs(120));
    let failing = [3, 8];
    let code = |i: usize| if failing.contains(&i) { i as i32 } else { 0 };
    let mut guard = DeleteJobs::new(&bed, &session);
    let records = start(&session, array_tasks(12, OWN_OUTPUT, code)).await;
    let jobs: BTreeSet<u64> = records.iter().map(|r| element(r).0).collect();
    // One array job: one group, one job number, element k+1 for member k, each once.
    assert_eq!(jobs.len(), 1, "one array job: {records:#?}");
    let job = *jobs.iter().next().unwrap();
    let group = records[0].group.clone().unwrap().group;
    let mut members = BTreeSet::new();
    for r in &records {
        let member = r.group.as_ref().unwrap();
        assert_eq!(member.group, group, "{}", r.name);
        assert_eq!(element(r), (job, u64::from(member.index) + 1), "{}", r.name);
        members.insert(member.index);
    }
    assert_eq!(members, (0..12).collect(), "twelve elements");

    let done = session.wait(&ids_of(&records), DEADLINE).await.unwrap();
    for (i, record) in done.iter().enumerate() {
        let results = session.results(&record.id).unwrap();
        if failing.contains(&i) {
            assert_eq!(record.status, TaskStatus::Failed, "task {i}: {record:?}");
            assert_eq!(record.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(results.exit_code, Some(i as i32), "task {i}");
        } else {
            assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
            assert_eq!(results.exit_code, Some(0), "task {i}");
        }
        // Its own output and logs, whatever its exit.
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n"),
            "task {i}"
        );
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
        assert_eq!(results.stderr_tail, format!("err {i}"), "task {i}");
        assert_eq!(
            results.attempts.len(),
            1,
            "task {i}: {:?}",
            results.attempts
        );
        assert_eq!(
            results.attempts[0].group.as_ref().map(|g| &g.group),
            Some(&group),
            "task {i}"
        );
    }

    // Grid Engine's own records: one array job named after the group, twelve elements, each
    // with its task's exit status.
    let records_of_job = accounted(&bed, job, &group, 12);
    let expected: BTreeMap<u64, i32> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (element(r).1, code(i)))
        .collect();
    assert_eq!(records_of_job, expected);
    // Each element wrote its scheduler logs to files of its own.
    let run_dir = done[0].remote_dir.clone().unwrap();
    let grp_dir = format!("{}/grp_{group}", parent(&run_dir));
    let listing = bed.ssh("xpr-local", &format!("ls {grp_dir}"));
    let files = String::from_utf8_lossy(&listing.stdout).into_owned();
    for k in 1..=12 {
        let name = format!("job.{group}.{k}.stdout");
        assert!(
            files.lines().any(|f| f == name),
            "{name} in {grp_dir}: {files}"
        );
    }

    session.clean(&ids_of(&done)).await.unwrap();
    guard.armed = false;
    // No `session.close()`: see the module docs.
}

/// The dir `path` is in.
fn parent(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit_once('/')
        .map_or(".", |(dir, _)| dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_failed_elements_is_a_new_array_of_only_them() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"sge": sge_system(json!({}))}));
    let session = bed.session(Duration::from_secs(120));
    let failing = [2, 9];
    // A failing task fails on its first attempt only: a marker beside the run dirs (on the
    // remote side, under the test's own dir) remembers that it did.
    let line = format!(
        "m=\"$HOME/{}/failed-once.$1\"; echo \"$1\" > out.txt; echo \"out $1\"; echo \"err $1\" >&2; \
         if [ \"$2\" != 0 ] && [ ! -e \"$m\" ]; then : > \"$m\"; exit \"$2\"; fi",
        bed.remote_root
    );
    let code = |i: usize| {
        if failing.contains(&i) {
            40 + i as i32
        } else {
            0
        }
    };
    let retries = Retries::up_to(1).on(&[EndState::Failed]).unwrap();
    let requests: Vec<StartRequest> = array_tasks(12, &line, code)
        .into_iter()
        .map(|r| r.with_retries(retries.clone()))
        .collect();
    let mut guard = DeleteJobs::new(&bed, &session);
    let records = start(&session, requests).await;
    let jobs: BTreeSet<u64> = records.iter().map(|r| element(r).0).collect();
    assert_eq!(jobs.len(), 1, "one array job first: {records:#?}");
    let first_job = *jobs.iter().next().unwrap();
    let first_group = records[0].group.clone().unwrap().group;

    let done = session.wait(&ids_of(&records), DEADLINE).await.unwrap();
    // Groups of the second attempts, with the tasks in each.
    let mut retry_groups: BTreeMap<GroupId, Vec<usize>> = BTreeMap::new();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        let first = &results.attempts[0];
        assert_eq!(
            first.group.as_ref().map(|g| &g.group),
            Some(&first_group),
            "task {i}"
        );
        if !failing.contains(&i) {
            assert_eq!(
                results.attempts.len(),
                1,
                "task {i}: {:?}",
                results.attempts
            );
            continue;
        }
        assert_eq!(
            results.attempts.len(),
            2,
            "task {i}: {:?}",
            results.attempts
        );
        assert_eq!(first.end_state, Some(EndState::Failed), "task {i}");
        assert_eq!(first.exit_code, Some(code(i)), "task {i}");
        let second = &results.attempts[1];
        assert_eq!(second.end_state, Some(EndState::Succeeded), "task {i}");
        let member = second.group.as_ref().expect("attempt 2 went in an array");
        assert_ne!(
            member.group, first_group,
            "task {i}: attempt 2 in a new array"
        );
        let (job, _) = element(record);
        assert_ne!(job, first_job, "task {i}: attempt 2 is another array job");
        retry_groups
            .entry(member.group.clone())
            .or_default()
            .push(i);
    }
    // The new arrays hold the failed tasks and nothing else (one array when both failed in
    // one poll, else one each).
    let retried: BTreeSet<usize> = retry_groups.values().flatten().copied().collect();
    assert_eq!(retried, BTreeSet::from(failing), "{retry_groups:?}");
    for (group, members) in &retry_groups {
        let job = done
            .iter()
            .find(|r| r.group.as_ref().is_some_and(|g| &g.group == group))
            .map(|r| element(r).0)
            .unwrap();
        let accounted = accounted(&bed, job, group, members.len());
        let tasks: Vec<u64> = (1..=members.len() as u64).collect();
        assert_eq!(
            accounted.keys().copied().collect::<Vec<_>>(),
            tasks,
            "array {job} of {group} holds only the retried tasks"
        );
        assert!(accounted.values().all(|&exit| exit == 0), "{accounted:?}");
    }
    eprintln!("retry arrays: {retry_groups:?}");

    session.clean(&ids_of(&done)).await.unwrap();
    guard.armed = false;
    // No `session.close()`: see the module docs.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_array_size_five_cuts_twelve_tasks_into_three_arrays() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    let bed = Bed::new(
        Some(&tb),
        json!({"sge": sge_system(json!({"max_array_size": 5}))}),
    );
    let session = bed.session(Duration::from_secs(120));
    let mut guard = DeleteJobs::new(&bed, &session);
    let records = start(&session, array_tasks(12, OWN_OUTPUT, |_| 0)).await;
    let jobs: BTreeSet<u64> = records.iter().map(|r| element(r).0).collect();
    // Chunks of 5, 5 and 2, each its own array job with elements numbered from 1 in member
    // order.
    let mut chunks: BTreeMap<GroupId, (u64, BTreeSet<u64>)> = BTreeMap::new();
    for r in &records {
        let member = r.group.clone().unwrap();
        let (job, task) = element(r);
        assert_eq!(task, u64::from(member.index) + 1, "{}", r.name);
        let (j, tasks) = chunks.entry(member.group).or_insert((job, BTreeSet::new()));
        assert_eq!(*j, job, "{}: one group, one array job", r.name);
        tasks.insert(task);
    }
    let mut shapes: Vec<Vec<u64>> = chunks
        .values()
        .map(|(_, t)| t.iter().copied().collect())
        .collect();
    shapes.sort_by_key(Vec::len);
    assert_eq!(
        shapes,
        [vec![1, 2], vec![1, 2, 3, 4, 5], vec![1, 2, 3, 4, 5]],
        "{chunks:?}"
    );
    assert_eq!(jobs.len(), 3, "three array jobs: {chunks:?}");

    let done = session.wait(&ids_of(&records), DEADLINE).await.unwrap();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
    }
    for (group, (job, tasks)) in &chunks {
        let accounted = accounted(&bed, *job, group, tasks.len());
        assert_eq!(
            accounted.keys().copied().collect::<BTreeSet<_>>(),
            *tasks,
            "array {job}"
        );
    }

    session.clean(&ids_of(&done)).await.unwrap();
    guard.armed = false;
    // No `session.close()`: see the module docs.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_one_element_ends_only_that_task() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"sge": sge_system(json!({}))}));
    let session = bed.session(Duration::from_secs(120));
    // Task 0 runs until it is cancelled; the others are short.
    let line = "echo \"$1\" > out.txt; echo \"out $1\"; if [ \"$1\" = 0 ]; then sleep 600; fi";
    let mut guard = DeleteJobs::new(&bed, &session);
    let records = start(&session, array_tasks(12, line, |_| 0)).await;
    let jobs: BTreeSet<u64> = records.iter().map(|r| element(r).0).collect();
    assert_eq!(jobs.len(), 1, "one array job: {records:#?}");
    let job = *jobs.iter().next().unwrap();
    let long = records[0].id.clone();

    // Cancel it once it runs, so that Grid Engine has to kill a running element.
    let started = Instant::now();
    loop {
        session.poll().await.unwrap();
        let status = session.get(&long).unwrap().status;
        if status == TaskStatus::Started {
            break;
        }
        assert!(
            !status.is_finished(),
            "task 0 ended before it was cancelled: {status:?}"
        );
        assert!(
            started.elapsed() < DEADLINE,
            "task 0 did not start within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let cancelled = session.cancel(std::slice::from_ref(&long)).await.unwrap();
    assert_eq!(cancelled, std::slice::from_ref(&long));

    let done = session.wait(&ids_of(&records), DEADLINE).await.unwrap();
    assert_eq!(
        done[0].end_state,
        Some(EndState::Cancelled),
        "{:?}",
        done[0]
    );
    for (i, record) in done.iter().enumerate().skip(1) {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
    }
    // Grid Engine killed task 0's element alone: the other eleven exited 0 on their own.
    let group = records[0].group.clone().unwrap().group;
    let killed = element(&records[0]).1;
    let accounted = accounted(&bed, job, &group, 12);
    assert_eq!(
        accounted[&killed], 137,
        "element {killed} was killed: {accounted:?}"
    );
    assert!(
        accounted.iter().all(|(k, exit)| *k == killed || *exit == 0),
        "the others ran to their end: {accounted:?}"
    );

    session.clean(&ids_of(&done)).await.unwrap();
    guard.armed = false;
    // No `session.close()`: see the module docs.
}
