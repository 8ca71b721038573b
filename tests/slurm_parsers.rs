//! The Slurm adapter's commands and parsers, against real outputs: the project's own fixtures
//! in `fixtures/slurm/` (captured on the test bed by `tests/testbed/capture/slurm.sh`, copied
//! from public repositories, or hand-written in the shape of real replies; see
//! `fixtures/slurm/SOURCES.md`), and the public outputs of other projects in
//! `fixtures/public/slurm/` (see `fixtures/public/SOURCES.md`), one test per file.
//!
//! Fixture files: `fixtures/slurm/<command>/<case>.txt` is the command's stdout;
//! `<case>.stderr` its stderr and `<case>.exit` its exit code, when present (absent: empty
//! stderr, exit 0). A case whose name starts with `reject-` must fail to parse.

use std::path::{Path, PathBuf};

mod public_fixtures;

use xpr::command::CommandOutput;
use xpr::ids::SchedulerJobId;
use xpr::scheduler::slurm::{
    Field, SlurmScheduler, TableLayout, is_valid_job_id, map_state, merge_accounting,
    parse_sacct_json, parse_scontrol_show_job, parse_table,
};
use xpr::scheduler::{JobState, JobStatus, Scheduler};

const S: SlurmScheduler = SlurmScheduler;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/slurm")
}

/// The output stored as `fixtures/slurm/<case>.{txt,stderr,exit}`.
fn load(case: &str) -> CommandOutput {
    let base = fixtures_dir().join(case);
    let read = |ext: &str| std::fs::read(base.with_extension(ext));
    let stdout = read("txt").unwrap_or_else(|e| panic!("fixture {case}.txt: {e}"));
    let stderr = read("stderr").unwrap_or_default();
    let code = match std::fs::read_to_string(base.with_extension("exit")) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("fixture {case}.exit: {e}")),
        Err(_) => 0,
    };
    CommandOutput {
        code: Some(code),
        stdout,
        stderr,
    }
}

fn by_id<'a>(statuses: &'a [JobStatus], id: &str) -> &'a JobStatus {
    statuses
        .iter()
        .find(|s| s.id.as_str() == id)
        .unwrap_or_else(|| panic!("no job {id} in {statuses:#?}"))
}

fn ids(list: &[&str]) -> Vec<SchedulerJobId> {
    list.iter().map(|s| SchedulerJobId::new(*s)).collect()
}

/// Parses a fixture with the parser its command directory names.
fn parse_fixture(command: &str, output: &CommandOutput) -> Result<Vec<JobStatus>, String> {
    let result = match command {
        "sbatch" => S
            .parse_submit(output)
            .map(|id| vec![JobStatus::new(id, JobState::Queued)]),
        "squeue" => S.parse_status(output),
        "sacct" => S.parse_accounting(output),
        "find_by_name" => S.parse_find_by_name(output),
        other => panic!("fixture directory {other} has no parser"),
    };
    result.map_err(|e| e.to_string())
}

// ------------------------------------------------------------------ every fixture file

#[test]
fn every_fixture_parses_or_is_rejected() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for command in ["sbatch", "squeue", "sacct", "find_by_name"] {
        let dir = fixtures_dir().join(command);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for file in files {
            let case = file.file_stem().unwrap().to_str().unwrap().to_owned();
            let output = load(&format!("{command}/{case}"));
            let result = parse_fixture(command, &output);
            checked += 1;
            match (case.starts_with("reject-"), result) {
                (false, Err(e)) => failures.push(format!("{command}/{case}: {e}")),
                (true, Ok(s)) => failures.push(format!("{command}/{case}: accepted {s:?}")),
                (false, Ok(statuses)) => {
                    for s in statuses {
                        let bad_name = s
                            .name
                            .as_deref()
                            .is_some_and(|n| n.contains(char::is_control));
                        if !is_valid_job_id(s.id.as_str()) || bad_name {
                            failures.push(format!("{command}/{case}: invalid record {s:?}"));
                        }
                    }
                }
                (true, Err(_)) => {}
            }
        }
    }
    assert!(checked >= 20, "only {checked} fixture files found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------ commands

#[test]
fn command_lines() {
    assert_eq!(
        S.submit("/scratch/run 1", "job.script.slurm").to_string(),
        "cd '/scratch/run 1' && sbatch --parsable job.script.slurm"
    );
    assert_eq!(
        S.submit_array("/scratch/run 1", "xpr_group.sh", "array_x", 250)
            .unwrap()
            .to_string(),
        "cd '/scratch/run 1' && sbatch --parsable --array=0-249 xpr_group.sh"
    );
    assert_eq!(
        S.element_id(&SchedulerJobId::new("77"), 5)
            .unwrap()
            .as_str(),
        "77_5"
    );
    for listed in ["77_5", "77_[0-249]", "77"] {
        assert_eq!(S.array_of(&SchedulerJobId::new(listed)).as_str(), "77");
    }
    let config = |text: &str| CommandOutput {
        code: Some(0),
        stdout: text.as_bytes().to_vec(),
        stderr: Vec::new(),
    };
    assert_eq!(
        S.parse_site_array_limit(&config(
            "MaxArraySize            = 101\nMaxJobCount = 30000\n"
        )),
        Some(101)
    );
    assert_eq!(
        S.parse_site_array_limit(&config("MaxJobCount = 30000\n")),
        None
    );
    let two = ids(&["12", "13_4"]);
    assert_eq!(
        S.status(&two).to_string(),
        "squeue --noheader --array --states=all --jobs=12,13_4 '--format=%i|%T|%r|%N|%j'"
    );
    assert_eq!(
        S.accounting(&two).to_string(),
        "sacct --noheader --parsable2 --jobs=12,13_4 \
         --format=JobID,State,ExitCode,NodeList,ElapsedRaw,MaxRSS,Reason,JobName"
    );
    assert_eq!(S.cancel(&two).to_string(), "scancel 12 13_4");
    assert_eq!(S.hold(&two).to_string(), "scontrol hold 12 13_4");
    assert_eq!(S.release(&two).to_string(), "scontrol release 12 13_4");
    let find = S.find_by_name(&["a b".to_owned(), "c;$(x)".to_owned()]);
    assert_eq!(find.program, "sh");
    assert_eq!(find.args[0], "-c");
    // The script is a constant; the names travel as one positional argument.
    assert!(!find.args[1].to_str().unwrap().contains("a b"));
    assert_eq!(find.args[3], "a b,c;$(x)");
}

#[test]
fn empty_lists_never_query_everything() {
    for cmd in [
        S.status(&[]),
        S.accounting(&[]),
        S.cancel(&[]),
        S.hold(&[]),
        S.release(&[]),
    ] {
        assert_eq!(cmd.to_string(), "true");
    }
    assert!(
        S.parse_status(&CommandOutput::success(""))
            .unwrap()
            .is_empty()
    );
    assert!(
        S.parse_accounting(&CommandOutput::success(""))
            .unwrap()
            .is_empty()
    );
    // find_by_name of nothing prints just the marker, which parses as no jobs.
    let find = S.find_by_name(&[]);
    assert_eq!(find.program, "printf");
    let marker = find.args[1].to_str().unwrap();
    assert!(
        S.parse_find_by_name(&CommandOutput::success(format!("{marker}\n")))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn default_header_is_expyres() {
    assert_eq!(
        S.default_header(),
        [
            "#SBATCH --job-name={job_name}",
            "#SBATCH --partition={partition}",
            "#SBATCH --time={max_time}",
            "#SBATCH --output=job.{id}.stdout",
            "#SBATCH --error=job.{id}.stderr",
        ]
    );
}

// ------------------------------------------------------------------ sbatch

#[test]
fn sbatch_on_cluster() {
    assert_eq!(
        S.parse_submit(&load("sbatch/hand-submitted-on-cluster"))
            .unwrap()
            .as_str(),
        "123"
    );
    let public = load("sbatch/public-on-cluster__nextflow");
    assert_eq!(S.parse_submit(&public).unwrap().as_str(), "630114");
}

#[test]
fn sbatch_parsable_with_cluster() {
    assert_eq!(
        S.parse_submit(&load("sbatch/hand-parsable-cluster"))
            .unwrap()
            .as_str(),
        "123"
    );
    let public = load("sbatch/public-parsable-cluster__dask-jobqueue");
    assert_eq!(S.parse_submit(&public).unwrap().as_str(), "654321");
}

#[test]
fn sbatch_warnings_and_banners_are_skipped() {
    assert_eq!(
        S.parse_submit(&load("sbatch/hand-parsable-warning"))
            .unwrap()
            .as_str(),
        "4242"
    );
    assert_eq!(
        S.parse_submit(&load("sbatch/hand-banner-then-reply"))
            .unwrap()
            .as_str(),
        "5610208"
    );
}

#[test]
fn sbatch_rejections_show_the_text() {
    let e = S
        .parse_submit(&load("sbatch/reject-hand-not-an-id"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Submitted batch job 12a"), "{e}");
    let e = S
        .parse_submit(&load("sbatch/reject-hand-error-exit1"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("exited with code 1") && e.contains("Invalid partition name"),
        "{e}"
    );
    let e = S
        .parse_submit(&load("sbatch/reject-hand-two-ids"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 lines"), "{e}");
    assert!(S.parse_submit(&CommandOutput::success("")).is_err());
}

// ------------------------------------------------------------------ squeue

#[test]
fn squeue_purged_single_id_is_no_jobs() {
    let out = load("squeue/hand-purged-single-id");
    assert_eq!(out.code, Some(1));
    assert!(S.parse_status(&out).unwrap().is_empty());
}

#[test]
fn squeue_other_failures_are_errors() {
    let e = S
        .parse_status(&load("squeue/reject-hand-controller-down"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Unable to contact slurm controller"), "{e}");
}

#[test]
fn squeue_array_ids_and_null_nodes() {
    let s = S.parse_status(&load("squeue/hand-arrays")).unwrap();
    assert_eq!(s.len(), 4);
    let range = by_id(&s, "2_[0-4]");
    assert_eq!(
        (range.state.clone(), range.node.clone()),
        (JobState::Queued, None)
    );
    assert_eq!(range.reason.as_deref(), Some("JobArrayTaskLimit"));
    let throttled = by_id(&s, "20956421_[2-4%25]");
    assert_eq!(
        (throttled.state.clone(), throttled.node.clone()),
        (JobState::Queued, None)
    );
    let running = by_id(&s, "20956421_0");
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.node.as_deref(), Some("nid00099"));
    assert_eq!(
        by_id(&s, "20956421_1").state,
        JobState::Running,
        "COMPLETING is still running"
    );
}

#[test]
fn squeue_held_and_other_states() {
    let s = S.parse_status(&load("squeue/hand-mixed-states")).unwrap();
    assert_eq!(by_id(&s, "101").state, JobState::Queued);
    assert_eq!(by_id(&s, "102").state, JobState::Held);
    assert_eq!(by_id(&s, "103").state, JobState::Held);
    assert_eq!(by_id(&s, "104").name.as_deref(), Some("name|with|pipes"));
    assert_eq!(
        by_id(&s, "104").reason,
        None,
        "Slurm's `None` reason is no reason"
    );
    assert_eq!(by_id(&s, "105").state, JobState::Succeeded);
    assert_eq!(by_id(&s, "106").state, JobState::Running);
    assert_eq!(by_id(&s, "107").state, JobState::Cancelled);
    assert_eq!(by_id(&s, "108").state, JobState::Queued);
}

#[test]
fn squeue_untrusted_values_are_rejected() {
    let e = S
        .parse_status(&load("squeue/reject-hand-control-char"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("control character"),
        "{e}"
    );
    let e = S
        .parse_status(&load("squeue/reject-hand-bad-id"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a Slurm job id"), "{e}");
}

// ------------------------------------------------------------------ sacct

#[test]
fn sacct_cancelled_by_uid() {
    let s = S
        .parse_accounting(&load("sacct/hand-cancelled-by-uid"))
        .unwrap();
    assert_eq!(s.len(), 2, "steps are folded into their job");
    for id in ["301", "302"] {
        assert_eq!(by_id(&s, id).state, JobState::Cancelled);
        assert_eq!(by_id(&s, id).raw_state, "CANCELLED");
    }
    assert_eq!(by_id(&s, "301").node, None);
    assert_eq!(by_id(&s, "302").exit_code, Some(143));
    // The user who cancelled it stays in Slurm's own words; memory is the largest step's.
    let running = by_id(&s, "302");
    assert_eq!(
        running.scheduler_reason.as_deref(),
        Some("CANCELLED by 1001, exit code 0:15")
    );
    assert_eq!(running.elapsed_secs, Some(47));
    assert_eq!(running.peak_memory_kb, Some(3340));
    assert_eq!(by_id(&s, "301").peak_memory_kb, None);
}

#[test]
fn sacct_requeued_then_final_last_wins() {
    let s = S
        .parse_accounting(&load("sacct/hand-requeued-twice"))
        .unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].state, JobState::Timeout);
    assert_eq!(s[0].node.as_deref(), Some("node2"));
    // The last run's figures, not the first's.
    assert_eq!(s[0].elapsed_secs, Some(912));
    assert_eq!(s[0].peak_memory_kb, Some(63_176));
    assert_eq!(
        s[0].scheduler_reason.as_deref(),
        Some("TIMEOUT, reason JobHeldUser")
    );
}

#[test]
fn sacct_out_of_memory_variants() {
    let s = S
        .parse_accounting(&load("sacct/hand-out-of-memory"))
        .unwrap();
    assert_eq!(s.len(), 4);
    for id in ["501", "502", "503", "504"] {
        assert_eq!(by_id(&s, id).state, JobState::OutOfMemory, "job {id}");
    }
    assert_eq!(
        by_id(&s, "502").exit_code,
        Some(0),
        "OUT_OF_MEMORY with exit code 0"
    );
    assert_eq!(by_id(&s, "504").exit_code, Some(1));
    // Peak memory: the largest step (3.91G of step 0, not the batch step's 5 MB).
    assert_eq!(by_id(&s, "503").peak_memory_kb, Some(4_099_933));
    assert_eq!(by_id(&s, "501").peak_memory_kb, Some(2_097_152));
    assert_eq!(by_id(&s, "502").peak_memory_kb, None);
    // An OOM only a step recorded is named in Slurm's words.
    assert_eq!(
        by_id(&s, "503").scheduler_reason.as_deref(),
        Some("COMPLETED, step 0 OUT_OF_MEMORY")
    );
    assert_eq!(
        by_id(&s, "504").scheduler_reason.as_deref(),
        Some("FAILED, exit code 1:0, step batch OUT_OF_MEMORY")
    );
}

#[test]
fn sacct_every_final_state() {
    let s = S
        .parse_accounting(&load("sacct/hand-final-states"))
        .unwrap();
    let state = |id: &str| by_id(&s, id).state.clone();
    assert_eq!(state("601"), JobState::Succeeded);
    assert_eq!(state("602"), JobState::Failed { exit_code: Some(3) });
    assert_eq!(
        state("603"),
        JobState::Failed {
            exit_code: Some(137)
        }
    );
    assert_eq!(state("604"), JobState::Timeout);
    assert_eq!(state("605"), JobState::NodeFail);
    assert_eq!(by_id(&s, "605").node.as_deref(), Some("node3"));
    assert_eq!(state("606"), JobState::Preempted);
    assert_eq!(state("607"), JobState::NodeFail);
    assert_eq!(state("608"), JobState::Timeout);
    assert_eq!(state("609"), JobState::Cancelled);
    assert_eq!(state("610"), JobState::Queued);
    assert_eq!(
        by_id(&s, "610").exit_code,
        None,
        "no exit code before the end"
    );
    assert_eq!(state("611"), JobState::Running);
    assert_eq!(state("612"), JobState::Held);
    assert_eq!(state("613"), JobState::Held);
    assert_eq!(by_id(&s, "614").name.as_deref(), Some("name|with|pipes"));
    assert_eq!(state("615_3"), JobState::Succeeded);
    assert_eq!(state("615_[4-9%2]"), JobState::Queued);
    assert!(
        s.iter()
            .all(|st| st.state.is_final() == st.exit_code.is_some())
    );
    // Slurm's words on each end, only once it is final.
    let said = |id: &str| by_id(&s, id).scheduler_reason.clone();
    assert_eq!(said("601").as_deref(), Some("COMPLETED"));
    assert_eq!(said("602").as_deref(), Some("FAILED, exit code 3:0"));
    assert_eq!(said("603").as_deref(), Some("FAILED, exit code 0:9"));
    assert_eq!(said("604").as_deref(), Some("TIMEOUT"));
    assert_eq!(said("610"), None);
    assert_eq!(by_id(&s, "610").reason.as_deref(), Some("Resources"));
    assert_eq!(said("611"), None);
    assert_eq!(by_id(&s, "606").elapsed_secs, Some(86_401));
    assert_eq!(by_id(&s, "602").peak_memory_kb, Some(1204));
}

#[test]
fn sacct_malformed_rows_are_errors() {
    let e = S
        .parse_accounting(&load("sacct/reject-hand-missing-column"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected 8 fields, found 7"), "{e}");
    let e = S
        .parse_accounting(&load("sacct/reject-hand-bad-exit"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"zero\""), "{e}");
    let e = S
        .parse_accounting(&load("sacct/reject-hand-bad-max-rss"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2: memory \"lots\""), "{e}");
    let e = S
        .parse_accounting(&load("sacct/reject-hand-bad-elapsed"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("run time \"five\""), "{e}");
}

// ------------------------------------------------------------------ find by name

#[test]
fn find_by_name_merges_squeue_and_sacct() {
    let s = S
        .parse_find_by_name(&load("find_by_name/hand-squeue-and-sacct"))
        .unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(by_id(&s, "801").state, JobState::Running);
    // Final in sacct: sacct's record (with its exit code) wins over squeue's.
    assert_eq!(by_id(&s, "802").exit_code, Some(0));
    // Only in accounting (purged from the controller).
    assert_eq!(
        by_id(&s, "790").state,
        JobState::Failed { exit_code: Some(2) }
    );
    assert!(s.iter().all(|st| st.name.is_some()));
    assert!(
        S.parse_find_by_name(&load("find_by_name/hand-none"))
            .unwrap()
            .is_empty()
    );
    let e = S
        .parse_find_by_name(&load("find_by_name/reject-hand-no-marker"))
        .unwrap_err();
    assert!(e.to_string().contains("squeue did not finish"), "{e}");
}

// ------------------------------------------------------------------ public reference fixtures

fn public(name: &str) -> String {
    public_fixtures::read("slurm", name)
}

/// Every public Slurm fixture and what reads it; a new file must be added here.
const PUBLIC: &[(&str, &str)] = &[
    (
        "sacct-json-requeued__batcheuphoria.json",
        "parse_sacct_json",
    ),
    ("sacct-json__batcheuphoria.json", "parse_sacct_json"),
    (
        "sacct-n-P-JobIDRaw-State-ExitCode__toil.txt",
        "parse_table + merge_accounting",
    ),
    (
        "sacct-p-node-fail__aiida.txt",
        "parse_table (header, no id column)",
    ),
    (
        "sacct-p-out-of-memory__aiida.txt",
        "parse_table (header, no id column)",
    ),
    (
        "sacct-parsable2-array-list__submitit.txt",
        "parse_table + merge_accounting",
    ),
    (
        "sacct-parsable2-array-ranges__submitit.txt",
        "parse_table + merge_accounting",
    ),
    (
        "sacct-parsable2-noheader__firecrest.txt",
        "parse_table + merge_accounting",
    ),
    ("sbatch-replies__multi.txt", "parse_submit"),
    ("scontrol-show-job-all__toil.txt", "parse_scontrol_show_job"),
    (
        "scontrol-show-job-completed__toil.txt",
        "parse_scontrol_show_job",
    ),
    (
        "scontrol-show-job-pending__toil.txt",
        "parse_scontrol_show_job",
    ),
    (
        "scontrol-show-job-running__toil.txt",
        "parse_scontrol_show_job",
    ),
    (
        "scontrol-show-job__batcheuphoria.txt",
        "parse_scontrol_show_job",
    ),
    (
        "scontrol-show-o-job__firecrest.txt",
        "parse_scontrol_show_job",
    ),
    // A partition listing, not a job reply: the adapter does not read partitions (they come
    // from the config), but their time limits are in the units config.json takes.
    (
        "sinfo-partitions__toil.txt",
        "parse_time (TIMELIMIT column)",
    ),
    ("squeue-Format-pipe__firecrest.txt", "parse_table"),
    ("squeue-custom-pipe__pysqa.txt", "parse_table"),
    ("squeue-o-caret-delimited__aiida.txt", "parse_table"),
];

#[test]
fn public_every_file_has_a_parser() {
    let listed: Vec<&str> = PUBLIC.iter().map(|(f, _)| *f).collect();
    public_fixtures::assert_listed("slurm", &listed);
    // And a test here reads each one (PUBLIC names it once, the test a second time).
    let source = include_str!("slurm_parsers.rs");
    for file in listed {
        assert!(
            source.matches(&format!("\"{file}\"")).count() >= 2,
            "public fixture slurm/{file} has no test"
        );
    }
}

fn sacct_statuses(text: &str, layout: &TableLayout) -> Vec<JobStatus> {
    merge_accounting(
        parse_table(text, layout, "sacct output").unwrap(),
        "sacct output",
    )
    .unwrap()
}

#[test]
fn public_sacct_toil() {
    let text = public("sacct-n-P-JobIDRaw-State-ExitCode__toil.txt");
    let layout = TableLayout::new("|", [Field::JobId, Field::State, Field::ExitCode]);
    let s = sacct_statuses(&text, &layout);
    assert_eq!(s.len(), 9);
    assert_eq!(
        by_id(&s, "609663").state,
        JobState::Failed {
            exit_code: Some(130)
        }
    );
    assert_eq!(by_id(&s, "754725").state, JobState::Timeout);
    // The job row says FAILED 0:9; its step `CANCELLED by 54386` does not change that.
    assert_eq!(
        by_id(&s, "765096").state,
        JobState::Failed {
            exit_code: Some(137)
        }
    );
    assert_eq!(
        by_id(&s, "767925").state,
        JobState::Failed { exit_code: Some(2) }
    );
    assert_eq!(
        by_id(&s, "785023").state,
        JobState::Failed {
            exit_code: Some(127)
        }
    );
    assert_eq!(
        by_id(&s, "789456").state,
        JobState::Failed { exit_code: Some(1) }
    );
    assert_eq!(by_id(&s, "789724").state, JobState::Running);
    assert_eq!(by_id(&s, "789868").state, JobState::Queued);
    assert_eq!(by_id(&s, "789869").state, JobState::Succeeded);
}

#[test]
fn public_sacct_aiida_state_only() {
    for (file, expected) in [
        ("sacct-p-node-fail__aiida.txt", JobState::NodeFail),
        ("sacct-p-out-of-memory__aiida.txt", JobState::OutOfMemory),
    ] {
        let text = public(file);
        let (header, rows) = text.split_once('\n').unwrap();
        let layout = TableLayout::from_sacct_header(header, "|");
        let records = parse_table(rows, &layout, "sacct output").unwrap();
        assert_eq!(records.len(), 1, "{file}");
        let raw = records[0].state.as_deref().unwrap();
        assert_eq!(map_state(raw, None, None), expected, "{file}");
    }
}

#[test]
fn public_sacct_submitit_arrays() {
    let text = public("sacct-parsable2-array-ranges__submitit.txt");
    let (header, rows) = text.split_once('\n').unwrap();
    let s = sacct_statuses(rows, &TableLayout::from_sacct_header(header, "|"));
    assert_eq!(s.len(), 3);
    assert_eq!(by_id(&s, "5610980").state, JobState::Running);
    assert_eq!(by_id(&s, "20956421_0").state, JobState::Running);
    assert_eq!(by_id(&s, "20956421_[2-4%25]").state, JobState::Queued);

    let text = public("sacct-parsable2-array-list__submitit.txt");
    let (header, rows) = text.split_once('\n').unwrap();
    let s = sacct_statuses(rows, &TableLayout::from_sacct_header(header, "|"));
    assert_eq!(by_id(&s, "12_0").state, JobState::Running);
    // `X` is not a Slurm state code (the sample is hand-made): kept verbatim, not final.
    assert_eq!(
        by_id(&s, "12_[2,4-12]").state,
        JobState::Unknown { raw: "X".into() }
    );
}

#[test]
fn public_sacct_firecrest() {
    let text = public("sacct-parsable2-noheader__firecrest.txt");
    let columns = "JobID,AllocNodes,Cluster,ExitCode,Group,Account,JobName,NodeList,Partition,Priority,\
                   State,Reason,ElapsedRaw,Submit,Start,End,Suspended,TimelimitRaw,User,WorkDir";
    let layout = TableLayout::from_sacct_header(&columns.replace(',', "|"), "|");
    let s = sacct_statuses(&text, &layout);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].state, JobState::Succeeded);
    assert_eq!(s[0].exit_code, Some(0));
    assert_eq!(s[0].name.as_deref(), Some("SbatchTest"));
    assert_eq!(s[0].node.as_deref(), Some("localhost"));
}

#[test]
fn public_sacct_json() {
    let text = public("sacct-json__batcheuphoria.json");
    let s = parse_sacct_json(&text).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].id.as_str(), "267854");
    assert_eq!(s[0].state, JobState::Succeeded);
    assert_eq!(s[0].name.as_deref(), Some("r230620"));
    assert_eq!(s[0].node.as_deref(), Some("compute013"));
    // time.elapsed, and the batch step's `mem` maximum (2789367808 bytes).
    assert_eq!(s[0].elapsed_secs, Some(238));
    assert_eq!(s[0].peak_memory_kb, Some(2_723_992));
    assert_eq!(
        s[0].scheduler_reason.as_deref(),
        Some("COMPLETED"),
        "the pending reason `Dependency` is not said of a success"
    );

    let text = public("sacct-json-requeued__batcheuphoria.json");
    let s = parse_sacct_json(&text).unwrap();
    assert_eq!(s.len(), 1, "one job id listed twice is one job");
    assert_eq!(
        s[0].state,
        JobState::Timeout,
        "the last record (after REQUEUED) wins"
    );
    assert_eq!(s[0].node.as_deref(), Some("compute015"));
    assert_eq!(s[0].elapsed_secs, Some(912));
    assert_eq!(s[0].peak_memory_kb, Some(63_176));
    assert_eq!(
        s[0].scheduler_reason.as_deref(),
        Some("TIMEOUT, reason JobHeldUser")
    );
}

#[test]
fn public_sbatch_replies() {
    let text = public("sbatch-replies__multi.txt");
    let mut accepted = Vec::new();
    let mut rejected = 0;
    for block in text.split("\n\n") {
        let output = if block.starts_with("sbatch: error:") {
            CommandOutput {
                code: Some(1),
                stdout: Vec::new(),
                stderr: block.as_bytes().to_vec(),
            }
        } else {
            CommandOutput::success(block)
        };
        match S.parse_submit(&output) {
            Ok(id) => accepted.push(id.as_str().to_owned()),
            Err(e) => {
                assert_eq!(output.code, Some(1), "{block:?} rejected: {e}");
                assert!(e.to_string().contains("Batch job submission failed"), "{e}");
                rejected += 1;
            }
        }
    }
    assert_eq!(
        accepted,
        ["10", "30", "630114", "654321", "654321", "5610208", "1"]
    );
    assert_eq!(rejected, 2);
}

#[test]
fn public_scontrol() {
    let text = public("scontrol-show-job-completed__toil.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    assert_eq!(
        (s[0].id.as_str(), s[0].state.clone()),
        ("787204", JobState::Succeeded)
    );
    assert_eq!(s[0].node.as_deref(), Some("wn-hb-01"));
    assert_eq!(s[0].exit_code, Some(0));
    assert_eq!(s[0].elapsed_secs, Some(5), "RunTime=00:00:05");
    assert_eq!(s[0].peak_memory_kb, None, "scontrol does not know");

    let text = public("scontrol-show-job-running__toil.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    assert_eq!(
        (s[0].id.as_str(), s[0].state.clone()),
        ("789724", JobState::Running)
    );
    assert_eq!(s[0].exit_code, None);

    let text = public("scontrol-show-job-pending__toil.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    assert_eq!(
        (s[0].id.as_str(), s[0].state.clone()),
        ("789728", JobState::Queued)
    );
    assert_eq!(s[0].node, None);
    assert_eq!(
        s[0].reason.as_deref(),
        Some("ReqNodeNotAvail,_UnavailableNodes:wn-db-05")
    );

    let text = public("scontrol-show-job-all__toil.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    let listed: Vec<&str> = s.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(listed, ["787204", "789724", "789728"]);

    let text = public("scontrol-show-job__batcheuphoria.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    assert_eq!(
        (s[0].id.as_str(), s[0].state.clone()),
        ("267858", JobState::Running)
    );
    assert_eq!(s[0].name.as_deref(), Some("r230620"));

    let text = public("scontrol-show-o-job__firecrest.txt");
    let s = parse_scontrol_show_job(&text).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].id.as_str(), s[0].state.clone()),
        ("1", JobState::Running)
    );
    assert_eq!(s[0].node.as_deref(), Some("nid006573"));
}

fn squeue_statuses(text: &str, layout: &TableLayout) -> Vec<JobStatus> {
    parse_table(text, layout, "squeue output")
        .unwrap()
        .into_iter()
        .map(|r| {
            let raw = r.state.unwrap();
            JobStatus {
                name: r.name,
                node: r.node,
                reason: r.reason.clone(),
                elapsed_secs: r.elapsed_secs,
                ..JobStatus::new(r.id.unwrap(), map_state(&raw, r.reason.as_deref(), None))
            }
        })
        .collect()
}

#[test]
fn public_squeue_aiida_caret() {
    let text = public("squeue-o-caret-delimited__aiida.txt");
    // %i %t %r %B %u %D %C %R %P %l %M %S %j %V
    use Field::*;
    let layout = TableLayout::new(
        "^^^",
        [
            JobId, State, Reason, NodeList, Ignored, Ignored, Ignored, Ignored, Ignored, Ignored,
            Ignored, Ignored, Name, Ignored,
        ],
    );
    let s = squeue_statuses(&text, &layout);
    assert_eq!(s.len(), 8);
    let count = |state: JobState| s.iter().filter(|j| j.state == state).count();
    assert_eq!(count(JobState::Queued), 3);
    assert_eq!(count(JobState::Held), 1);
    assert_eq!(count(JobState::Running), 4);
    assert_eq!(by_id(&s, "863313").state, JobState::Held);
    assert_eq!(by_id(&s, "862538").node.as_deref(), Some("rosa10"));
    assert_eq!(by_id(&s, "862540").node, None, "n/a batch host");
    assert_eq!(by_id(&s, "863100").name.as_deref(), Some("eq_solve_e4.slm"));
}

#[test]
fn public_squeue_firecrest_format() {
    let text = public("squeue-Format-pipe__firecrest.txt");
    use Field::*;
    // JobID NumNodes Cluster (empty) GroupName Account Name NodeList Partition PriorityLong
    // State Reason TimeUsed SubmitTime StartTime EndTime (empty) TimeLimit UserName WorkDir
    let layout = TableLayout::new(
        "|",
        [
            JobId, Ignored, Ignored, Ignored, Ignored, Ignored, Name, NodeList, Ignored, Ignored,
            State, Reason, Ignored, Ignored, Ignored, Ignored, Ignored, Ignored, Ignored, Ignored,
        ],
    );
    let s = squeue_statuses(&text, &layout);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].state, JobState::Running);
    assert_eq!(s[0].name.as_deref(), Some("SbatchTestXYZ"));
    assert_eq!(s[0].node.as_deref(), Some("localhost"));
    assert_eq!(s[0].reason, None);
}

#[test]
fn public_squeue_pysqa() {
    let text = public("squeue-custom-pipe__pysqa.txt");
    // %A|%u|%t|%.15j|%Z
    use Field::*;
    let layout = TableLayout::new("|", [JobId, Ignored, State, Name, Ignored]);
    let s = squeue_statuses(&text, &layout);
    assert_eq!(s.len(), 5);
    assert!(s.iter().all(|j| j.state == JobState::Running));
    assert_eq!(by_id(&s, "5322013").name.as_deref(), Some("pi_19576482"));
}

#[test]
fn public_sinfo_toil() {
    let text = public("sinfo-partitions__toil.txt");
    // Not a job listing: the status parser refuses it rather than finding no jobs in it.
    assert!(
        S.parse_status(&CommandOutput::success(text.clone()))
            .is_err()
    );
    // `sinfo -o "%P %G %l ..."`: Slurm's time limits read as config.json's `max_time` would.
    let (header, rows) = text.split_once('\n').unwrap();
    assert!(header.starts_with("PARTITION GRES TIMELIMIT "), "{header}");
    let limits: Vec<(&str, u64)> = rows
        .lines()
        .map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let limit = xpr::resources::parse_time(cols[2])
                .unwrap_or_else(|e| panic!("{row}: {e}"))
                .unwrap();
            (cols[0], limit)
        })
        .collect();
    assert_eq!(limits.len(), 10);
    assert_eq!(limits[0], ("short*", 3600));
    assert_eq!(limits[1], ("medium", 12 * 3600));
    assert_eq!(limits[2], ("long", 14 * 24 * 3600));
    assert_eq!(limits[3], ("gpu", 7 * 24 * 3600));
    // `1:00` is minutes:seconds, in Slurm as in ExPyRe.
    assert_eq!(limits[8], ("simple_nodelist", 60));
}

// ------------------------------------------------------------------ test bed captures

/// The jobs of a test bed capture whose name is `<run>-<case>` (names differ on every run).
fn case<'a>(statuses: &'a [JobStatus], case: &str) -> Vec<&'a JobStatus> {
    let suffix = format!("-{case}");
    statuses
        .iter()
        .filter(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.starts_with("cap") && n.ends_with(&suffix))
        })
        .collect()
}

/// The one job of `case`.
fn one<'a>(statuses: &'a [JobStatus], name: &str) -> &'a JobStatus {
    match case(statuses, name).as_slice() {
        [one] => one,
        other => panic!("expected one job named *-{name}, found {other:#?}"),
    }
}

#[test]
fn capture_script_uses_the_adapters_commands() {
    use xpr::scheduler::slurm::{
        FIND_MARKER, FIND_SCRIPT, FIND_STARTTIME, SACCT_FORMAT, SQUEUE_FORMAT,
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/capture/slurm.sh");
    let script = std::fs::read_to_string(&path).unwrap();
    for needle in [
        format!("SQUEUE_FORMAT='{SQUEUE_FORMAT}'"),
        format!("SACCT_FORMAT='{SACCT_FORMAT}'"),
        format!("FIND_MARKER='{FIND_MARKER}'"),
        format!("FIND_STARTTIME='{FIND_STARTTIME}'"),
        format!("<<'EOF'\n{FIND_SCRIPT}\nEOF\n"),
        "squeue --noheader --states=all \"--jobs=".to_owned(),
        "sacct --noheader --parsable2 \"--jobs=".to_owned(),
        "sbatch --parsable job.script.slurm".to_owned(),
    ] {
        assert!(
            script.contains(&needle),
            "{} lacks {needle:?}",
            path.display()
        );
    }
}

#[test]
fn testbed_sbatch_replies_are_bare_ids() {
    for name in [
        "success",
        "exit3",
        "cancelled",
        "held1",
        "held2",
        "array",
        "timeout",
    ] {
        let out = load(&format!("sbatch/testbed-{name}"));
        let id = S.parse_submit(&out).unwrap();
        assert!(
            id.as_str().bytes().all(|b| b.is_ascii_digit()),
            "{name}: {id}"
        );
        assert_eq!(
            out.stdout_text().trim(),
            id.as_str(),
            "--parsable prints the id alone"
        );
    }
}

#[test]
fn testbed_squeue_live() {
    let s = S.parse_status(&load("squeue/testbed-live-all")).unwrap();
    for held in ["held1", "held2"] {
        let job = one(&s, held);
        assert_eq!(job.state, JobState::Held);
        assert_eq!(
            (job.reason.as_deref(), job.node.as_deref()),
            (Some("JobHeldUser"), None)
        );
    }
    assert_eq!(one(&s, "cancelled").state, JobState::Running);
    assert!(one(&s, "cancelled").node.is_some());
    assert_eq!(one(&s, "timeout").state, JobState::Running);
    assert!(matches!(
        one(&s, "success").state,
        JobState::Running | JobState::Succeeded
    ));
    assert!(matches!(
        one(&s, "exit3").state,
        JobState::Running | JobState::Failed { exit_code: None }
    ));
    let array = case(&s, "array");
    assert!(array.iter().any(|j| j.state == JobState::Running));
    assert!(
        array.iter().all(|j| j.id.as_str().contains('_')),
        "{array:?}"
    );
    for pending in array.iter().filter(|j| j.state == JobState::Queued) {
        assert_eq!(pending.reason.as_deref(), Some("JobArrayTaskLimit"));
    }

    let held = S.parse_status(&load("squeue/testbed-held")).unwrap();
    assert_eq!(held.len(), 2);
    assert!(held.iter().all(|j| j.state == JobState::Held));
    let released = S.parse_status(&load("squeue/testbed-released")).unwrap();
    assert_eq!(
        one(&released, "held2").state,
        JobState::Queued,
        "released, still waiting for --begin"
    );
    let running = S.parse_status(&load("squeue/testbed-running")).unwrap();
    assert_eq!(one(&running, "cancelled").state, JobState::Running);
    let array = S.parse_status(&load("squeue/testbed-array")).unwrap();
    assert!(array.iter().any(|j| j.state == JobState::Running));
}

#[test]
fn testbed_squeue_unknown_and_purged_ids() {
    for name in ["unknown-single-id", "purged-single-id"] {
        let out = load(&format!("squeue/testbed-{name}"));
        assert_eq!(out.code, Some(1), "{name}: real squeue exits 1");
        assert!(
            out.stderr_text().contains("Invalid job id specified"),
            "{name}"
        );
        assert!(S.parse_status(&out).unwrap().is_empty(), "{name}");
    }
    let s = S
        .parse_status(&load("squeue/testbed-unknown-among-known"))
        .unwrap();
    assert_eq!(one(&s, "success").state, JobState::Succeeded);
    assert_eq!(s.len(), 1);
}

#[test]
fn testbed_squeue_ended() {
    let s = S.parse_status(&load("squeue/testbed-ended-all")).unwrap();
    assert_eq!(one(&s, "success").state, JobState::Succeeded);
    assert_eq!(one(&s, "exit3").state, JobState::Failed { exit_code: None });
    assert_eq!(one(&s, "cancelled").state, JobState::Cancelled);
    assert_eq!(one(&s, "held1").state, JobState::Cancelled);
    assert_eq!(one(&s, "timeout").state, JobState::Timeout);
    let array = case(&s, "array");
    assert_eq!(array.len(), 5);
    assert!(array.iter().all(|j| j.state == JobState::Succeeded));
}

#[test]
fn testbed_sacct() {
    let all = S.parse_accounting(&load("sacct/testbed-all")).unwrap();
    assert_eq!(
        all.len(),
        12,
        "8 jobs, the array as 5 elements, steps folded"
    );
    for (file, name, state, exit) in [
        ("success", "success", JobState::Succeeded, Some(0)),
        (
            "exit3",
            "exit3",
            JobState::Failed { exit_code: Some(3) },
            Some(3),
        ),
        ("cancelled", "cancelled", JobState::Cancelled, Some(0)),
        ("held", "held1", JobState::Cancelled, Some(0)),
        ("timeout", "timeout", JobState::Timeout, Some(0)),
        ("purged", "success", JobState::Succeeded, Some(0)),
    ] {
        let s = S
            .parse_accounting(&load(&format!("sacct/testbed-{file}")))
            .unwrap();
        let job = one(&s, name);
        assert_eq!(
            (&job.state, job.exit_code),
            (&state, exit),
            "sacct/testbed-{file}"
        );
        assert_eq!(one(&all, name).state, state);
    }
    let cancelled = one(&all, "cancelled");
    assert_eq!(
        cancelled.raw_state, "CANCELLED",
        "`CANCELLED by UID` is shown as CANCELLED"
    );
    assert!(cancelled.node.is_some());
    assert_eq!(one(&all, "held2").node, None, "never ran: `None assigned`");

    // Accounting's figures: run time always, peak memory only from a step that lived past
    // one jobacct_gather sample (30 s on the test bed): the Python job held 100 MB for 35 s.
    let memory = S.parse_accounting(&load("sacct/testbed-memory")).unwrap();
    let memory = one(&memory, "memory");
    assert_eq!(memory.state, JobState::Failed { exit_code: Some(1) });
    assert!(
        memory.elapsed_secs.is_some_and(|s| (35..60).contains(&s)),
        "{memory:?}"
    );
    assert!(
        memory
            .peak_memory_kb
            .is_some_and(|kb| (100 * 1024..200 * 1024).contains(&kb)),
        "{memory:?}"
    );
    assert_eq!(
        memory.scheduler_reason.as_deref(),
        Some("FAILED, exit code 1:0")
    );
    assert_eq!(
        one(&all, "success").peak_memory_kb,
        None,
        "ended before a sample"
    );
    assert_eq!(
        one(&all, "timeout").scheduler_reason.as_deref(),
        Some("TIMEOUT")
    );
    assert_eq!(
        one(&all, "held1").scheduler_reason.as_deref(),
        Some("CANCELLED by 1001, reason BeginTime"),
        "cancelled while it waited for --begin"
    );

    let array = S.parse_accounting(&load("sacct/testbed-array")).unwrap();
    assert_eq!(array.len(), 5);
    let base = array[0].id.as_str().split('_').next().unwrap().to_owned();
    let mut elements: Vec<&str> = array.iter().map(|j| j.id.as_str()).collect();
    elements.sort();
    let expected: Vec<String> = (0..5).map(|i| format!("{base}_{i}")).collect();
    assert_eq!(elements, expected);
    assert!(array.iter().all(|j| j.state == JobState::Succeeded));

    assert!(
        S.parse_accounting(&load("sacct/testbed-unknown-id"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn testbed_find_by_name() {
    let ended = S
        .parse_find_by_name(&load("find_by_name/testbed-ended"))
        .unwrap();
    assert_eq!(
        ended.len(),
        9,
        "success, exit3, cancelled, timeout and 5 array elements"
    );
    assert!(ended.iter().all(|j| j.state.is_final()));
    // Final in sacct, so sacct's record with its exit code is the one kept.
    assert_eq!(
        one(&ended, "exit3").state,
        JobState::Failed { exit_code: Some(3) }
    );
    assert_eq!(one(&ended, "timeout").state, JobState::Timeout);

    // While jobs run: a held job with a future --begin is in squeue only (sacct's time window
    // does not see it yet), which is why find-by-name asks both.
    let live = S
        .parse_find_by_name(&load("find_by_name/testbed-live"))
        .unwrap();
    assert_eq!(one(&live, "held1").state, JobState::Held);
    assert_eq!(one(&live, "cancelled").state, JobState::Running);
    assert!(!case(&live, "array").is_empty());

    assert!(
        S.parse_find_by_name(&load("find_by_name/testbed-none"))
            .unwrap()
            .is_empty()
    );
}
