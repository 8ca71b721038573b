//! The Grid Engine adapter's parsers against real outputs: `fixtures/sge/` (captured on the
//! test bed by `tests/testbed/capture/sge.sh`, plus two hand-written must-work replies) and
//! the public outputs of other projects in `fixtures/public/sge/` (see
//! `fixtures/public/SOURCES.md`), one test per file.
//!
//! A fixture case is `<dir>/<case>.txt` (stdout) with optional `.stderr` and `.exit` (see
//! `fixtures/sge/SOURCES.md`). Test-bed job numbers change with every capture, so tests compare
//! numbers across fixtures of one capture (the `-terse` reply of a job against its accounting
//! record) instead of hard-coding them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod public_fixtures;

use xpr::command::CommandOutput;
use xpr::ids::SchedulerJobId;
use xpr::scheduler::sge::{
    self, ACCOUNTING_SCRIPT, FIND_BY_NAME_SCRIPT, STATUS_SCRIPT, SgeId, SgeScheduler,
};
use xpr::scheduler::{JobState, JobStatus, Scheduler};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sge")
}

/// The output of fixture case `dir/case`, rebuilt from its `.txt`, `.stderr` and `.exit` files.
fn load(case: &str) -> CommandOutput {
    let base = fixtures().join(case);
    let stdout = std::fs::read(base.with_extension("txt"))
        .unwrap_or_else(|e| panic!("fixture {case}.txt: {e}"));
    let stderr = std::fs::read(base.with_extension("stderr")).unwrap_or_default();
    let code = match std::fs::read_to_string(base.with_extension("exit")) {
        Ok(text) => text.trim().parse().expect("exit file holds a number"),
        Err(_) => 0,
    };
    CommandOutput {
        code: Some(code),
        stdout,
        stderr,
    }
}

/// The job number a `-terse` fixture reply names.
fn submitted(case: &str) -> u64 {
    let id = SgeScheduler
        .parse_submit(&load(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    SgeId::parse(id.as_str()).unwrap().job
}

fn with_name<'a>(statuses: &'a [JobStatus], name: &str) -> Vec<&'a JobStatus> {
    statuses
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect()
}

fn ids(statuses: &[&JobStatus]) -> Vec<String> {
    statuses.iter().map(|s| s.id.to_string()).collect()
}

fn only<'a>(statuses: &'a [JobStatus], name: &str) -> &'a JobStatus {
    let found = with_name(statuses, name);
    assert_eq!(
        found.len(),
        1,
        "exactly one job named {name} in {statuses:#?}"
    );
    found[0]
}

// --- qsub ----------------------------------------------------------------------------------------

#[test]
fn qsub_terse_plain_job() {
    let id = SgeScheduler
        .parse_submit(&load("qsub/testbed-terse-ok"))
        .unwrap();
    let parsed = SgeId::parse(id.as_str()).unwrap();
    assert!(
        parsed.tasks.is_none(),
        "a plain job has no task range: {id}"
    );
}

#[test]
fn qsub_terse_array_job() {
    let id = SgeScheduler
        .parse_submit(&load("qsub/testbed-terse-array"))
        .unwrap();
    let job = SgeId::parse(id.as_str()).unwrap().job;
    assert_eq!(id.as_str(), format!("{job}.1-3:1"));
}

#[test]
fn qsub_terse_every_testbed_reply() {
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures().join("qsub")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(case) = name
            .strip_prefix("testbed-terse-")
            .and_then(|c| c.strip_suffix(".txt"))
        else {
            continue;
        };
        let job = submitted(&format!("qsub/testbed-terse-{case}"));
        assert!(seen.insert(job), "{name}: job number {job} given twice");
    }
    assert!(
        seen.len() >= 10,
        "the capture submits a dozen jobs, found {seen:?}"
    );
}

#[test]
fn qsub_verbose_plain_job() {
    let output = load("qsub/testbed-verbose");
    let id = SgeScheduler.parse_submit(&output).unwrap();
    assert!(
        output
            .stdout_text()
            .starts_with(&format!("Your job {id} (\"N_xprcap_verbose\")"))
    );
}

#[test]
fn qsub_verbose_array_job() {
    let id = SgeScheduler
        .parse_submit(&load("qsub/testbed-verbose-array"))
        .unwrap();
    assert!(id.as_str().ends_with(".1-5:1"), "{id}");
}

#[test]
fn qsub_error_bad_queue() {
    let err = SgeScheduler
        .parse_submit(&load("qsub/testbed-error-bad-queue"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exit code 1"), "{err}");
    assert!(err.contains("unknown queue"), "{err}");
}

#[test]
fn qsub_handmade_terse_array() {
    let id = SgeScheduler
        .parse_submit(&load("qsub/handmade-terse-array"))
        .unwrap();
    assert_eq!(id, SchedulerJobId::new("5.1-5:1"));
}

#[test]
fn qsub_handmade_verbose_array() {
    let id = SgeScheduler
        .parse_submit(&load("qsub/handmade-verbose-array"))
        .unwrap();
    assert_eq!(id, SchedulerJobId::new("9830192.1-5:1"));
}

#[test]
fn qsub_replies_without_an_id_are_refused() {
    for stdout in [
        "",
        "Your job abc (\"x\") has been submitted\n",
        "12 13\n",
        "-1\n",
        "12\n13\n",
        "Your job 1;rm (\"x\") has been submitted\n",
    ] {
        assert!(
            SgeScheduler
                .parse_submit(&CommandOutput::success(stdout))
                .is_err(),
            "{stdout:?} must not parse"
        );
    }
}

// --- qstat -xml ----------------------------------------------------------------------------------

fn status(case: &str) -> Vec<JobStatus> {
    SgeScheduler
        .parse_status(&load(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

#[test]
fn qstat_xml_mixed() {
    let statuses = status("qstat-xml/testbed-mixed");

    let running = only(&statuses, "xprcap_running");
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.node.as_deref(), Some("vm"));
    assert_eq!(
        running.id.as_str(),
        submitted("qsub/testbed-terse-running").to_string()
    );

    assert_eq!(only(&statuses, "xprcap_held").state, JobState::Held);
    assert_eq!(only(&statuses, "xprcap_deferred").state, JobState::Queued);

    let eqw = only(&statuses, "xprcap_eqw");
    assert_eq!(eqw.state, JobState::Failed { exit_code: None });
    assert_eq!(eqw.raw_state, "Eqw");
    let hint = format!("qstat -j {}", eqw.id);
    assert!(eqw.reason.as_deref().unwrap().contains(&hint), "{eqw:?}");

    let job = submitted("qsub/testbed-terse-array_running");
    let tasks = with_name(&statuses, "xprcap_array_running");
    assert_eq!(ids(&tasks), [format!("{job}.1"), format!("{job}.2")]);
    assert!(tasks.iter().all(|t| t.state == JobState::Running));

    let job = submitted("qsub/testbed-terse-array_held");
    let tasks = with_name(&statuses, "xprcap_array_held");
    let expected: Vec<String> = (1..=5).map(|t| format!("{job}.{t}")).collect();
    assert_eq!(ids(&tasks), expected);
    assert!(tasks.iter().all(|t| t.state == JobState::Held));
}

#[test]
fn qstat_xml_mixed_folded() {
    // Without -g d the held array is one row `1-5:1`: it still yields one status per task.
    let statuses = status("qstat-xml/testbed-mixed-folded");
    let job = submitted("qsub/testbed-terse-array_held");
    let tasks = with_name(&statuses, "xprcap_array_held");
    let expected: Vec<String> = (1..=5).map(|t| format!("{job}.{t}")).collect();
    assert_eq!(ids(&tasks), expected);
    assert!(tasks.iter().all(|t| t.state == JobState::Held));
}

#[test]
fn qstat_xml_deleting() {
    let statuses = status("qstat-xml/testbed-deleting");
    let notify = only(&statuses, "xprcap_notify");
    assert_eq!(notify.raw_state, "dr");
    assert_eq!(notify.state, JobState::Cancelled);
    assert!(
        with_name(&statuses, "xprcap_running").is_empty(),
        "the plainly qdel'ed job is gone at once"
    );
}

#[test]
fn qstat_xml_failure_is_an_error_not_an_empty_queue() {
    let output = CommandOutput {
        code: Some(1),
        stdout: Vec::new(),
        stderr: b"error: commlib error: got select error (Connection refused)\n".to_vec(),
    };
    let err = SgeScheduler.parse_status(&output).unwrap_err().to_string();
    assert!(err.contains("Connection refused"), "{err}");
    assert!(
        SgeScheduler
            .parse_status(&CommandOutput::success(""))
            .is_err()
    );
    let truncated = &load("qstat-xml/testbed-mixed").stdout[..200];
    assert!(
        SgeScheduler
            .parse_status(&CommandOutput::success(truncated))
            .is_err()
    );
}

// --- qstat -j -xml -------------------------------------------------------------------------------

#[test]
fn qstat_j_xml_eqw() {
    let details = SgeScheduler
        .parse_detail(&load("qstat-j-xml/testbed-eqw"))
        .unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].job, submitted("qsub/testbed-terse-eqw"));
    assert_eq!(details[0].name.as_deref(), Some("N_xprcap_eqw"));
    let messages = details[0].all_messages();
    assert!(
        messages.iter().any(|m| m.contains(
            "can't open output file \"/nonexistent/xpr-capture/out\": No such file or directory"
        )),
        "{messages:?}"
    );
}

#[test]
fn qstat_j_xml_unknown() {
    let details = SgeScheduler
        .parse_detail(&load("qstat-j-xml/testbed-unknown"))
        .unwrap();
    assert!(details.is_empty());
}

// --- qacct ---------------------------------------------------------------------------------------

fn accounting(case: &str) -> Vec<JobStatus> {
    SgeScheduler
        .parse_accounting(&load(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The one record of a single-job accounting fixture, checked against the job's qsub reply.
fn final_state(case: &str, terse: &str, name: &str) -> JobStatus {
    let statuses = accounting(case);
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    let status = statuses.into_iter().next().unwrap();
    assert_eq!(status.id.as_str(), submitted(terse).to_string());
    assert_eq!(status.name.as_deref(), Some(name));
    assert_eq!(status.node.as_deref(), Some("vm"));
    status
}

#[test]
fn qacct_success() {
    let s = final_state(
        "qacct/testbed-success",
        "qsub/testbed-terse-ok",
        "xprcap_ok",
    );
    assert_eq!(s.state, JobState::Succeeded);
    assert_eq!(s.exit_code, Some(0));
}

#[test]
fn qacct_exit4() {
    let s = final_state(
        "qacct/testbed-exit4",
        "qsub/testbed-terse-exit4",
        "xprcap_exit4",
    );
    assert_eq!(s.state, JobState::Failed { exit_code: Some(4) });
    assert_eq!(
        s.scheduler_reason.as_deref(),
        Some("failed 0; exit_status 4")
    );
}

#[test]
fn qacct_qdel_running() {
    let s = final_state(
        "qacct/testbed-qdel-running",
        "qsub/testbed-terse-running",
        "xprcap_running",
    );
    assert_eq!(
        s.state,
        JobState::Failed {
            exit_code: Some(137)
        }
    );
    assert!(s.reason.as_deref().unwrap().contains("SIGKILL"), "{s:?}");
    assert_eq!(
        s.scheduler_reason.as_deref(),
        Some("failed 100: assumedly after job; exit_status 137 (Killed)")
    );
    assert_eq!(s.elapsed_secs, Some(15));
}

#[test]
fn qacct_kill9() {
    let s = final_state(
        "qacct/testbed-kill9",
        "qsub/testbed-terse-kill9",
        "xprcap_kill9",
    );
    assert_eq!(
        s.state,
        JobState::Failed {
            exit_code: Some(137)
        }
    );
}

#[test]
fn qacct_qdel_notify() {
    let s = final_state(
        "qacct/testbed-qdel-notify",
        "qsub/testbed-terse-notify",
        "xprcap_notify",
    );
    assert_eq!(s.state, JobState::Failed { exit_code: Some(3) });
}

#[test]
fn qacct_timeout() {
    let s = final_state(
        "qacct/testbed-timeout",
        "qsub/testbed-terse-timeout",
        "xprcap_timeout",
    );
    assert_eq!(s.state, JobState::Timeout);
    assert_eq!(s.raw_state, "failed 37");
    // Accounting's figures and Grid Engine's own words on the end.
    assert_eq!(s.elapsed_secs, Some(4));
    assert_eq!(s.peak_memory_kb, Some(4936), "maxvmem 4.820MB");
    assert_eq!(
        s.scheduler_reason.as_deref(),
        Some("failed 37: qmaster enforced h_rt, h_cpu, or h_vmem limit; exit_status 137 (Killed)")
    );
}

#[test]
fn qacct_soft_timeout() {
    let s = final_state(
        "qacct/testbed-soft-timeout",
        "qsub/testbed-terse-soft_timeout",
        "xprcap_soft_timeout",
    );
    assert_eq!(s.state, JobState::Timeout);
    assert_eq!(s.exit_code, Some(138));
}

#[test]
fn qacct_eqw() {
    let s = final_state("qacct/testbed-eqw", "qsub/testbed-terse-eqw", "xprcap_eqw");
    assert_eq!(s.state, JobState::Failed { exit_code: None });
    assert_eq!(s.reason.as_deref(), Some("opening input/output file"));
    assert_eq!(
        s.scheduler_reason.as_deref(),
        Some("failed 26: opening input/output file; exit_status 0")
    );
    assert_eq!(
        (s.elapsed_secs, s.peak_memory_kb),
        (Some(0), None),
        "maxvmem 0.000B: never sampled"
    );
}

#[test]
fn qacct_array() {
    let statuses = accounting("qacct/testbed-array");
    let job = submitted("qsub/testbed-terse-array");
    let got: Vec<&JobStatus> = statuses.iter().collect();
    assert_eq!(
        ids(&got),
        [format!("{job}.1"), format!("{job}.2"), format!("{job}.3")]
    );
    assert!(statuses.iter().all(|s| s.state == JobState::Succeeded));
}

#[test]
fn qacct_not_found() {
    assert!(accounting("qacct/testbed-not-found").is_empty());
}

#[test]
fn qacct_several() {
    let statuses = accounting("qacct/testbed-several");
    assert_eq!(only(&statuses, "xprcap_ok").state, JobState::Succeeded);
    assert_eq!(
        only(&statuses, "xprcap_exit4").state,
        JobState::Failed { exit_code: Some(4) }
    );
    assert_eq!(statuses.len(), 2);
}

#[test]
fn qacct_real_errors_are_errors() {
    let output = CommandOutput {
        code: Some(0),
        stdout: Vec::new(),
        stderr: b"sh: 1: qacct: not found\n".to_vec(),
    };
    let err = SgeScheduler
        .parse_accounting(&output)
        .unwrap_err()
        .to_string();
    assert!(err.contains("qacct: not found"), "{err}");
}

// --- find by name --------------------------------------------------------------------------------

#[test]
fn find_by_name_mixed() {
    let statuses = SgeScheduler
        .parse_find_by_name(&load("find-by-name/testbed-mixed"))
        .unwrap();
    // Finished: from accounting (one record per capture run so far, the latest is this run's).
    let ok = with_name(&statuses, "xprcap_ok");
    assert!(!ok.is_empty());
    assert!(ok.iter().all(|s| s.state == JobState::Succeeded));
    let this_run = submitted("qsub/testbed-terse-ok").to_string();
    assert!(ok.iter().any(|s| s.id.as_str() == this_run), "{ok:?}");
    // Queued: from qstat.
    let held = with_name(&statuses, "xprcap_array_held");
    assert_eq!(held.len(), 5);
    assert!(held.iter().all(|s| s.state == JobState::Held));
    assert!(with_name(&statuses, "xprcap_no_such_job").is_empty());
    // Jobs not asked about are left out, though qstat lists them.
    let names: BTreeSet<&str> = statuses.iter().filter_map(|s| s.name.as_deref()).collect();
    assert_eq!(names, BTreeSet::from(["xprcap_ok", "xprcap_array_held"]));
    let raw = load("find-by-name/testbed-mixed")
        .stdout_text()
        .into_owned();
    assert!(raw.contains("<JB_name>N_xprcap_held</JB_name>"));
}

// --- replies the adapter does not parse ----------------------------------------------------------

#[test]
fn qdel_qhold_qrls_replies_name_the_job() {
    for (case, terse) in [
        ("qdel/testbed-running", "qsub/testbed-terse-running"),
        ("qdel/testbed-pending", "qsub/testbed-terse-array_held"),
        ("qhold/testbed-deferred", "qsub/testbed-terse-deferred"),
        ("qrls/testbed-held", "qsub/testbed-terse-held"),
    ] {
        let output = load(case);
        assert!(output.succeeded(), "{case}");
        let job = submitted(terse).to_string();
        assert!(
            output
                .stdout_text()
                .split(|c: char| !c.is_ascii_digit())
                .any(|w| w == job),
            "{case} names job {job}"
        );
    }
}

// --- arrays (tests/testbed/capture/sge_arrays.sh) -----------------------------------------------

/// The array id a `qsub -terse -t 1-N` fixture reply gives, as the engine stores it.
fn array_submitted(case: &str) -> SchedulerJobId {
    SgeScheduler
        .parse_submit(&load(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The ids of elements `first..=last` of `array`, as the engine records them.
fn elements(array: &SchedulerJobId, tasks: impl IntoIterator<Item = u32>) -> Vec<String> {
    tasks
        .into_iter()
        .map(|t| SgeScheduler.element_id(array, t).unwrap().to_string())
        .collect()
}

#[test]
fn array_submit_replies_give_element_ids() {
    let mixed = array_submitted("qsub/testbed-array-submit");
    let job = SgeId::parse(mixed.as_str()).unwrap().job;
    assert_eq!(mixed.as_str(), format!("{job}.1-6:1"));
    assert_eq!(
        elements(&mixed, [1, 6]),
        [format!("{job}.1"), format!("{job}.6")]
    );
    assert_eq!(SgeScheduler.array_of(&mixed).as_str(), job.to_string());
    let running = array_submitted("qsub/testbed-array-submit-running");
    assert_eq!(
        SgeId::parse(running.as_str()).unwrap().tasks.unwrap().len(),
        6
    );
    // `qsub -t 1-1` answers `N.1-1:1`, kept as `N.1`: its one element is still `N.1`.
    let single = array_submitted("qsub/testbed-array-submit-single");
    let raw = load("qsub/testbed-array-submit-single")
        .stdout_text()
        .into_owned();
    let job = SgeId::parse(single.as_str()).unwrap().job;
    assert_eq!(raw.trim(), format!("{job}.1-1:1"));
    assert_eq!(elements(&single, [1]), [format!("{job}.1")]);
}

#[test]
fn qstat_xml_array_partial() {
    // Two elements run (-tc 2), four wait: one status per element, under its element id.
    let array = array_submitted("qsub/testbed-array-submit-running");
    let statuses = status("qstat-xml/testbed-array-partial");
    let tasks = with_name(&statuses, "xprcap_arr_running");
    assert_eq!(ids(&tasks), elements(&array, 1..=6));
    let states: Vec<&JobState> = tasks.iter().map(|t| &t.state).collect();
    assert_eq!(
        states,
        [
            &JobState::Running,
            &JobState::Running,
            &JobState::Queued,
            &JobState::Queued,
            &JobState::Queued,
            &JobState::Queued
        ]
    );
    assert!(tasks[..2].iter().all(|t| t.node.as_deref() == Some("vm")));
}

#[test]
fn qstat_xml_array_partial_folded() {
    // Without -g d the waiting elements are one row `<tasks>3-6:1</tasks>`: still expanded.
    let array = array_submitted("qsub/testbed-array-submit-running");
    let raw = load("qstat-xml/testbed-array-partial-folded")
        .stdout_text()
        .into_owned();
    assert!(raw.contains("<tasks>3-6:1</tasks>"), "{raw}");
    let statuses = status("qstat-xml/testbed-array-partial-folded");
    let tasks = with_name(&statuses, "xprcap_arr_running");
    assert_eq!(ids(&tasks), elements(&array, 1..=6));
    assert!(tasks[2..].iter().all(|t| t.state == JobState::Queued));
}

#[test]
fn qdel_array_element_deletes_that_element_alone() {
    let array = array_submitted("qsub/testbed-array-submit-running");
    let gone = elements(&array, [1, 5]);
    let ids_given: Vec<SchedulerJobId> = gone.iter().map(SchedulerJobId::new).collect();
    // The captured command is the adapter's cancel of those two elements.
    assert_eq!(
        SgeScheduler.cancel(&ids_given).to_string(),
        format!("qdel {} {}", gone[0], gone[1])
    );
    let reply = load("qdel/testbed-array-element");
    assert!(reply.succeeded());
    let text = reply.stdout_text();
    assert!(
        text.contains(&format!(
            "registered the job-array task {} for deletion",
            gone[0]
        )),
        "a running element: {text}"
    );
    assert!(
        text.contains(&format!("deleted job-array task {}", gone[1])),
        "a waiting element: {text}"
    );
    // Afterwards the other four are still there; the two deleted ones are not.
    let statuses = status("qstat-xml/testbed-array-element-deleted");
    let mut left = ids(&with_name(&statuses, "xprcap_arr_running"));
    left.sort();
    assert_eq!(left, elements(&array, [2, 3, 4, 6]));
}

#[test]
fn qacct_array_mixed() {
    // Six elements, 2 exiting 3 and 5 exiting 7: each its own record, state and exit code.
    let array = array_submitted("qsub/testbed-array-submit");
    let statuses = accounting("qacct/testbed-array-mixed");
    let got: Vec<&JobStatus> = statuses.iter().collect();
    assert_eq!(ids(&got), elements(&array, 1..=6));
    for (i, s) in statuses.iter().enumerate() {
        let want = match i + 1 {
            2 => JobState::Failed { exit_code: Some(3) },
            5 => JobState::Failed { exit_code: Some(7) },
            _ => JobState::Succeeded,
        };
        assert_eq!(s.state, want, "element {}", i + 1);
        assert_eq!(s.name.as_deref(), Some("xprcap_arr_mixed"));
    }
    assert_eq!(
        statuses[4].scheduler_reason.as_deref(),
        Some("failed 0; exit_status 7")
    );
}

#[test]
fn qacct_array_single() {
    let single = array_submitted("qsub/testbed-array-submit-single");
    let statuses = accounting("qacct/testbed-array-single");
    let got: Vec<&JobStatus> = statuses.iter().collect();
    assert_eq!(ids(&got), elements(&single, [1]));
    assert_eq!(statuses[0].state, JobState::Succeeded);
}

#[test]
fn qacct_array_element_qdel() {
    // A running element deleted alone: a kill like any other job's, only for that element.
    let array = array_submitted("qsub/testbed-array-submit-running");
    let statuses = accounting("qacct/testbed-array-element-qdel");
    let got: Vec<&JobStatus> = statuses.iter().collect();
    assert_eq!(ids(&got), elements(&array, [1]));
    assert_eq!(
        statuses[0].state,
        JobState::Failed {
            exit_code: Some(137)
        }
    );
    assert!(
        statuses[0].reason.as_deref().unwrap().contains("SIGKILL"),
        "{:?}",
        statuses[0]
    );
}

#[test]
fn find_by_name_array() {
    // A lost submit reply: the group's name finds the array, whose elements follow from it.
    let statuses = SgeScheduler
        .parse_find_by_name(&load("find-by-name/testbed-array"))
        .unwrap();
    for (name, case) in [
        ("xprcap_arr_running", "qsub/testbed-array-submit-running"),
        ("xprcap_arr_mixed", "qsub/testbed-array-submit"),
    ] {
        // Accounting keeps the records of earlier capture runs under the same name (other
        // job numbers); this run's array is the one its qsub reply names.
        let array = array_submitted(case);
        let found = with_name(&statuses, name);
        let this_run: Vec<&JobStatus> = found
            .iter()
            .copied()
            .filter(|s| SgeScheduler.array_of(&s.id) == SgeScheduler.array_of(&array))
            .collect();
        let mut got = ids(&this_run);
        got.sort();
        let mut want = elements(&array, 1..=6);
        want.sort();
        assert_eq!(got, want, "{name}");
    }
    let array = SgeScheduler.array_of(&array_submitted("qsub/testbed-array-submit-running"));
    let running = with_name(&statuses, "xprcap_arr_running");
    assert!(
        running
            .iter()
            .filter(|s| SgeScheduler.array_of(&s.id) == array)
            .all(|s| !s.state.is_final()),
        "this run's running array is listed by qstat"
    );
    let mixed = with_name(&statuses, "xprcap_arr_mixed");
    assert!(mixed.iter().all(|s| s.state.is_final()), "from qacct");
}

#[test]
fn qconf_sconf_global_gives_the_array_limit() {
    let output = load("qconf-sconf/testbed-global");
    assert_eq!(SgeScheduler.parse_site_array_limit(&output), Some(75_000));
    assert_eq!(
        SgeScheduler.site_array_limit().unwrap().to_string(),
        "qconf -sconf"
    );
    // `max_aj_instances` (how many run at once) is another setting, not the size.
    assert!(output.stdout_text().contains("max_aj_instances"));
}

// --- bookkeeping ---------------------------------------------------------------------------------

/// Every fixture case has a test above (keeps new captures from going unchecked).
#[test]
fn every_fixture_case_is_tested() {
    let source = include_str!("sge_parsers.rs");
    for dir in std::fs::read_dir(fixtures()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let dir_name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            let Some(case) = name.strip_suffix(".txt") else {
                continue;
            };
            // `qconf-sq/` and `qhost-q/` are `xpr discover`'s, tested there.
            let covered = source.contains(&format!("\"{dir_name}/{case}\""))
                || case.starts_with("testbed-terse-")
                || include_str!("discover_parsers.rs")
                    .contains(&format!("\"sge/{dir_name}/{name}\""));
            assert!(covered, "fixture {dir_name}/{name} has no test");
        }
    }
}

/// The capture script runs the adapter's exact scripts.
#[test]
fn capture_script_uses_the_adapter_scripts() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/capture/sge.sh"),
    )
    .unwrap();
    let bash_literal = |s: &str| format!("'{}'", s.replace('\'', "'\"'\"'"));
    for (var, value) in [
        ("STATUS_SCRIPT", STATUS_SCRIPT),
        ("ACCOUNTING_SCRIPT", ACCOUNTING_SCRIPT),
        ("FIND_BY_NAME_SCRIPT", FIND_BY_NAME_SCRIPT),
    ] {
        let line = format!("{var}={}", bash_literal(value));
        assert!(script.contains(&line), "sge.sh must hold {line}");
    }
    // And the adapter's commands are those scripts.
    let status = SgeScheduler.status(&[]);
    assert_eq!(status.args[1], STATUS_SCRIPT);
}

/// The array capture script runs the adapter's exact scripts and array submission.
#[test]
fn array_capture_script_uses_the_adapter_commands() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/capture/sge_arrays.sh"),
    )
    .unwrap();
    let bash_literal = |s: &str| format!("'{}'", s.replace('\'', "'\"'\"'"));
    for (var, value) in [
        ("STATUS_SCRIPT", STATUS_SCRIPT),
        ("ACCOUNTING_SCRIPT", ACCOUNTING_SCRIPT),
        ("FIND_BY_NAME_SCRIPT", FIND_BY_NAME_SCRIPT),
    ] {
        let line = format!("{var}={}", bash_literal(value));
        assert!(script.contains(&line), "sge_arrays.sh must hold {line}");
    }
    let submit = SgeScheduler
        .submit_array("d", "mixed.sh", "x", 6)
        .unwrap()
        .to_string();
    let submit = submit.strip_prefix("cd d && ").unwrap();
    assert!(
        script.contains(&format!("--in-dir {submit}\n")),
        "sge_arrays.sh must submit as the adapter does: {submit}"
    );
    // Its jobs carry the adapter's array header lines.
    for line in [
        "#$ -o job.{id}.$TASK_ID.stdout",
        "#$ -e job.{id}.$TASK_ID.stderr",
    ] {
        assert!(sge::ARRAY_DEFAULT_HEADER.contains(&line));
        let shell = line
            .replace("{id}", "$name")
            .replace("$TASK_ID", "\\$TASK_ID")
            .replace("#$", "#\\$");
        assert!(script.contains(&shell), "sge_arrays.sh writes {shell}");
    }
}

// --- public fixtures -----------------------------------------------------------------------------

/// Every public Grid Engine output; each has a test below.
const PUBLIC: &[&str] = &[
    "qacct-j-with-summary__lxm3.txt",
    "qacct-j__lxm3.txt",
    "qstat-ext-urg-xml__aiida.xml",
    "qstat-xml-array-mixed__lxm3.xml",
    "qstat-xml-array-pending__lxm3.xml",
    "qstat-xml-array-running__lxm3.xml",
    "qstat-xml-j-details__lxm3.xml",
    "qstat-xml-j-finished__batcheuphoria.xml",
    "qstat-xml-pending__lxm3.xml",
    "qstat-xml__pysqa.xml",
    "qsub-replies__multi.txt",
];

fn public(name: &str) -> String {
    public_fixtures::read("sge", name)
}

fn public_status(name: &str) -> Vec<JobStatus> {
    SgeScheduler
        .parse_status(&CommandOutput::success(public(name)))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn states(statuses: &[JobStatus]) -> Vec<(String, JobState)> {
    statuses
        .iter()
        .map(|s| (s.id.to_string(), s.state.clone()))
        .collect()
}

/// Every public file parses with the parser that fits its command, and has a test below.
#[test]
fn public_every_file_parses() {
    public_fixtures::assert_listed("sge", PUBLIC);
    let source = include_str!("sge_parsers.rs");
    for &name in PUBLIC {
        let text = public(name);
        let found = if name.starts_with("qacct") {
            sge::parse_qacct(&text).map(|r| r.len())
        } else if name.starts_with("qstat-xml-j") {
            sge::parse_qstat_detail_xml(&text).map(|r| r.len())
        } else if name.starts_with("qstat") {
            sge::parse_qstat_xml(&text).map(|r| r.len())
        } else if name.starts_with("qsub") {
            Ok(qsub_blocks(&text).len())
        } else {
            panic!("public fixture {name}: no parser fits; add one here");
        };
        let found = found.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(found > 0, "{name}: nothing parsed");
        // PUBLIC names it once, its own test a second time.
        assert!(
            source.matches(&format!("\"{name}\"")).count() >= 2,
            "public fixture sge/{name} has no test"
        );
    }
}

/// The ids of the blank-line separated replies of `qsub-replies__multi.txt`.
fn qsub_blocks(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            SgeScheduler
                .parse_submit(&CommandOutput::success(block))
                .unwrap_or_else(|e| panic!("{block:?}: {e}"))
                .to_string()
        })
        .collect()
}

#[test]
fn public_qsub_replies() {
    let text = public("qsub-replies__multi.txt");
    assert_eq!(
        qsub_blocks(&text),
        [
            "1258076",
            "341683",
            "9830192.1-5:1",
            "9830196",
            "9834008",
            "9834008.1-5:1",
            "24"
        ]
    );
}

#[test]
fn public_qstat_ext_urg_aiida() {
    let s = public_status("qstat-ext-urg-xml__aiida.xml");
    assert_eq!(
        states(&s),
        [
            ("1212299".into(), JobState::Running),
            ("1212263".into(), JobState::Queued),
            ("1212322".into(), JobState::Held),
        ]
    );
    assert_eq!(s[0].node.as_deref(), Some("node080"));
    assert_eq!(s[0].name.as_deref(), Some("Heusler"));
}

#[test]
fn public_qstat_array_pending_lxm3() {
    let s = public_status("qstat-xml-array-pending__lxm3.xml");
    let expected: Vec<(String, JobState)> = (1..=5)
        .map(|t| (format!("9830188.{t}"), JobState::Queued))
        .collect();
    assert_eq!(states(&s), expected);
}

#[test]
fn public_qstat_array_running_lxm3() {
    let s = public_status("qstat-xml-array-running__lxm3.xml");
    let expected: Vec<(String, JobState)> = (1..=5)
        .map(|t| (format!("9830197.{t}"), JobState::Running))
        .collect();
    assert_eq!(states(&s), expected);
    assert!(
        s.iter()
            .all(|j| j.node.as_deref() == Some("abner-601-2.local"))
    );
}

#[test]
fn public_qstat_array_mixed_lxm3() {
    let s = public_status("qstat-xml-array-mixed__lxm3.xml");
    assert_eq!(
        states(&s),
        [
            ("9830420.1".into(), JobState::Running),
            ("9830420.2".into(), JobState::Running),
            ("9830421.1".into(), JobState::Queued),
            ("9830421.2".into(), JobState::Queued),
        ]
    );
}

#[test]
fn public_qstat_pending_lxm3() {
    let s = public_status("qstat-xml-pending__lxm3.xml");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].state, JobState::Queued);
}

#[test]
fn public_qstat_pysqa_with_eqw() {
    let s = public_status("qstat-xml__pysqa.xml");
    assert_eq!(
        states(&s),
        [
            ("2836045".into(), JobState::Running),
            ("2836046".into(), JobState::Queued),
            ("2967274".into(), JobState::Failed { exit_code: None }),
        ]
    );
    assert_eq!(s[0].node.as_deref(), Some("cmmc182.bc.rzg.mpg.de"));
}

#[test]
fn public_qstat_j_details_lxm3() {
    let text = public("qstat-xml-j-details__lxm3.xml");
    let jobs = sge::parse_qstat_detail_xml(&text).unwrap();
    let numbers: Vec<u64> = jobs.iter().map(|j| j.job).collect();
    assert_eq!(numbers, [9132, 10751]);
    assert_eq!(jobs[0].name.as_deref(), Some("job-20230816.085459"));
    let tasks: Vec<u64> = jobs[0].tasks.iter().map(|t| t.task).collect();
    assert_eq!(&tasks[..3], [1, 2, 3]);
    assert!(jobs[0].all_messages().is_empty());
    // A detail document is not a listing.
    assert!(sge::parse_qstat_xml(&text).is_err());
}

#[test]
fn public_qstat_j_finished_batcheuphoria() {
    let text = public("qstat-xml-j-finished__batcheuphoria.xml");
    let jobs = sge::parse_qstat_detail_xml(&text).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job, 22005);
    assert_eq!(jobs[0].owner.as_deref(), Some("testuser"));
    assert_eq!(jobs[0].tasks[0].status, Some(65536));
}

fn public_accounting(name: &str) -> Vec<JobStatus> {
    SgeScheduler
        .parse_accounting(&CommandOutput::success(public(name)))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn public_qacct_lxm3() {
    let s = public_accounting("qacct-j__lxm3.txt");
    assert_eq!(
        states(&s),
        [
            ("3871".into(), JobState::Succeeded),
            ("5338.18".into(), JobState::Succeeded),
        ]
    );
    assert_eq!(s[1].node.as_deref(), Some("sweetums-609-4.local"));
    assert_eq!(s[1].name.as_deref(), Some("job-20230815.154532"));
}

#[test]
fn public_qacct_with_summary_lxm3() {
    let s = public_accounting("qacct-j-with-summary__lxm3.txt");
    assert_eq!(s.len(), 2, "the summary table is not a record: {s:#?}");
    assert_eq!(s[1].id.as_str(), "5338.18");
}
