//! xpr's LSF adapter end to end against the LSF SIMULATOR in `tests/simulators/lsf` (a test
//! double of IBM Spectrum LSF, not LSF): scripts built by `build_script` are submitted with the
//! adapter's `bsub < script`, followed with its `bjobs -a -json -o ...` until final, and their
//! accounting is checked for each way a job ends; held and suspended jobs are resumed, and
//! `find_by_name` finds jobs by task id.

mod common;
mod sim_support;

use std::fs;

use sim_support::{SimBed, alloc};
use xpr::scheduler::{JobState, SchedulerKind};

fn bed() -> SimBed {
    SimBed::new(SchedulerKind::Lsf, &[])
}

#[test]
fn succeeded_job_reports_done_node_and_task_id() {
    let bed = bed();
    let (job, dir) = bed.submit(
        "task_ok",
        &alloc(Some(600)),
        &[],
        &["echo out-line", "echo err-line >&2"],
    );
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.raw_state, "DONE");
    assert_eq!(done.name.as_deref(), Some("task_ok"));
    assert!(done.node.is_some(), "{done:?}");
    // `#BSUB -o/-e job.{id}.stdout/stderr`, relative to the job's (= submission) folder.
    let stdout = fs::read_to_string(dir.join("job.task_ok.stdout")).unwrap();
    let stderr = fs::read_to_string(dir.join("job.task_ok.stderr")).unwrap();
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("out-line\n", "err-line\n")
    );
}

#[test]
fn failed_job_reports_its_exit_code() {
    let bed = bed();
    let (job, _) = bed.submit("task_fail", &alloc(Some(600)), &[], &["exit 3"]);
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Failed { exit_code: Some(3) });
    assert_eq!(done.raw_state, "EXIT");
}

#[test]
fn job_over_its_run_limit_is_a_timeout() {
    // `-W` has whole minutes; the simulator's minute is made one second long here.
    let bed = SimBed::new(SchedulerKind::Lsf, &[("XPR_SIM_LSF_MINUTE", "1")]);
    let (job, _) = bed.submit("task_slow", &alloc(Some(60)), &[], &["sleep 60"]);
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Timeout, "{done:?}");
    assert_eq!(done.exit_code, Some(128 + 12), "killed by SIGUSR2");
    assert!(
        done.reason.as_deref().unwrap().starts_with("TERM_RUNLIMIT"),
        "{done:?}"
    );
}

#[test]
fn cancelled_running_and_pending_jobs() {
    let bed = bed();
    let (running, _) = bed.submit("task_cancel", &alloc(Some(600)), &[], &["sleep 60"]);
    bed.wait_until(&running, "running", |s| *s == JobState::Running);
    let (held, _) = bed.submit("task_never", &alloc(Some(600)), &["#BSUB -H"], &["true"]);
    assert_eq!(bed.status(&held).unwrap().state, JobState::Held);

    let out = bed.run(bed.scheduler.cancel(&[running.clone(), held.clone()]));
    assert!(out.succeeded(), "{out:?}");
    assert!(out.stdout_text().contains("is being terminated"), "{out:?}");
    let done = bed.wait_final(&running);
    assert_eq!(done.state, JobState::Cancelled, "{done:?}");
    assert!(done.reason.as_deref().unwrap().starts_with("TERM_OWNER"));
    let never = bed.wait_final(&held);
    assert_eq!(
        (never.state, never.exit_code, never.node),
        (JobState::Cancelled, None, None)
    );
}

#[test]
fn held_job_runs_once_released() {
    let bed = bed();
    let (job, dir) = bed.submit(
        "task_held",
        &alloc(Some(600)),
        &["#BSUB -H"],
        &["echo ran > ran.txt"],
    );
    let held = bed.status(&job).unwrap();
    assert_eq!(
        (held.state, held.raw_state.as_str()),
        (JobState::Held, "PSUSP")
    );
    assert!(!dir.join("ran.txt").exists());
    let out = bed.run(bed.scheduler.release(std::slice::from_ref(&job)));
    assert!(out.succeeded(), "{out:?}");
    assert_eq!(bed.wait_final(&job).state, JobState::Succeeded);
    assert_eq!(fs::read_to_string(dir.join("ran.txt")).unwrap(), "ran\n");
}

#[test]
fn running_job_is_suspended_and_resumed() {
    let bed = bed();
    let (job, dir) = bed.submit(
        "task_susp",
        &alloc(Some(600)),
        &[],
        &[
            "while [ ! -e go ]; do sleep 0.05; done",
            "echo finished > done.txt",
        ],
    );
    bed.wait_until(&job, "running", |s| *s == JobState::Running);
    assert!(
        bed.run(bed.scheduler.hold(std::slice::from_ref(&job)))
            .succeeded()
    );
    let stopped = bed.wait_until(&job, "suspended", |s| *s == JobState::Held);
    assert_eq!(stopped.raw_state, "USUSP");
    assert!(
        bed.run(bed.scheduler.release(std::slice::from_ref(&job)))
            .succeeded()
    );
    bed.wait_until(&job, "running again", |s| *s == JobState::Running);
    fs::write(dir.join("go"), "").unwrap();
    assert_eq!(bed.wait_final(&job).state, JobState::Succeeded);
    assert_eq!(
        fs::read_to_string(dir.join("done.txt")).unwrap(),
        "finished\n"
    );
}

#[test]
fn find_by_name_finds_jobs_by_task_id() {
    let bed = bed();
    let (pending, _) = bed.submit("task_find_a", &alloc(Some(600)), &["#BSUB -H"], &["true"]);
    let (done, _) = bed.submit("task_find_b", &alloc(Some(600)), &[], &["true"]);
    bed.wait_final(&done);
    let names = ["task_find_a", "task_absent", "task_find_b"].map(String::from);
    let out = bed.run(bed.scheduler.find_by_name(&names));
    let mut found: Vec<(String, String)> = bed
        .scheduler
        .parse_find_by_name(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|s| (s.name.unwrap(), s.id.to_string()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("task_find_a".to_owned(), pending.to_string()),
            ("task_find_b".to_owned(), done.to_string())
        ]
    );
    let out = bed.run(bed.scheduler.find_by_name(&["task_absent".to_owned()]));
    assert!(bed.scheduler.parse_find_by_name(&out).unwrap().is_empty());
}

#[test]
fn jobs_run_concurrently() {
    let bed = bed();
    // Each job finishes only when it sees the other's file: both must run at the same time.
    let meet = bed.work().join("meet");
    fs::create_dir(&meet).unwrap();
    let wait = |mine: &str, other: &str| {
        format!(
            "touch {m}/{mine}; for i in $(seq 400); do [ -e {m}/{other} ] && exit 0; sleep 0.05; done; exit 1",
            m = meet.display()
        )
    };
    let (a, _) = bed.submit("task_a", &alloc(Some(600)), &[], &[&wait("a", "b")]);
    let (b, _) = bed.submit("task_b", &alloc(Some(600)), &[], &[&wait("b", "a")]);
    assert_eq!(bed.wait_final(&a).state, JobState::Succeeded);
    assert_eq!(bed.wait_final(&b).state, JobState::Succeeded);
}

#[test]
fn job_starts_in_the_submission_folder_like_lsf() {
    let bed = bed();
    // A script without xpr's `cd` line: LSF starts it where bsub ran.
    let dir = bed.work().join("submit");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join("raw.lsf"),
        "#!/bin/bash\n#BSUB -J task_raw\npwd > start.txt\n",
    )
    .unwrap();
    let out = bed.run(bed.scheduler.submit(dir.to_str().unwrap(), "raw.lsf"));
    let job = bed.scheduler.parse_submit(&out).unwrap();
    assert_eq!(bed.wait_final(&job).state, JobState::Succeeded);
    let start = fs::read_to_string(dir.join("start.txt")).unwrap();
    assert_eq!(
        fs::canonicalize(start.trim()).unwrap(),
        fs::canonicalize(&dir).unwrap()
    );
}

#[test]
fn array_elements_end_each_as_their_own_job() {
    let bed = bed();
    // Elements count from 1: index 2 exits 3, index 3 runs until cancelled.
    let body = "i=$LSB_JOBINDEX; echo \"$i $LSB_JOBID $LSB_JOBNAME\" > elem.$i; \
                case $i in 2) exit 3 ;; 3) sleep 60 ;; esac";
    let (out, dir) = bed.submit_array("array_a", &alloc(Some(600)), 4, &[], &[body]);
    let array = bed
        .scheduler
        .parse_submit(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stderr_text()));
    let elements = bed.elements(&array, 4);
    assert_eq!(elements[0].to_string(), format!("{array}[1]"));
    common::wait_for("element 3 to run", sim_support::DEADLINE, || {
        dir.join("elem.3").exists().then_some(())
    });
    // Cancelling one element leaves the others alone.
    let out = bed.run(bed.scheduler.cancel(&elements[2..3]));
    assert!(out.succeeded(), "{out:?}");
    let ends: Vec<JobState> = elements
        .iter()
        .map(|e| {
            let done = bed.wait_final(e);
            assert_eq!(done.name.as_deref(), Some("array_a"), "{done:?}");
            done.state
        })
        .collect();
    assert_eq!(
        ends,
        [
            JobState::Succeeded,
            JobState::Failed { exit_code: Some(3) },
            JobState::Cancelled,
            JobState::Succeeded,
        ]
    );
    for i in 1..=4 {
        let seen = fs::read_to_string(dir.join(format!("elem.{i}"))).unwrap();
        assert_eq!(seen.trim(), format!("{i} {array} array_a[{i}]"));
    }
    // A lookup by name lists every element of the array of that name.
    let out = bed.run(bed.scheduler.find_by_name(&["array_a".to_owned()]));
    let found = bed.scheduler.parse_find_by_name(&out).unwrap();
    let ids: Vec<_> = found.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids, elements);
    assert!(found.iter().all(|j| j.name.as_deref() == Some("array_a")));
    assert!(found.iter().all(|j| bed.scheduler.array_of(&j.id) == array));
}

#[test]
fn the_site_array_limit_comes_from_bparams() {
    let bed = SimBed::new(
        SchedulerKind::Lsf,
        &[("XPR_SIM_LSF_MAX_JOB_ARRAY_SIZE", "7")],
    );
    let out = bed.run(bed.scheduler.site_array_limit().unwrap());
    assert_eq!(
        bed.scheduler.parse_site_array_limit(&out),
        Some(7),
        "{out:?}"
    );
    let (out, _) = bed.submit_array("array_big", &alloc(Some(600)), 8, &[], &["true"]);
    let err = bed.scheduler.parse_submit(&out).unwrap_err();
    assert!(err.to_string().contains("MAX_JOB_ARRAY_SIZE"), "{err}");
    let (out, _) = bed.submit_array("array_fits", &alloc(Some(600)), 7, &[], &["true"]);
    let array = bed.scheduler.parse_submit(&out).unwrap();
    for element in bed.elements(&array, 7) {
        assert_eq!(bed.wait_final(&element).state, JobState::Succeeded);
    }
}

#[test]
fn unknown_ids_are_absent() {
    let bed = bed();
    assert!(bed.status(&xpr::ids::SchedulerJobId::new("999")).is_none());
}

#[test]
fn adapter_path_over_ssh_on_test_bed_host_b() {
    let (Some(tb), Some(_)) = (
        common::Testbed::require("ssh"),
        common::Testbed::require("netns"),
    ) else {
        return;
    };
    // The simulator goes first on PATH of xpr's commands only: hostB's own `qsub` (Grid
    // Engine) stays what every other command there finds.
    let home = std::path::PathBuf::from(tb.var("XPR_USER_HOME"));
    let bed = SimBed::over_ssh(
        SchedulerKind::Lsf,
        "xpr-hostB",
        &tb.ssh_config(),
        sim_support::TESTBED_SSH_PATH,
        &home.join(".xpr-sim"),
    );
    let (job, dir) = bed.submit(
        "task_ssh",
        &alloc(Some(600)),
        &[],
        &["echo \"$LSB_JOBID\" > id.txt"],
    );
    let done = bed.wait_final(&job);
    assert_eq!(
        (done.state, done.name.as_deref()),
        (JobState::Succeeded, Some("task_ssh"))
    );
    // The test bed's home is this machine's /home/xprtest.
    let id = fs::read_to_string(dir.join("id.txt")).unwrap();
    assert_eq!(id.trim(), job.as_str());
    let out = bed.run(bed.scheduler.find_by_name(&["task_ssh".to_owned()]));
    let found = bed.scheduler.parse_find_by_name(&out).unwrap();
    assert_eq!(found.len(), 1, "{out:?}");
    assert_eq!(found[0].id, job);
}
