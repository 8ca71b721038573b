//! The PBS adapter (PBS Pro and Torque) against its fixtures: hand-written ones in
//! `fixtures/pbs/` (see SOURCES.md there) and real outputs of other projects in
//! `fixtures/public/{pbs,pbspro,torque}/` (see `fixtures/public/SOURCES.md`), plus the exact
//! command lines it builds.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

mod public_fixtures;

use xpr::command::{CommandOutput, CommandSpec};
use xpr::ids::SchedulerJobId;
use xpr::scheduler::pbs::{PbsScheduler, QstatDialect, parse_qstat};
use xpr::scheduler::{JobState, JobStatus, Scheduler, SchedulerKind, scheduler_for};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/pbs")
        .join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn status_of(stdout: &str) -> Vec<JobStatus> {
    PbsScheduler
        .parse_status(&CommandOutput::success(stdout))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The state a fixture job's name `expect_<state>` announces.
fn expected(name: &str) -> JobState {
    match name.strip_prefix("expect_").unwrap_or(name) {
        "succeeded" => JobState::Succeeded,
        "timeout" => JobState::Timeout,
        "out_of_memory" => JobState::OutOfMemory,
        "cancelled" => JobState::Cancelled,
        "node_fail" => JobState::NodeFail,
        "running" => JobState::Running,
        "queued" => JobState::Queued,
        "held" => JobState::Held,
        other => panic!("fixture job name {other:?} names no state"),
    }
}

/// Every job in the file reaches the state its name announces (`expect_failed` only checks
/// that it failed, with its exit code).
fn assert_self_describing(file: &str, count: usize) -> Vec<JobStatus> {
    let jobs = status_of(&fixture(file));
    assert_eq!(jobs.len(), count, "{file}: number of jobs");
    for job in &jobs {
        let name = job.name.as_deref().expect("every fixture job has a name");
        if name == "expect_failed" {
            assert!(
                matches!(job.state, JobState::Failed { exit_code: Some(c) } if Some(c) == job.exit_code),
                "{file}: job {} is {:?}",
                job.id,
                job.state
            );
        } else {
            assert_eq!(job.state, expected(name), "{file}: job {}", job.id);
        }
    }
    jobs
}

#[test]
fn pbspro_finished_states() {
    let jobs = assert_self_describing("qstat-x-f/pbspro-finished-states.txt", 9);
    assert_eq!(jobs[0].id.as_str(), "1001.pbs01");
    assert_eq!(jobs[0].raw_state, "F");
    assert_eq!(jobs[0].exit_code, Some(0));
    assert_eq!(jobs[0].node.as_deref(), Some("node01"));
    assert!(jobs[0].reason.as_deref().unwrap().ends_with("and finished"));
    // Deleted before it ran: no exit status, no node.
    assert_eq!((jobs[4].exit_code, jobs[4].node.as_deref()), (None, None));
    // 271 twice: cancelled with walltime left, timeout when it was used up.
    assert_eq!(jobs[5].exit_code, Some(271));
    assert_eq!(jobs[6].exit_code, Some(271));
    assert_eq!(jobs[7].node.as_deref(), Some("node07"));
    assert_eq!(jobs[8].id.as_str(), "1009[3].pbs01");
    assert_eq!(jobs[8].raw_state, "X");
    // Accounting: resources_used.walltime and .mem; PBS's own words on each end.
    assert_eq!(jobs[0].elapsed_secs, Some(60));
    assert_eq!(jobs[0].peak_memory_kb, Some(5660));
    assert_eq!(jobs[2].elapsed_secs, Some(604));
    assert_eq!(
        jobs[2].scheduler_reason.as_deref(),
        Some(
            "Exit_status -29 (JOB_EXEC_KILL_WALLTIME: over its walltime); Job run at Mon Jan 24 \
             at 08:38 on (node01:ncpus=1) and failed"
        )
    );
    assert!(
        jobs[3]
            .scheduler_reason
            .as_deref()
            .unwrap()
            .starts_with("Exit_status -27 (JOB_EXEC_KILL_MEM: over its memory); ")
    );
    assert!(
        jobs[1]
            .scheduler_reason
            .as_deref()
            .unwrap()
            .starts_with("Exit_status 1; Job run at")
    );
    assert!(
        jobs[5]
            .scheduler_reason
            .as_deref()
            .unwrap()
            .starts_with("Exit_status 271 (the job shell was killed by signal 15); ")
    );
    // Deleted before it ran: no figures, the comment says why.
    assert_eq!((jobs[4].elapsed_secs, jobs[4].peak_memory_kb), (None, None));
    assert_eq!(
        jobs[4].scheduler_reason.as_deref(),
        Some("no Exit_status: deleted before it ran")
    );
}

#[test]
fn torque_xml_states() {
    let jobs = assert_self_describing("qstat-x-f/torque-states.txt", 11);
    assert_eq!(jobs[0].node.as_deref(), Some("n012"));
    assert_eq!(jobs[3].exit_code, Some(265));
    assert_eq!(jobs[10].id.as_str(), "2011[1].torque01");
    assert!(
        jobs[3]
            .scheduler_reason
            .as_deref()
            .unwrap()
            .starts_with("exit_status 265 (the job shell was killed by signal 9)"),
        "{:?}",
        jobs[3].scheduler_reason
    );
    let parsed = parse_qstat(&fixture("qstat-x-f/torque-states.txt")).unwrap();
    assert!(parsed.iter().all(|j| j.dialect == QstatDialect::Xml));
    assert_eq!(parsed[0].get("Resource_List.walltime"), Some("00:05:00"));
}

#[test]
fn wrapped_job_name_comes_back_whole() {
    // The job is named `N_{id}`; the status carries the task id alone.
    let jobs = status_of(&fixture("qstat-x-f/pbspro-wrapped-name.txt"));
    let name = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(jobs[0].name.as_deref(), Some(name));
    assert_eq!(jobs[0].state, JobState::Running);
    let parsed = parse_qstat(&fixture("qstat-x-f/pbspro-wrapped-name.txt")).unwrap();
    assert_eq!(
        parsed[0].get("Job_Name"),
        Some(format!("N_{name}").as_str())
    );
    let vars = parsed[0].get("Variable_List").unwrap();
    assert!(
        vars.contains("PBS_O_WORKDIR=/home/alice/run_expyre,"),
        "{vars}"
    );
    assert!(!vars.contains('\t') && !vars.contains('\n'), "{vars:?}");
}

#[test]
fn json_without_jobs_key_is_no_jobs() {
    assert!(status_of(&fixture("qstat-x-f/pbspro-json-no-jobs.txt")).is_empty());
}

#[test]
fn json_with_invalid_escapes_parses() {
    let text = fixture("qstat-x-f/pbspro-json-invalid-escape.txt");
    let jobs = status_of(&text);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Succeeded);
    let parsed = parse_qstat(&text).unwrap();
    assert_eq!(parsed[0].dialect, QstatDialect::Json);
    assert_eq!(parsed[0].get("Variable_List.MYVAR"), Some("'\"asads\"'"));
    assert_eq!(
        parsed[0].get("Variable_List.MYVAR2"),
        Some("/home/pbstest01/Mo\\'")
    );
    assert_eq!(parsed[0].get("Variable_List.MYVAR3"), Some("ab,c"));
    assert_eq!(parsed[0].get("Resource_List.walltime"), Some("00:10:00"));
}

#[test]
fn json_numeric_looking_values_stay_strings() {
    let text = fixture("qstat-x-f/pbspro-json-numeric-strings.txt");
    let jobs = status_of(&text);
    assert_eq!(jobs[0].name.as_deref(), Some("005"));
    assert_eq!(jobs[0].state, JobState::Held);
    assert_eq!(jobs[1].name.as_deref(), Some("0x1F"));
    assert_eq!(jobs[1].state, JobState::Failed { exit_code: Some(1) });
    let parsed = parse_qstat(&text).unwrap();
    assert_eq!(parsed[0].get("Variable_List.foo"), Some("005"));
}

#[test]
fn truncated_or_broken_replies_are_errors_not_empty() {
    let text = fixture("qstat-x-f/pbspro-json-invalid-escape.txt");
    let cut = &text[..text.len() / 2];
    let err = PbsScheduler
        .parse_status(&CommandOutput::success(cut))
        .unwrap_err();
    assert_eq!(err.scheduler, SchedulerKind::Pbs);
    assert!(err.to_string().contains("cut short"), "{err}");

    let xml = fixture("qstat-x-f/torque-states.txt");
    assert!(
        PbsScheduler
            .parse_status(&CommandOutput::success(&xml[..xml.len() - 20]))
            .is_err()
    );

    let err = PbsScheduler
        .parse_status(&CommandOutput::success(
            "Job Id: 1.s; rm -rf /\n    job_state = R\n",
        ))
        .unwrap_err();
    assert!(err.to_string().contains("not a PBS job id"), "{err}");

    let err = PbsScheduler
        .parse_status(&CommandOutput::success("Job Id: 1.s\n    Job_Name = x\n"))
        .unwrap_err();
    assert!(err.to_string().contains("no job_state"), "{err}");
}

#[test]
fn unknown_ids_on_stderr_mean_absent() {
    let text = fixture("qstat-x-f/pbspro-finished-states.txt");
    let first_job = text.split("\n\n").next().unwrap();
    for stderr in [
        "qstat: Unknown Job Id 999.pbs01\n",
        "qstat: Unknown Job Id Error 999.torque01\n",
        "qstat: 998.pbs01 Job has finished, use -x or -H to obtain historical job information\n",
    ] {
        let output = CommandOutput {
            code: Some(153),
            stdout: first_job.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let jobs = PbsScheduler.parse_status(&output).unwrap();
        assert_eq!(jobs.len(), 1, "{stderr}");
        assert_eq!(jobs[0].id.as_str(), "1001.pbs01");
    }
    // Every id unknown, nothing on stdout (Torque before 6.1 prints nothing at all).
    let output = CommandOutput {
        code: Some(153),
        stdout: Vec::new(),
        stderr: b"qstat: Unknown Job Id Error 1.t\n".to_vec(),
    };
    assert!(PbsScheduler.parse_accounting(&output).unwrap().is_empty());
}

#[test]
fn real_qstat_failures_are_errors() {
    let output = CommandOutput {
        code: Some(2),
        stdout: Vec::new(),
        stderr: b"Connection refused\nqstat: cannot connect to server pbs01 (errno=111)\n".to_vec(),
    };
    let err = PbsScheduler.parse_status(&output).unwrap_err();
    assert!(err.to_string().contains("Connection refused"), "{err}");
    let killed = CommandOutput {
        code: None,
        ..CommandOutput::default()
    };
    assert!(PbsScheduler.parse_status(&killed).is_err());
}

#[test]
fn qsub_replies() {
    for (file, id) in [
        ("qsub/pbspro.txt", "4242.pbs01"),
        ("qsub/array.txt", "4243[].pbs01"),
        ("qsub/array-torque.txt", "4252[].torque01"),
        ("qsub/torque-no-server.txt", "4244"),
        ("qsub/banner-before-id.txt", "4245.gadi-pbs"),
    ] {
        let got = PbsScheduler
            .parse_submit(&CommandOutput::success(fixture(file)))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.as_str(), id, "{file}");
    }
}

#[test]
fn qsub_failures_and_garbage_are_errors() {
    let failed = CommandOutput {
        code: Some(188),
        stdout: Vec::new(),
        stderr: b"qsub: Unknown queue\n".to_vec(),
    };
    let err = PbsScheduler.parse_submit(&failed).unwrap_err();
    assert!(err.to_string().contains("qsub: Unknown queue"), "{err}");
    assert!(err.to_string().contains("exit code 188"), "{err}");
    for stdout in [
        "",
        "\n\n",
        "submitted\n",
        "12.srv extra\n",
        "1584288.biocluster\nfoo\n",
    ] {
        assert!(
            PbsScheduler
                .parse_submit(&CommandOutput::success(stdout))
                .is_err(),
            "{stdout:?}"
        );
    }
}

/// A PBS Pro array's subjobs, each asked for by its own id, and the array itself: every
/// element is its own job with its own state and exit status.
#[test]
fn pbspro_array_subjobs_are_jobs_of_their_own() {
    let jobs = status_of(&fixture("qstat-x-f/pbspro-array-subjobs.txt"));
    let got: Vec<(&str, &JobState, Option<i32>)> = jobs
        .iter()
        .map(|j| (j.id.as_str(), &j.state, j.exit_code))
        .collect();
    assert_eq!(
        got,
        [
            ("2001[0].pbs01", &JobState::Succeeded, Some(0)),
            (
                "2001[1].pbs01",
                &JobState::Failed { exit_code: Some(3) },
                Some(3)
            ),
            ("2001[2].pbs01", &JobState::Running, None),
            ("2001[3].pbs01", &JobState::Queued, None),
            // Deleted before it ran: expired without an exit status.
            ("2001[4].pbs01", &JobState::Cancelled, None),
            // The array with a subjob begun.
            ("2001[].pbs01", &JobState::Running, None),
        ]
    );
    for job in &jobs {
        assert_eq!(
            job.name.as_deref(),
            Some("array_6793a1c0_5f2e91ab"),
            "the array's name, N_ stripped: {}",
            job.id
        );
    }
    assert_eq!(jobs[0].raw_state, "X");
    assert_eq!(jobs[1].node.as_deref(), Some("node03"));
    assert_eq!(jobs[1].elapsed_secs, Some(7));
    assert_eq!(
        jobs[4].scheduler_reason.as_deref(),
        Some("no Exit_status: deleted before it ran")
    );
    // The element ids the adapter derives are the ones qstat names.
    let array = PbsScheduler.array_of(&jobs[2].id);
    assert_eq!(array, jobs[5].id);
    for (i, job) in jobs[..5].iter().enumerate() {
        assert_eq!(
            PbsScheduler.element_id(&array, i as u32).as_ref(),
            Some(&job.id)
        );
        assert_eq!(PbsScheduler.array_of(&job.id), array);
    }
}

#[test]
fn array_ids_of_both_flavours() {
    let element = |array: &str, i| {
        PbsScheduler
            .element_id(&SchedulerJobId::new(array), i)
            .unwrap()
            .to_string()
    };
    assert_eq!(element("4243[].pbs01", 7), "4243[7].pbs01");
    assert_eq!(element("4252[].torque01", 0), "4252[0].torque01");
    assert_eq!(
        element("4244[]", 3),
        "4244[3]",
        "Torque without a server suffix"
    );
    let array_of = |id: &str| PbsScheduler.array_of(&SchedulerJobId::new(id)).to_string();
    assert_eq!(array_of("4243[7].pbs01"), "4243[].pbs01");
    assert_eq!(array_of("4243[].pbs01"), "4243[].pbs01");
    assert_eq!(array_of("4244[3]"), "4244[]");
    assert_eq!(array_of("4242.pbs01"), "4242.pbs01", "not an array");
}

#[test]
fn site_array_limits_from_qmgr() {
    let limit =
        |file: &str| PbsScheduler.parse_site_array_limit(&CommandOutput::success(fixture(file)));
    assert_eq!(limit("qmgr/list-server-pbspro.txt"), Some(2000));
    assert_eq!(limit("qmgr/list-server-torque.txt"), Some(1024));
    assert_eq!(limit("qmgr/list-server-no-limit.txt"), None);
    let refused = CommandOutput {
        code: Some(1),
        stdout: Vec::new(),
        stderr: b"qmgr obj= svr=default: Unauthorized Request\n".to_vec(),
    };
    assert_eq!(PbsScheduler.parse_site_array_limit(&refused), None);
}

#[test]
fn array_command_lines() {
    let pbs = scheduler_for(SchedulerKind::Pbs);
    let syntax = pbs.arrays().expect("PBS has arrays");
    assert_eq!(syntax.index_var, "PBS_ARRAY_INDEX:-$PBS_ARRAYID");
    assert_eq!((syntax.first_index, syntax.default_limit), (0, 10_000));
    // The array header is the default one without `-r n` (PBS Pro refuses it in arrays).
    let mut header: Vec<&str> = pbs.default_header().to_vec();
    header.retain(|l| *l != "#PBS -r n");
    assert_eq!(pbs.array_default_header(), header.as_slice());
    let twelve = pbs
        .submit_array("/scratch/grp 1", "xpr_group.sh", "array_1", 12)
        .unwrap();
    assert_eq!(twelve.program, "sh");
    assert_eq!(twelve.args[2..], ["sh", "0-11", "0-11", "xpr_group.sh"]);
    assert!(
        twelve
            .to_string()
            .starts_with("cd '/scratch/grp 1' && sh -c "),
        "{twelve}"
    );
    // One element: `0-0` is refused by PBS Pro, a step past the end is not.
    let one = pbs
        .submit_array("/g", "xpr_group.sh", "array_1", 1)
        .unwrap();
    assert_eq!(one.args[2..], ["sh", "0-1:2", "0", "xpr_group.sh"]);
    assert_eq!(
        pbs.site_array_limit().unwrap().to_string(),
        "qmgr -c 'list server'"
    );
}

/// Runs the array submit command with a fake `qsub` that answers `--version` with `version`
/// on `stream` (1 stdout, 2 stderr) and otherwise prints its arguments and an array id.
fn run_array_submit(count: u32, version: &str, stream: u8) -> (CommandOutput, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("version.txt"), version).unwrap();
    let qsub = format!(
        "#!/bin/sh
if [ \"$1\" = --version ]; then cat \"$(dirname \"$0\")/version.txt\" >&{stream}; exit 0; fi
         echo \"args: $*\" >&2
echo '77[].srv'
"
    );
    let path = dir.path().join("qsub");
    fs::write(&path, qsub).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let job_dir = dir.path().join("grp");
    fs::create_dir(&job_dir).unwrap();
    let spec = PbsScheduler
        .submit_array(&job_dir.to_string_lossy(), "xpr_group.sh", "array_1", count)
        .unwrap();
    let out = Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(&job_dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                dir.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    let out = CommandOutput {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    };
    (out, dir)
}

#[test]
fn array_submit_asks_qsub_which_pbs_it_is() {
    let pro = fixture("qsub-version/pbspro.txt");
    let torque = fixture("qsub-version/torque.txt");
    for (version, stream, count, args) in [
        (pro.as_str(), 1, 12, "-J 0-11 xpr_group.sh"),
        (pro.as_str(), 1, 1, "-J 0-1:2 xpr_group.sh"),
        (torque.as_str(), 2, 12, "-t 0-11 xpr_group.sh"),
        (torque.as_str(), 2, 1, "-t 0 xpr_group.sh"),
        // A qsub that says nothing known of itself is taken for PBS Pro.
        ("qsub: invalid option -- '-'\n", 2, 3, "-J 0-2 xpr_group.sh"),
    ] {
        let (out, _dir) = run_array_submit(count, version, stream);
        assert_eq!(
            out.stderr_text().trim(),
            format!("args: {args}"),
            "{version:?}"
        );
        assert_eq!(
            PbsScheduler.parse_submit(&out).unwrap().as_str(),
            "77[].srv"
        );
    }
}

fn ids(list: &[&str]) -> Vec<SchedulerJobId> {
    list.iter().map(|s| SchedulerJobId::new(*s)).collect()
}

#[test]
fn command_lines() {
    let pbs = scheduler_for(SchedulerKind::Pbs);
    assert_eq!(pbs.kind(), SchedulerKind::Pbs);
    assert_eq!(
        pbs.default_header(),
        [
            "#PBS -N N_{job_name}",
            "#PBS -q {partition}",
            "#PBS -l walltime={max_time}",
            "#PBS -o job.{id}.stdout",
            "#PBS -e job.{id}.stderr",
            "#PBS -S /bin/bash",
            "#PBS -r n",
        ]
    );
    assert_eq!(
        pbs.submit("/scratch/run 1", "job.script.pbs").to_string(),
        "cd '/scratch/run 1' && qsub job.script.pbs"
    );
    let two = ids(&["12.srv", "13[].srv"]);
    assert_eq!(
        pbs.status(&two).to_string(),
        "qstat -x -f 12.srv '13[].srv'"
    );
    assert_eq!(pbs.accounting(&two), pbs.status(&two));
    assert_eq!(pbs.cancel(&two).to_string(), "qdel 12.srv '13[].srv'");
    assert_eq!(pbs.hold(&two).to_string(), "qhold 12.srv '13[].srv'");
    assert_eq!(pbs.release(&two).to_string(), "qrls 12.srv '13[].srv'");
    // Task ids in, `N_{id}` job names to qselect.
    let find = pbs.find_by_name(&["a b".to_owned(), "c'd".to_owned()]);
    assert_eq!(find.program, "sh");
    assert_eq!(find.args[0], "-c");
    assert_eq!(find.args[2..], ["sh", "N_a b", "N_c'd"]);
}

#[test]
fn empty_lists_do_nothing() {
    let none: Vec<SchedulerJobId> = Vec::new();
    for cmd in [
        PbsScheduler.status(&none),
        PbsScheduler.accounting(&none),
        PbsScheduler.cancel(&none),
        PbsScheduler.hold(&none),
        PbsScheduler.release(&none),
        PbsScheduler.find_by_name(&[]),
    ] {
        assert_eq!(cmd, CommandSpec::new("true"));
    }
}

/// Runs the find-by-name command with fake `qselect` / `qstat` scripts first on PATH.
fn run_find(qselect: &str, names: &[&str]) -> CommandOutput {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("qselect", qselect),
        ("qstat", "#!/bin/sh\necho \"qstat $*\"\n"),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, body).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let spec = PbsScheduler.find_by_name(&names);
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(&spec.program)
        .args(&spec.args)
        .env("PATH", path)
        .output()
        .unwrap();
    CommandOutput {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

#[test]
fn find_by_name_script_behaviour() {
    // PBS Pro: `qselect -x -N NAME` works; array ids are not globbed; names stay one word.
    let pro = "#!/bin/sh\n[ \"$1\" = -x ] || exit 9\ncase \"$3\" in 'N_a b') echo '7[].s';; N_c) echo 8.s;; esac\n";
    let out = run_find(pro, &["a b", "c", "none"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr_text());
    assert_eq!(out.stdout_text(), "qstat -x -f 7[].s 8.s\n");

    // Torque: no `-x`, the plain form answers.
    let torque = "#!/bin/sh\n[ \"$1\" = -x ] && { echo 'qselect: invalid option -- x' >&2; exit 2; }\necho 9.t\n";
    let out = run_find(torque, &["x"]);
    assert_eq!(out.stdout_text(), "qstat -x -f 9.t\n");

    // Nothing matches: no qstat at all (which would list every job).
    let out = run_find("#!/bin/sh\nexit 0\n", &["x"]);
    assert_eq!((out.code, out.stdout_text().as_ref()), (Some(0), ""));
    assert!(PbsScheduler.parse_find_by_name(&out).unwrap().is_empty());

    // The server is down: the command fails, so "not found" is never assumed.
    let out = run_find(
        "#!/bin/sh\necho 'cannot connect to server' >&2\nexit 3\n",
        &["x"],
    );
    assert_ne!(out.code, Some(0));
    assert!(PbsScheduler.parse_find_by_name(&out).is_err());
}

/// Every public PBS output, by directory; each has its expectations in `check_public`.
const PUBLIC: &[(&str, &[&str])] = &[
    (
        "pbs",
        &[
            "qstat-f-unexpected-newlines__aiida-pbspro.txt",
            "qstat-f__aiida-pbspro.txt",
            "qstat-f__pysqa-gadi.txt",
            "qsub-replies__multi.txt",
        ],
    ),
    (
        "pbspro",
        &[
            "pbsnodes-a-F-json__firecrest.json",
            "qstat-F-json-f-Q__firecrest.json",
            "qstat-F-json-f-x-running__firecrest.json",
            "qstat-f-F-json-x-finished-trimmed__psij.json",
            "qstat-xf-F-json-running__swrap.json",
        ],
    ),
    (
        "torque",
        &[
            "qstat-x-finished__batcheuphoria.xml",
            "qstat-x-queued__batcheuphoria.xml",
        ],
    ),
];

fn count(jobs: &[JobStatus], state: &JobState) -> usize {
    jobs.iter().filter(|j| &j.state == state).count()
}

/// Every file in `fixtures/public/{pbs,pbspro,torque}` parses, and what a user would check
/// holds.
#[test]
fn public_fixtures_all_parse() {
    for (dir, files) in PUBLIC {
        public_fixtures::assert_listed(dir, files);
        for file in *files {
            let text = public_fixtures::read(dir, file);
            if file.starts_with("qsub-replies") {
                // Blocks separated by one blank line, each a whole qsub stdout.
                let got: Vec<String> = text
                    .split("\n\n")
                    .filter(|b| !b.trim().is_empty())
                    .map(|b| {
                        PbsScheduler
                            .parse_submit(&CommandOutput::success(b))
                            .unwrap_or_else(|e| panic!("{file}: {e}"))
                            .to_string()
                    })
                    .collect();
                assert_eq!(
                    got,
                    [
                        "10.localhost",
                        "1584288.biocluster.igb.illinois.edu",
                        "654321.admin01",
                        "1.pbs"
                    ],
                    "{file}"
                );
                continue;
            }
            let jobs = PbsScheduler
                .parse_status(&CommandOutput::success(text))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            check_public(file, &jobs);
        }
    }
}

fn check_public(file: &str, jobs: &[JobStatus]) {
    let states: Vec<&JobState> = jobs.iter().map(|j| &j.state).collect();
    match file {
        "qstat-f__pysqa-gadi.txt" => {
            assert_eq!(
                states,
                [&JobState::Running, &JobState::Queued, &JobState::Queued],
                "{file}"
            );
            assert_eq!(jobs[0].id.as_str(), "80005196.gadi-pbs");
            assert_eq!(jobs[0].name.as_deref(), Some("test1"));
        }
        "qstat-f__aiida-pbspro.txt" => {
            assert_eq!(jobs.len(), 6, "{file}");
            assert_eq!(count(jobs, &JobState::Running), 2, "{file}");
            assert_eq!(count(jobs, &JobState::Held), 2, "{file}");
            assert_eq!(count(jobs, &JobState::Queued), 2, "{file}");
            let running: Vec<&str> = jobs
                .iter()
                .filter(|j| j.state == JobState::Running)
                .map(|j| j.id.as_str())
                .collect();
            assert_eq!(running, ["69301.mycluster", "74164.mycluster"], "{file}");
        }
        "qstat-f-unexpected-newlines__aiida-pbspro.txt" => {
            assert_eq!(jobs.len(), 10, "{file}");
            assert_eq!(count(jobs, &JobState::Running), 2, "{file}");
            assert_eq!(count(jobs, &JobState::Held), 1, "{file}");
            assert_eq!(count(jobs, &JobState::Queued), 5, "{file}");
            // The two C (Torque) jobs ended by SIGTERM (271) well inside their walltime: qdel.
            let done: Vec<&JobStatus> = jobs.iter().filter(|j| j.raw_state == "C").collect();
            assert_eq!(done.len(), 2, "{file}");
            for job in done {
                assert_eq!(
                    (job.exit_code, &job.state),
                    (Some(271), &JobState::Cancelled),
                    "{file}"
                );
            }
        }
        "qstat-f-F-json-x-finished-trimmed__psij.json" => {
            assert_eq!(jobs.len(), 1, "{file}");
            assert_eq!(jobs[0].id.as_str(), "2154.edtb-01.mcp.alcf.anl.gov");
            assert_eq!(jobs[0].state, JobState::Succeeded, "{file}");
        }
        "qstat-xf-F-json-running__swrap.json" => {
            assert_eq!(jobs.len(), 1, "{file}");
            assert_eq!(jobs[0].state, JobState::Running);
            assert_eq!(jobs[0].name.as_deref(), Some("swrap_01"));
            assert_eq!(jobs[0].node.as_deref(), Some("charon24"));
        }
        "qstat-F-json-f-x-running__firecrest.json" => {
            assert_eq!(jobs.len(), 1, "{file}");
            assert_eq!(jobs[0].id.as_str(), "1.pbs");
            assert_eq!(jobs[0].state, JobState::Running);
            assert_eq!(jobs[0].name.as_deref(), Some("hello_pbs"));
        }
        // A queue listing (`qstat -Q`) and a node listing (`pbsnodes -a`): JSON without a
        // `Jobs` key, which the job parser must read as no jobs rather than fail on.
        "qstat-F-json-f-Q__firecrest.json" | "pbsnodes-a-F-json__firecrest.json" => {
            assert!(jobs.is_empty(), "{file}");
        }
        "qstat-x-finished__batcheuphoria.xml" => {
            assert_eq!(jobs.len(), 1, "{file}");
            assert_eq!(jobs[0].state, JobState::Succeeded);
            assert_eq!(jobs[0].name.as_deref(), Some("ATestJob"));
            assert_eq!(jobs[0].node.as_deref(), Some("exec-host"));
        }
        "qstat-x-queued__batcheuphoria.xml" => {
            assert_eq!(states, [&JobState::Queued], "{file}");
        }
        other => panic!(
            "public fixture {other} parsed to {} jobs and has no expectations: add them",
            jobs.len()
        ),
    }
}
