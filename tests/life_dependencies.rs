//! Dependencies on the real test bed: a Slurm chain and a diamond held by Slurm itself
//! (`scontrol show job` shows the native `afterok` while the parent still runs), each child
//! reading its parents' outputs; `after_fail` and `after_ok` children of a parent that fails
//! and of one that succeeds; and a pipeline Slurm -> Grid Engine -> a plain host over SSH
//! with the outputs passed along through the laptop; and `max_queued 5` with 30 tasks, Slurm's
//! queue sampled with `squeue` while xpr follows.

mod common;
mod life_support;

use std::time::Duration;

use common::Testbed;
use life_support::{Bed, QueueSampler, one_core, slurm_system};
use serde_json::json;
use xpr::db::{DependencyKind, EndState, TaskRecord, TaskStatus};
use xpr::ids::TaskId;
use xpr::session::{Session, StartRequest, TaskRef};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

fn slurm_bed(tb: &Testbed) -> Bed {
    Bed::new(Some(tb), json!({ "slurm": slurm_system(json!({})) }))
}

/// A task on `system` running `script` with `sh -c`, expecting `outputs`.
fn sh(name: &str, system: &str, script: &str, outputs: &[&str]) -> StartRequest {
    let mut spec = TaskSpec::argv(name, ["sh", "-c", script]);
    spec.outputs = outputs.iter().map(|o| o.to_string()).collect();
    StartRequest::new(spec, system, one_core().with_max_time(300))
}

fn named(name: &str) -> TaskRef {
    TaskRef::Name(name.to_owned())
}

/// A script that waits (at most a minute) for the file `go` next to the run dirs, so the
/// test can look at its children while it still runs, then writes `files`.
fn gated(files: &[&str]) -> String {
    let writes: String = files.iter().map(|f| format!("echo {f} > {f}; ")).collect();
    format!("i=0; while [ ! -e ../go ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done; {writes}")
}

async fn start_all(session: &Session, requests: Vec<StartRequest>) -> Vec<TaskRecord> {
    session
        .start_many(requests)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect()
}

/// The `Dependency=` field Slurm shows for `record`'s job.
fn slurm_dependency(bed: &Bed, record: &TaskRecord) -> String {
    let job = record.scheduler_job_id.as_ref().expect("submitted");
    let out = bed.ssh("xpr-local", &format!("scontrol show job {job}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("Dependency="))
        .unwrap_or_else(|| panic!("no Dependency in {text}"))
        .to_owned()
}

fn job(record: &TaskRecord) -> String {
    record.scheduler_job_id.as_ref().unwrap().to_string()
}

fn read_output(session: &Session, id: &TaskId, file: &str) -> String {
    let record = session.get(id).unwrap();
    let dir = record.local_dir.clone().expect("collected");
    std::fs::read_to_string(std::path::Path::new(&dir).join(file)).unwrap()
}

/// Lets the gated tasks of `started` go (the file `go` in their system's remote base) and
/// waits for all of them.
async fn finish(session: &Session, bed: &Bed, started: &[TaskRecord]) -> Vec<TaskRecord> {
    let run_dir = started[0].remote_dir.as_deref().expect("staged");
    let base = std::path::Path::new(run_dir).parent().unwrap();
    let go = bed.ssh("xpr-local", &format!("touch {}/go", base.display()));
    let ids: Vec<TaskId> = started.iter().map(|t| t.id.clone()).collect();
    let ids = ids.as_slice();
    assert!(go.status.success(), "{go:?}");
    let done = session.wait(ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(ids).await;
    }
    done.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_chain_is_held_by_slurm_and_each_link_reads_its_parents_outputs() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = slurm_bed(&tb);
    let session = bed.session(Duration::from_secs(120));
    let started = start_all(
        &session,
        vec![
            sh("a", "slurm", &gated(&["one.dat", "two.dat"]), &["one.dat"]),
            sh("b", "slurm", "cat one.dat two.dat > b.txt", &["b.txt"])
                .inputs_from(named("a"), "*.dat"),
            sh("c", "slurm", "wc -l < b.txt > c.txt", &["c.txt"]).inputs_from(named("b"), "b.txt"),
        ],
    )
    .await;
    let (a, b, c) = (&started[0], &started[1], &started[2]);
    // All three are in Slurm at once, not waiting in xpr: Slurm holds b and c.
    for t in &started {
        assert_eq!(t.status, TaskStatus::Submitted, "{}", t.name);
    }
    assert_eq!(
        slurm_dependency(&bed, b),
        format!("afterok:{}(unfulfilled)", job(a))
    );
    assert_eq!(
        slurm_dependency(&bed, c),
        format!("afterok:{}(unfulfilled)", job(b))
    );
    let done = finish(&session, &bed, &started).await;
    for t in &done {
        assert_eq!(t.status, TaskStatus::Succeeded, "{t:?}");
        assert_eq!(t.attempt, 1, "{}: one job each", t.name);
    }
    assert_eq!(read_output(&session, &b.id, "b.txt"), "one.dat\ntwo.dat\n");
    assert_eq!(read_output(&session, &c.id, "c.txt").trim(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_diamond_holds_the_bottom_on_both_branches() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = slurm_bed(&tb);
    let session = bed.session(Duration::from_secs(120));
    use DependencyKind::AfterOk;
    let started = start_all(
        &session,
        vec![
            sh("top", "slurm", &gated(&["t.dat"]), &["t.dat"]),
            sh("left", "slurm", "echo L > l.dat", &["l.dat"]).after(AfterOk, named("top")),
            sh("right", "slurm", "echo R > r.dat", &["r.dat"]).after(AfterOk, named("top")),
            sh(
                "bottom",
                "slurm",
                "cat l.dat r.dat > both.txt",
                &["both.txt"],
            )
            .inputs_from(named("left"), "l.dat")
            .inputs_from(named("right"), "r.dat"),
        ],
    )
    .await;
    let (left, right, bottom) = (&started[1], &started[2], &started[3]);
    let held = slurm_dependency(&bed, bottom);
    for parent in [left, right] {
        assert!(
            held.contains(&format!("afterok:{}(unfulfilled)", job(parent))),
            "{held}"
        );
    }
    let done = finish(&session, &bed, &started).await;
    assert!(
        done.iter().all(|t| t.status == TaskStatus::Succeeded),
        "{done:?}"
    );
    assert_eq!(read_output(&session, &bottom.id, "both.txt"), "L\nR\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_fail_runs_only_when_its_parent_failed_and_after_ok_children_never_run() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = slurm_bed(&tb);
    let session = bed.session(Duration::from_secs(120));
    use DependencyKind::{AfterFail, AfterOk};
    let fails = format!("{} exit 3", gated(&[]));
    let started = start_all(
        &session,
        vec![
            sh("bad", "slurm", &fails, &[]),
            sh("rescue", "slurm", "echo rescued", &[]).after(AfterFail, named("bad")),
            sh("next", "slurm", "echo next", &[]).after(AfterOk, named("bad")),
            sh("after next", "slurm", "echo later", &[]).after(AfterOk, named("next")),
            sh("good", "slurm", &gated(&[]), &[]),
            sh("unneeded", "slurm", "echo unneeded", &[]).after(AfterFail, named("good")),
        ],
    )
    .await;
    let done = finish(&session, &bed, &started).await;
    let by_name = |name: &str| done.iter().find(|t| t.name == name).unwrap();
    assert_eq!(by_name("bad").end_state, Some(EndState::Failed));
    assert_eq!(by_name("bad").exit_code, Some(3));
    assert_eq!(by_name("rescue").status, TaskStatus::Succeeded);
    assert_eq!(by_name("good").status, TaskStatus::Succeeded);
    for (name, parent) in [
        ("next", "bad"),
        ("after next", "next"),
        ("unneeded", "good"),
    ] {
        let t = by_name(name);
        assert_eq!(t.end_state, Some(EndState::NeverRan), "{t:?}");
        let reason = t.reason.clone().unwrap_or_default();
        assert!(reason.contains(parent), "{name}: {reason}");
    }
    // What Slurm held, xpr cancelled: Slurm's accounting says the job never ran.
    for name in ["next", "unneeded"] {
        let t = by_name(name);
        let job = job(t);
        let state = common::wait_for("the cancelled job in sacct", DEADLINE, || {
            let out = bed.ssh("xpr-local", &format!("sacct -n -X -P -o State -j {job}"));
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            (!text.is_empty()).then_some(text)
        });
        assert!(state.starts_with("CANCELLED"), "{name} ({job}): {state}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_slurm_then_grid_engine_then_a_plain_host_passes_outputs_along() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    if Testbed::require("sge").is_none() || Testbed::require("netns").is_none() {
        return;
    }
    let bed = Bed::new(
        Some(&tb),
        json!({
            "slurm": slurm_system(json!({})),
            "sge": {"host": "xpr-local", "scheduler": "sge",
                "partitions": {"all.q": {"num_cores": 8, "max_time": null, "max_mem": null}}},
            "plain_b": {"host": "xpr-hostB", "scheduler": "local",
                "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}}
        }),
    );
    let session = bed.session(Duration::from_secs(120));
    let started = start_all(
        &session,
        vec![
            sh(
                "pre",
                "slurm",
                "hostname > pre.txt; echo 21 > n.txt",
                &["pre.txt", "n.txt"],
            ),
            sh(
                "train",
                "sge",
                "echo $(( $(cat n.txt) * 2 )) > model.txt",
                &["model.txt"],
            )
            .inputs_from(named("pre"), "n.txt"),
            sh(
                "report",
                "plain_b",
                "echo \"answer $(cat model.txt)\" > report.txt",
                &["report.txt"],
            )
            .inputs_from(named("train"), "model.txt"),
        ],
    )
    .await;
    // Across systems xpr holds the children itself.
    assert_eq!(started[1].status, TaskStatus::Waiting);
    assert_eq!(started[2].status, TaskStatus::Waiting);
    let ids: Vec<TaskId> = started.iter().map(|t| t.id.clone()).collect();
    let done = session.wait(&ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    for t in &done {
        assert_eq!(t.status, TaskStatus::Succeeded, "{t:?}");
    }
    assert_eq!(
        read_output(&session, &started[2].id, "report.txt"),
        "answer 42\n"
    );
    let _ = bed.ssh("xpr-hostB", &format!("rm -rf {}", bed.remote_root));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_queued_keeps_at_most_five_jobs_in_slurms_queue_and_all_thirty_finish() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(
        Some(&tb),
        json!({ "slurm": slurm_system(json!({"max_queued": 5})) }),
    );
    let session = bed.session(Duration::from_secs(120));
    let requests = (0..30)
        .map(|i| {
            sh(
                &format!("q{i}"),
                "slurm",
                "sleep 1; echo done > out.txt",
                &["out.txt"],
            )
        })
        .collect();
    let started = start_all(&session, requests).await;
    let ids: Vec<TaskId> = started.iter().map(|t| t.id.clone()).collect();
    // Sample Slurm's queue (pending or running jobs named by these tasks) while xpr follows.
    let sampler = QueueSampler::start(&bed, &ids);
    let done = session.wait(&ids, DEADLINE).await;
    let samples = sampler.stop();
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    assert!(
        done.iter().all(|t| t.status == TaskStatus::Succeeded),
        "{done:?}"
    );
    assert!(samples.len() >= 5, "the queue was sampled: {samples:?}");
    let most = samples.iter().max().copied().unwrap_or(0);
    assert!(most <= 5, "at most 5 in Slurm's queue: {samples:?}");
    assert!(most >= 2, "the sampler saw the jobs: {samples:?}");
}
