//! The LSF adapter against its fixtures: hand-written ones in `fixtures/lsf/` (see SOURCES.md
//! there) and real outputs of other projects in `fixtures/public/lsf/` (see
//! `fixtures/public/SOURCES.md`), plus the exact command lines it builds.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

mod public_fixtures;

use xpr::command::{CommandOutput, CommandSpec};
use xpr::ids::SchedulerJobId;
use xpr::scheduler::lsf::{
    BJOBS_FIELDS, LsfScheduler, array_name, parse_bjobs, parse_bjobs_delimited, parse_bjobs_json,
};
use xpr::scheduler::{JobState, JobStatus, Scheduler, SchedulerKind, scheduler_for};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lsf")
        .join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn status_of(stdout: &str) -> Vec<JobStatus> {
    LsfScheduler
        .parse_status(&CommandOutput::success(stdout))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn expected(name: &str) -> JobState {
    match name.strip_prefix("expect_").unwrap_or(name) {
        "succeeded" => JobState::Succeeded,
        "timeout" => JobState::Timeout,
        "out_of_memory" => JobState::OutOfMemory,
        "cancelled" => JobState::Cancelled,
        "preempted" => JobState::Preempted,
        "node_fail" => JobState::NodeFail,
        "running" => JobState::Running,
        "queued" => JobState::Queued,
        "held" => JobState::Held,
        other => panic!("fixture job name {other:?} names no state"),
    }
}

fn assert_self_describing(file: &str, count: usize) -> Vec<JobStatus> {
    let jobs = status_of(&fixture(file));
    assert_eq!(jobs.len(), count, "{file}: number of jobs");
    for job in &jobs {
        let name = job.name.as_deref().expect("every fixture job has a name");
        if name == "expect_failed" {
            assert_eq!(
                job.state,
                JobState::Failed {
                    exit_code: job.exit_code
                },
                "{file}"
            );
            assert!(job.exit_code.is_some(), "{file}: job {}", job.id);
        } else {
            assert_eq!(job.state, expected(name), "{file}: job {}", job.id);
        }
    }
    jobs
}

/// Every time field of every record parses, and the `L`/`E` suffixes are kept.
fn assert_times_parse(file: &str, text: &str) -> usize {
    let mut suffixed = 0;
    for record in parse_bjobs(text).unwrap_or_else(|e| panic!("{file}: {e}")) {
        for field in ["SUBMIT_TIME", "START_TIME", "FINISH_TIME"] {
            let time = record.time(field).unwrap_or_else(|e| panic!("{file}: {e}"));
            if time.is_some_and(|t| t.is_estimate()) {
                suffixed += 1;
            }
        }
    }
    suffixed
}

#[test]
fn json_states() {
    let jobs = assert_self_describing("bjobs/json-states.txt", 12);
    assert_eq!(jobs[0].node.as_deref(), Some("c01n05"));
    assert_eq!(jobs[2].exit_code, Some(140));
    assert!(
        jobs[2]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("TERM_RUNLIMIT")
    );
    assert_eq!((jobs[5].exit_code, jobs[5].node.as_deref()), (None, None));
    assert_eq!(
        jobs[9].reason.as_deref(),
        Some("New job is waiting for scheduling")
    );
    assert_eq!(jobs[11].id.as_str(), "3012[2]");
    let text = fixture("bjobs/json-states.txt");
    assert_eq!(assert_times_parse("json-states", &text), 2);
    let records = parse_bjobs(&text).unwrap();
    let running = records[8].time("FINISH_TIME").unwrap().unwrap();
    assert_eq!(
        (running.month, running.day, running.hour, running.minute),
        (3, 4, 12, 9)
    );
    assert_eq!(running.qualifier, Some('L'));
    // RUN_TIME, MAX_MEM and LSF's own words on each end.
    assert_eq!(jobs[2].elapsed_secs, Some(3600));
    assert_eq!(jobs[2].peak_memory_kb, Some(4_299_162), "4.1 Gbytes");
    assert_eq!(
        jobs[2].scheduler_reason.as_deref(),
        Some("EXIT: TERM_RUNLIMIT: job killed after reaching LSF run time limit (exit code 140)")
    );
    assert_eq!(
        jobs[1].scheduler_reason.as_deref(),
        Some("EXIT, exit code 1")
    );
    assert_eq!(jobs[0].scheduler_reason.as_deref(), Some("DONE"));
    assert_eq!(jobs[0].peak_memory_kb, Some(2_411_725));
    assert_eq!(
        (jobs[5].elapsed_secs, jobs[5].peak_memory_kb),
        (None, None),
        "killed while pending"
    );
    assert_eq!(jobs[8].scheduler_reason, None, "still running");
    assert_eq!(jobs[8].elapsed_secs, Some(1200));
}

#[test]
fn delimited_with_header_matches_json() {
    let jobs = assert_self_describing("bjobs/delimited-header-states.txt", 6);
    let from_json = status_of(&fixture("bjobs/json-states.txt"));
    for job in &jobs {
        let twin = from_json.iter().find(|j| j.id == job.id).unwrap();
        assert_eq!(job, twin);
    }
    assert_eq!(
        assert_times_parse("delimited", &fixture("bjobs/delimited-header-states.txt")),
        1
    );
}

#[test]
fn several_json_documents_in_a_row() {
    let jobs = status_of(&fixture("bjobs/json-two-documents.txt"));
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["3001", "3010"]);
}

#[test]
fn not_found_is_absent_not_an_error() {
    let jobs = status_of(&fixture("bjobs/json-not-found-record.txt"));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Succeeded);
    let output = CommandOutput {
        code: Some(255),
        stdout: Vec::new(),
        stderr: b"Job <864220165> is not found\n".to_vec(),
    };
    assert!(LsfScheduler.parse_accounting(&output).unwrap().is_empty());
    let output = CommandOutput {
        code: Some(255),
        stdout: Vec::new(),
        stderr: b"No matching job found\n".to_vec(),
    };
    assert!(LsfScheduler.parse_find_by_name(&output).unwrap().is_empty());
}

#[test]
fn real_failures_are_errors() {
    let output = CommandOutput {
        code: Some(255),
        stdout: Vec::new(),
        stderr:
            b"LSF is down. Please wait ...\nbatch system daemon not responding ... still trying\n"
                .to_vec(),
    };
    let err = LsfScheduler.parse_status(&output).unwrap_err();
    assert_eq!(err.scheduler, SchedulerKind::Lsf);
    assert!(err.to_string().contains("LSF is down"), "{err}");

    let text = fixture("bjobs/json-states.txt");
    let err = LsfScheduler
        .parse_status(&CommandOutput::success(&text[..text.len() / 2]))
        .unwrap_err();
    assert!(err.to_string().contains("cut short"), "{err}");

    let bad_id =
        "{\"COMMAND\":\"bjobs\",\"JOBS\":1,\"RECORDS\":[{\"JOBID\":\"1;rm\",\"STAT\":\"RUN\"}]}";
    let err = LsfScheduler
        .parse_status(&CommandOutput::success(bad_id))
        .unwrap_err();
    assert!(err.to_string().contains("not an LSF job id"), "{err}");

    let short = "JOBID|STAT|EXIT_CODE\n12|RUN\n";
    assert!(
        LsfScheduler
            .parse_status(&CommandOutput::success(short))
            .is_err()
    );
}

#[test]
fn bsub_replies() {
    for (file, id) in [
        ("bsub/queue.txt", "4101"),
        ("bsub/default-queue.txt", "4102"),
        ("bsub/message-before-reply.txt", "4103"),
    ] {
        let got = LsfScheduler
            .parse_submit(&CommandOutput::success(fixture(file)))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.as_str(), id, "{file}");
    }
    let failed = CommandOutput {
        code: Some(255),
        stdout: Vec::new(),
        stderr: b"Bad argument for option -W. Job not submitted.\n".to_vec(),
    };
    let err = LsfScheduler.parse_submit(&failed).unwrap_err();
    assert!(
        err.to_string().contains("Bad argument for option -W"),
        "{err}"
    );
    for stdout in [
        "",
        "Job <x> is submitted to queue <q>.\n",
        "Job <12> submitted to <normal>.\n",
    ] {
        assert!(
            LsfScheduler
                .parse_submit(&CommandOutput::success(stdout))
                .is_err(),
            "{stdout:?}"
        );
    }
}

/// Array elements as `bjobs -o` prints them: the array's `JOBID` and the element's
/// `JOBINDEX`; each comes back as the element's own job `5001[i]`, named after its array.
#[test]
fn array_elements_are_jobs_of_their_own() {
    let jobs = status_of(&fixture("bjobs/json-array-elements.txt"));
    let got: Vec<(&str, Option<&str>, &JobState)> = jobs
        .iter()
        .map(|j| (j.id.as_str(), j.name.as_deref(), &j.state))
        .collect();
    let name = Some("array_6793a1c0_5f2e91ab");
    assert_eq!(
        got,
        [
            ("5001[1]", name, &JobState::Succeeded),
            ("5001[2]", name, &JobState::Failed { exit_code: Some(3) }),
            ("5001[3]", name, &JobState::Running),
            ("5001[4]", name, &JobState::Cancelled),
            ("5002", Some("plain"), &JobState::Queued),
        ]
    );
    assert_eq!(jobs[1].exit_code, Some(3));
    assert_eq!(jobs[2].node.as_deref(), Some("c01n06"));
    // The ids the adapter derives for the elements are the ones bjobs reports.
    let array = LsfScheduler.array_of(&jobs[0].id);
    assert_eq!(array.as_str(), "5001");
    for (i, job) in jobs[..4].iter().enumerate() {
        let index = LsfScheduler.arrays().unwrap().first_index + i as u32;
        assert_eq!(
            LsfScheduler.element_id(&array, index).as_ref(),
            Some(&job.id)
        );
    }
    // An id that already names its element keeps it (the hand-written `3012[2]` above).
    let text = r#"{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"3012[2]","JOBINDEX":"2","JOB_NAME":"a[2]","STAT":"RUN"}]}"#;
    assert_eq!(status_of(text)[0].id.as_str(), "3012[2]");
    let bad =
        r#"{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"3","JOBINDEX":"2;x","STAT":"RUN"}]}"#;
    assert!(
        LsfScheduler
            .parse_status(&CommandOutput::success(bad))
            .is_err()
    );
}

#[test]
fn array_names() {
    assert_eq!(array_name("sweep[7]"), "sweep");
    assert_eq!(array_name("a[b][12]"), "a[b]");
    assert_eq!(array_name("plain"), "plain");
    assert_eq!(array_name("odd[]"), "odd[]");
    assert_eq!(array_name("odd[x]"), "odd[x]");
}

#[test]
fn site_array_limit_from_bparams() {
    let limit = |out: &CommandOutput| LsfScheduler.parse_site_array_limit(out);
    assert_eq!(
        limit(&CommandOutput::success(fixture("bparams/bparams-a.txt"))),
        Some(1000)
    );
    assert_eq!(limit(&CommandOutput::success("MAX_JOB_NUM = 10\n")), None);
    let failed = CommandOutput {
        code: Some(255),
        stdout: Vec::new(),
        stderr: b"LSF is down; try later\n".to_vec(),
    };
    assert_eq!(limit(&failed), None);
}

#[test]
fn array_command_lines() {
    let lsf = scheduler_for(SchedulerKind::Lsf);
    let syntax = lsf.arrays().expect("LSF has arrays");
    assert_eq!(syntax.index_var, "LSB_JOBINDEX");
    assert_eq!((syntax.first_index, syntax.default_limit), (1, 1000));
    assert_eq!(lsf.array_default_header(), lsf.default_header());
    let spec = lsf
        .submit_array("/scratch/grp 1", "xpr_group.sh", "array_1", 12)
        .unwrap();
    assert_eq!(
        spec.to_string(),
        "cd '/scratch/grp 1' && sh -c 'exec bsub -J \"$2\" < \"$1\"' sh xpr_group.sh 'array_1[1-12]'"
    );
    let id = |s: &str| SchedulerJobId::new(s);
    assert_eq!(lsf.element_id(&id("77"), 3), Some(id("77[3]")));
    assert_eq!(lsf.array_of(&id("77[3]")), id("77"));
    assert_eq!(lsf.array_of(&id("77")), id("77"));
    assert_eq!(lsf.site_array_limit().unwrap().to_string(), "bparams -a");
}

#[test]
fn array_submit_names_the_array_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("xpr_group.sh"),
        "#BSUB -J array_1\necho hi\n",
    )
    .unwrap();
    let spec = LsfScheduler
        .submit_array(&dir.path().to_string_lossy(), "xpr_group.sh", "array_1", 5)
        .unwrap();
    // The fake bsub reports its arguments and the first line it read on stdin.
    let fake = "#!/bin/sh\necho \"args: $*\" >&2\nhead -1 >&2\n\
        echo 'Job <78> is submitted to default queue <normal>.'\n";
    let out = run_with_fake(&spec, "bsub", fake, dir.path());
    assert_eq!(
        out.stderr_text(),
        "args: -J array_1[1-5]\n#BSUB -J array_1\n"
    );
    assert_eq!(LsfScheduler.parse_submit(&out).unwrap().as_str(), "78");
}

fn ids(list: &[&str]) -> Vec<SchedulerJobId> {
    list.iter().map(|s| SchedulerJobId::new(*s)).collect()
}

#[test]
fn command_lines() {
    let lsf = scheduler_for(SchedulerKind::Lsf);
    assert_eq!(lsf.kind(), SchedulerKind::Lsf);
    assert_eq!(
        lsf.default_header(),
        [
            "#BSUB -J {job_name}",
            "#BSUB -q {partition}",
            "#BSUB -W {max_time_minutes}",
            "#BSUB -n {num_cores}",
            "#BSUB -o job.{id}.stdout",
            "#BSUB -e job.{id}.stderr",
        ]
    );
    assert_eq!(
        lsf.submit("/scratch/run 1", "job.script.lsf").to_string(),
        "cd '/scratch/run 1' && sh -c 'exec bsub < \"$1\"' sh job.script.lsf"
    );
    let two = ids(&["12", "13[2]"]);
    assert_eq!(
        lsf.status(&two).to_string(),
        format!("bjobs -a -json -o '{BJOBS_FIELDS}' 12 '13[2]'")
    );
    assert_eq!(lsf.accounting(&two), lsf.status(&two));
    assert_eq!(lsf.cancel(&two).to_string(), "bkill 12 '13[2]'");
    assert_eq!(lsf.hold(&two).to_string(), "bstop 12 '13[2]'");
    assert_eq!(lsf.release(&two).to_string(), "bresume 12 '13[2]'");
    let find = lsf.find_by_name(&["a b".to_owned()]);
    assert_eq!(find.program, "sh");
    assert_eq!(find.args[2..], [BJOBS_FIELDS, "a b"]);
}

#[test]
fn empty_lists_do_nothing() {
    let none: Vec<SchedulerJobId> = Vec::new();
    for cmd in [
        LsfScheduler.status(&none),
        LsfScheduler.accounting(&none),
        LsfScheduler.cancel(&none),
        LsfScheduler.hold(&none),
        LsfScheduler.release(&none),
        LsfScheduler.find_by_name(&[]),
    ] {
        assert_eq!(cmd, CommandSpec::new("true"));
    }
}

/// Runs `spec` with a fake program `name` (a shell script) first on PATH, in `cwd`.
fn run_with_fake(spec: &CommandSpec, name: &str, body: &str, cwd: &Path) -> CommandOutput {
    let bin = tempfile::tempdir().unwrap();
    let path = bin.path().join(name);
    fs::write(&path, body).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let search = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(&spec.program)
        .args(&spec.args)
        .env("PATH", search)
        .current_dir(cwd)
        .output()
        .unwrap();
    CommandOutput {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

#[test]
fn submit_feeds_the_script_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("it's a job.sh"), "#BSUB -J x\necho hi\n").unwrap();
    let spec = LsfScheduler.submit(&dir.path().to_string_lossy(), "it's a job.sh");
    // The fake bsub reports what it read on stdin, and replies like LSF.
    let fake = "#!/bin/sh\nhead -1 >&2\necho 'Job <77> is submitted to default queue <normal>.'\n";
    let out = run_with_fake(&spec, "bsub", fake, dir.path());
    assert_eq!(out.stderr_text(), "#BSUB -J x\n");
    assert_eq!(LsfScheduler.parse_submit(&out).unwrap().as_str(), "77");
}

#[test]
fn find_by_name_runs_bjobs_once_per_name() {
    let dir = tempfile::tempdir().unwrap();
    let spec = LsfScheduler.find_by_name(&["N_a b".to_owned(), "N_c".to_owned()]);
    let fake = "#!/bin/sh\n\
        [ \"$1 $2 $3 $4\" = \"-a -json -o $BJOBS_FIELDS_EXPECTED\" ] || { echo \"bad args: $*\" >&2; exit 3; }\n\
        case \"$6\" in\n\
        'N_a b') printf '{\"COMMAND\":\"bjobs\",\"JOBS\":1,\"RECORDS\":[{\"JOBID\":\"5\",\"JOB_NAME\":\"N_a b\",\"STAT\":\"RUN\"}]}\\n';;\n\
        *) echo \"Job <$6> is not found\" >&2; exit 255;;\n\
        esac\n";
    let fake = fake.replace("$BJOBS_FIELDS_EXPECTED", BJOBS_FIELDS);
    let out = run_with_fake(&spec, "bjobs", &fake, dir.path());
    let jobs = LsfScheduler.parse_find_by_name(&out).unwrap();
    assert_eq!(jobs.len(), 1, "{}", out.stderr_text());
    assert_eq!(
        (jobs[0].id.as_str(), jobs[0].name.as_deref()),
        ("5", Some("N_a b"))
    );
}

/// Every public LSF output; each has its expectations in `public_fixtures_all_parse`.
const PUBLIC: &[&str] = &[
    "bjobs-json-extended-empty__batcheuphoria.json",
    "bjobs-json-extended__batcheuphoria.json",
    "bjobs-json-fragment__balsam.txt",
    "bjobs-json-state__batcheuphoria.json",
    "bjobs-o-delimited__aiida.txt",
    "bjobs-stderr-not-found__aiida.txt",
    "bjobs__pysqa.txt",
    "bkill-reply__aiida.txt",
    "bsub-replies__multi.txt",
];

/// The field list of aiida-core's `bjobs -noheader -o '...'` (its sample has no header line).
const AIIDA_FIELDS: &[&str] = &[
    "id",
    "stat",
    "exit_reason",
    "exec_host",
    "user",
    "slots",
    "max_req_proc",
    "exec_host",
    "queue",
    "finish_time",
    "start_time",
    "%complete",
    "submit_time",
    "name",
];

/// Every file in `fixtures/public/lsf/` is read by the parser that fits it, or checked to be
/// refused by it with the reason.
#[test]
fn public_fixtures_all_parse() {
    public_fixtures::assert_listed("lsf", PUBLIC);
    for &file in PUBLIC {
        let text = public_fixtures::read("lsf", file);
        match file {
            "bjobs-json-extended__batcheuphoria.json" | "bjobs-json-state__batcheuphoria.json" => {
                let jobs = status_of(&text);
                assert_eq!(jobs.len(), 1, "{file}");
                assert_eq!(jobs[0].id.as_str(), "22005");
                assert_eq!(jobs[0].name.as_deref(), Some("ls -l"));
                assert_eq!(jobs[0].state, JobState::Succeeded, "{file}");
                let finish = parse_bjobs_json(&text).unwrap()[0]
                    .time("FINISH_TIME")
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    (finish.month, finish.day, finish.qualifier),
                    (12, 28, Some('L')),
                    "{file}"
                );
                if file.contains("extended") {
                    assert_eq!(jobs[0].node.as_deref(), Some("exec-host"));
                    // `RUN_TIME` as `HH:MM:SS` here, `MAX_MEM` with a unit.
                    assert_eq!(jobs[0].elapsed_secs, Some(1));
                    assert_eq!(jobs[0].peak_memory_kb, Some(5_452_596));
                }
            }
            "bjobs-json-extended-empty__batcheuphoria.json" => {
                // Only JOBID: a job whose state bjobs did not give is unknown, not finished.
                let jobs = status_of(&text);
                assert_eq!(jobs[0].id.as_str(), "22005");
                assert_eq!(jobs[0].state, JobState::Unknown { raw: String::new() });
                assert!(!jobs[0].state.is_final());
            }
            "bjobs-json-fragment__balsam.txt" => {
                // A truncated reply: an error, never "no jobs".
                let err = LsfScheduler
                    .parse_status(&CommandOutput::success(text))
                    .unwrap_err();
                assert!(err.to_string().contains("cut short"), "{file}: {err}");
            }
            "bjobs-o-delimited__aiida.txt" => {
                let records = parse_bjobs_delimited(&text, AIIDA_FIELDS, '|').unwrap();
                let jobs: Vec<JobStatus> = records.iter().map(|r| r.status().unwrap()).collect();
                let states: Vec<&str> = jobs.iter().map(|j| j.raw_state.as_str()).collect();
                assert_eq!(
                    states,
                    ["EXIT", "PEND", "PEND", "RUN", "RUN", "RUN", "DONE"],
                    "{file}"
                );
                assert_eq!(jobs[0].state, JobState::Timeout, "{file}");
                assert_eq!(jobs[6].id.as_str(), "764399747", "{file}: leading space");
                assert_eq!(jobs[6].state, JobState::Succeeded);
                assert_eq!(jobs[3].node.as_deref(), Some("lxbsu2710"));
                let mut suffixed = 0;
                for record in &records {
                    for field in ["SUBMIT_TIME", "START_TIME", "FINISH_TIME"] {
                        let t = record.time(field).unwrap_or_else(|e| panic!("{file}: {e}"));
                        suffixed += usize::from(t.is_some_and(|t| t.is_estimate()));
                    }
                }
                assert_eq!(suffixed, 4, "{file}: times with an L suffix");
            }
            "bjobs-stderr-not-found__aiida.txt" => {
                let output = CommandOutput {
                    code: Some(255),
                    stdout: Vec::new(),
                    stderr: text.into_bytes(),
                };
                assert!(
                    LsfScheduler.parse_status(&output).unwrap().is_empty(),
                    "{file}"
                );
            }
            "bsub-replies__multi.txt" => {
                let got: Vec<String> = text
                    .split("\n\n")
                    .filter(|b| !b.trim().is_empty())
                    .map(|b| {
                        LsfScheduler
                            .parse_submit(&CommandOutput::success(b))
                            .unwrap()
                            .to_string()
                    })
                    .collect();
                assert_eq!(got, ["2329803", "654321", "764254593"], "{file}");
            }
            // Not for any parser the adapter needs, and refused loudly if fed to one:
            // - the default `bjobs` table: fixed-width, truncated (`1*launch_ho`), wrapped
            //   EXEC_HOST lines; xpr always asks for -json;
            "bjobs__pysqa.txt" => {
                assert!(
                    LsfScheduler
                        .parse_status(&CommandOutput::success(text))
                        .is_err()
                );
            }
            // - a `bkill` reply: the adapter builds cancel commands but does not parse replies.
            "bkill-reply__aiida.txt" => {
                assert!(text.starts_with("Job <764254593> is being terminated"));
            }
            other => panic!("public fixture lsf/{other} has no expectation; add one"),
        }
    }
}
