//! xpr's PBS adapter end to end against the PBS SIMULATOR in `tests/simulators/pbs` (a test
//! double of PBS Pro, not PBS): scripts built by `build_script` are submitted with the adapter's
//! `qsub`, followed with its `qstat -x -f` until final, and their accounting is checked for each
//! way a job ends; held jobs are released, and `find_by_name` finds jobs by task id.

mod common;
mod sim_support;

use std::fs;

use sim_support::{SimBed, alloc};
use xpr::command::CommandSpec;
use xpr::scheduler::{JobState, SchedulerKind};

fn bed() -> SimBed {
    SimBed::new(SchedulerKind::Pbs, &[])
}

#[test]
fn succeeded_job_reports_exit_0_node_and_task_id() {
    let bed = bed();
    let (job, dir) = bed.submit(
        "task_ok",
        &alloc(Some(600)),
        &[],
        &["echo out-line", "echo err-line >&2", "pwd > cwd.txt"],
    );
    assert!(job.as_str().ends_with(".pbs-sim"), "{job}");
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.exit_code, Some(0));
    assert_eq!(done.raw_state, "F");
    assert_eq!(done.name.as_deref(), Some("task_ok"), "N_ is stripped");
    assert!(done.node.is_some(), "{done:?}");
    // `#PBS -o/-e job.{id}.stdout/stderr` are relative to the submission (job) folder.
    let stdout = fs::read_to_string(dir.join("job.task_ok.stdout")).unwrap();
    let stderr = fs::read_to_string(dir.join("job.task_ok.stderr")).unwrap();
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("out-line\n", "err-line\n")
    );
    // The script's own `cd` put it in the job folder.
    let cwd = fs::read_to_string(dir.join("cwd.txt")).unwrap();
    assert_eq!(
        fs::canonicalize(cwd.trim()).unwrap(),
        fs::canonicalize(&dir).unwrap()
    );
}

#[test]
fn failed_job_reports_its_exit_code() {
    let bed = bed();
    let (job, _) = bed.submit("task_fail", &alloc(Some(600)), &[], &["exit 3"]);
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Failed { exit_code: Some(3) });
}

#[test]
fn job_over_its_walltime_is_a_timeout() {
    let bed = bed();
    // `#PBS -l walltime=0:00:01` from the default header.
    let (job, dir) = bed.submit("task_slow", &alloc(Some(1)), &[], &["sleep 60"]);
    let done = bed.wait_final(&job);
    assert_eq!(done.state, JobState::Timeout, "{done:?}");
    assert_eq!(done.exit_code, Some(-29), "JOB_EXEC_KILL_WALLTIME");
    let stderr = fs::read_to_string(dir.join("job.task_slow.stderr")).unwrap();
    assert!(stderr.contains("walltime"), "{stderr:?}");
}

#[test]
fn cancelled_running_and_held_jobs() {
    let bed = bed();
    let (running, _) = bed.submit("task_cancel", &alloc(Some(600)), &[], &["sleep 60"]);
    bed.wait_until(&running, "running", |s| *s == JobState::Running);
    // Held at submission (`#PBS -h`), deleted before it ever ran.
    let (held, _) = bed.submit("task_never", &alloc(Some(600)), &["#PBS -h"], &["true"]);
    assert_eq!(bed.status(&held).unwrap().state, JobState::Held);

    let out = bed.run(bed.scheduler.cancel(&[running.clone(), held.clone()]));
    assert!(out.succeeded(), "{out:?}");
    let done = bed.wait_final(&running);
    assert_eq!(done.state, JobState::Cancelled, "{done:?}");
    assert_eq!(
        done.exit_code,
        Some(256 + 15),
        "the job shell died of qdel's SIGTERM"
    );
    let never = bed.wait_final(&held);
    assert_eq!((never.state, never.exit_code), (JobState::Cancelled, None));
}

#[test]
fn held_job_runs_once_released() {
    let bed = bed();
    let (job, dir) = bed.submit(
        "task_held",
        &alloc(Some(600)),
        &["#PBS -h"],
        &["echo ran > ran.txt"],
    );
    assert_eq!(bed.status(&job).unwrap().state, JobState::Held);
    // Holding again is harmless; the job stays held and does not run.
    assert!(
        bed.run(bed.scheduler.hold(std::slice::from_ref(&job)))
            .succeeded()
    );
    assert_eq!(bed.status(&job).unwrap().state, JobState::Held);
    assert!(!dir.join("ran.txt").exists());

    let out = bed.run(bed.scheduler.release(std::slice::from_ref(&job)));
    assert!(out.succeeded(), "{out:?}");
    assert_eq!(bed.wait_final(&job).state, JobState::Succeeded);
    assert_eq!(fs::read_to_string(dir.join("ran.txt")).unwrap(), "ran\n");
}

#[test]
fn hold_of_a_running_job_is_refused_like_pbs_pro() {
    let bed = bed();
    let (job, _) = bed.submit("task_run", &alloc(Some(600)), &[], &["sleep 60"]);
    bed.wait_until(&job, "running", |s| *s == JobState::Running);
    let out = bed.run(bed.scheduler.hold(std::slice::from_ref(&job)));
    assert!(!out.succeeded());
    assert!(
        out.stderr_text()
            .contains("Request invalid for state of job"),
        "{out:?}"
    );
}

#[test]
fn find_by_name_finds_jobs_by_task_id() {
    let bed = bed();
    let (queued, _) = bed.submit("task_find_a", &alloc(Some(600)), &["#PBS -h"], &["true"]);
    let (done, _) = bed.submit("task_find_b", &alloc(Some(600)), &[], &["true"]);
    bed.wait_final(&done);
    let names = ["task_find_a", "task_find_b", "task_absent"].map(String::from);
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
            ("task_find_a".to_owned(), queued.to_string()),
            ("task_find_b".to_owned(), done.to_string())
        ]
    );
    // Nothing asked, nothing found (and no qstat listing every job).
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
fn job_starts_in_home_like_pbs() {
    let bed = bed();
    // A script without xpr's `cd` line: PBS starts it in $HOME, not where qsub ran.
    let home = bed.work().join("home");
    fs::create_dir(&home).unwrap();
    let dir = bed.work().join("submit");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join("raw.pbs"),
        "#!/bin/bash\n#PBS -N N_task_raw\n#PBS -S /bin/bash\npwd > \"$PBS_O_WORKDIR/start.txt\"\n",
    )
    .unwrap();
    let submit = bed.scheduler.submit(dir.to_str().unwrap(), "raw.pbs");
    let out = bed.run(submit.env("HOME", home.as_os_str()));
    let job = bed.scheduler.parse_submit(&out).unwrap();
    let done = bed.wait_final(&job);
    assert_eq!(
        (done.state, done.name.as_deref()),
        (JobState::Succeeded, Some("task_raw"))
    );
    let start = fs::read_to_string(dir.join("start.txt")).unwrap();
    assert_eq!(
        fs::canonicalize(start.trim()).unwrap(),
        fs::canonicalize(&home).unwrap()
    );
}

/// The body of an array job: the element's index (from the adapter's own index variable)
/// and job id go to `elem.<index>`; element 2 exits 3, element 3 runs until cancelled.
fn array_body(kind: SchedulerKind, id_var: &str) -> String {
    let var = xpr::scheduler::scheduler_for(kind)
        .arrays()
        .unwrap()
        .index_var;
    format!(
        "i=${{{var}}}; echo \"$i ${id_var}\" > elem.$i; \
         case $i in 2) exit 3 ;; 3) sleep 60 ;; esac"
    )
}

#[test]
fn array_elements_end_each_as_their_own_job() {
    let bed = bed();
    let (out, dir) = bed.submit_array(
        "array_a",
        &alloc(Some(600)),
        5,
        &[],
        &[&array_body(SchedulerKind::Pbs, "PBS_JOBID")],
    );
    let array = bed
        .scheduler
        .parse_submit(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stderr_text()));
    assert!(array.as_str().ends_with("[].pbs-sim"), "{array}");
    let elements = bed.elements(&array, 5);
    // Element 3 runs its body (it wrote its file), then is cancelled alone.
    common::wait_for("element 3 to run", sim_support::DEADLINE, || {
        dir.join("elem.3").exists().then_some(())
    });
    let out = bed.run(bed.scheduler.cancel(&elements[3..4]));
    assert!(out.succeeded(), "{out:?}");
    let ends: Vec<(JobState, Option<i32>)> = elements
        .iter()
        .map(|e| {
            let done = bed.wait_final(e);
            assert_eq!(done.name.as_deref(), Some("array_a"), "{done:?}");
            assert_eq!(done.raw_state, "X", "an ended subjob: {done:?}");
            (done.state, done.exit_code)
        })
        .collect();
    assert_eq!(
        ends,
        [
            (JobState::Succeeded, Some(0)),
            (JobState::Succeeded, Some(0)),
            (JobState::Failed { exit_code: Some(3) }, Some(3)),
            (JobState::Cancelled, Some(256 + 15)),
            (JobState::Succeeded, Some(0)),
        ]
    );
    // Each element ran once with its own index, as the job the adapter names it.
    for (i, element) in elements.iter().enumerate() {
        let seen = fs::read_to_string(dir.join(format!("elem.{i}"))).unwrap();
        assert_eq!(seen.trim(), format!("{i} {element}"));
    }
    // A lookup by name finds the array, whose element ids are the ones followed.
    let out = bed.run(bed.scheduler.find_by_name(&["array_a".to_owned()]));
    let found = bed.scheduler.parse_find_by_name(&out).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, array);
    // The array ended with its elements; PBS Pro sums them up as Exit_status 1 (one failed).
    assert_eq!(
        (found[0].raw_state.as_str(), found[0].exit_code),
        ("F", Some(1)),
        "{found:?}"
    );
}

#[test]
fn a_one_element_array_runs_its_index_0_alone() {
    let bed = bed();
    let (out, dir) = bed.submit_array(
        "array_one",
        &alloc(Some(600)),
        1,
        &[],
        &[&array_body(SchedulerKind::Pbs, "PBS_JOBID")],
    );
    let array = bed
        .scheduler
        .parse_submit(&out)
        .unwrap_or_else(|e| panic!("{e}"));
    let only = &bed.elements(&array, 1)[0];
    assert_eq!(bed.wait_final(only).state, JobState::Succeeded);
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("elem."))
        .collect();
    assert_eq!(names, ["elem.0"]);
}

#[test]
fn the_default_rerun_refusal_is_left_out_of_arrays() {
    let bed = bed();
    // The default header of a plain job says `-r n`, which PBS Pro refuses for an array.
    let (_, dir) = bed.submit_array("array_r", &alloc(Some(600)), 2, &[], &["true"]);
    let script = fs::read_to_string(dir.join("array.script.pbs")).unwrap();
    assert!(!script.contains("#PBS -r n"), "{script}");
    let (out, _) = bed.submit_array("array_rn", &alloc(Some(600)), 2, &["#PBS -r n"], &["true"]);
    let err = bed.scheduler.parse_submit(&out).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot submit non-rerunable Array Job"),
        "{err}"
    );
}

#[test]
fn the_torque_flavour_is_submitted_with_t_and_reads_pbs_arrayid() {
    let bed = SimBed::new(SchedulerKind::Pbs, &[("XPR_SIM_PBS_FLAVOUR", "torque")]);
    for (name, count) in [("array_t", 3), ("array_t1", 1)] {
        let (out, dir) = bed.submit_array(
            name,
            &alloc(Some(600)),
            count,
            &[],
            &["echo \"${PBS_ARRAYID:-none} ${PBS_ARRAY_INDEX:-none}\" > \"elem.${PBS_ARRAYID}\""],
        );
        let array = bed
            .scheduler
            .parse_submit(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", out.stderr_text()));
        for (i, element) in bed.elements(&array, count).iter().enumerate() {
            assert_eq!(bed.wait_final(element).state, JobState::Succeeded);
            let seen = fs::read_to_string(dir.join(format!("elem.{i}"))).unwrap();
            assert_eq!(seen, format!("{i} none\n"), "Torque sets PBS_ARRAYID only");
        }
    }
}

#[test]
fn the_site_array_limit_comes_from_the_server() {
    let bed = SimBed::new(SchedulerKind::Pbs, &[("XPR_SIM_PBS_MAX_ARRAY_SIZE", "7")]);
    let out = bed.run(bed.scheduler.site_array_limit().unwrap());
    assert_eq!(
        bed.scheduler.parse_site_array_limit(&out),
        Some(7),
        "{out:?}"
    );
    let (out, _) = bed.submit_array("array_big", &alloc(Some(600)), 8, &[], &["true"]);
    let err = bed.scheduler.parse_submit(&out).unwrap_err();
    assert!(err.to_string().contains("exceeds server"), "{err}");
}

#[test]
fn unknown_ids_are_absent_and_empty_lists_do_nothing() {
    let bed = bed();
    let ghost = xpr::ids::SchedulerJobId::new("999.pbs-sim");
    assert!(bed.status(&ghost).is_none());
    let out = bed.run(bed.scheduler.status(&[]));
    assert_eq!(out.stdout_text(), "");
    assert_eq!(bed.scheduler.cancel(&[]), CommandSpec::new("true"));
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
        SchedulerKind::Pbs,
        "xpr-hostB",
        &tb.ssh_config(),
        sim_support::TESTBED_SSH_PATH,
        &home.join(".xpr-sim"),
    );
    let (job, dir) = bed.submit(
        "task_ssh",
        &alloc(Some(600)),
        &[],
        &["echo \"$PBS_JOBID\" > id.txt"],
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
