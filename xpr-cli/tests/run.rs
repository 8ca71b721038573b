//! `xpr run`, `submit`, `wait`, `logs`, `mark_processed`, `rm` driven as a user would: on the
//! built-in `local` system (no config), and on the test bed's Slurm over SSH.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::path::Path;

use support::Xpr;

/// Works in `$HOME/work dir` (a space in the path, as users' paths have).
fn xpr() -> Xpr {
    Xpr::in_dir("work dir")
}

/// Writes `<cwd>/_expyre/config.json` (the stage root is then `<cwd>/_expyre`).
fn config(xpr: &Xpr, text: &str) {
    std::fs::write(xpr.project_dir().join("config.json"), text).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_on_local_brings_outputs_here_and_prints_the_job_output() {
    let xpr = xpr();
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    xpr.write("in put.bin", &data);
    let out = xpr.run(&[
        "run",
        "--max-time",
        "1m",
        "-i",
        "in put.bin",
        "-o",
        "out.bin",
        "--",
        "sh",
        "-c",
        "cp 'in put.bin' out.bin; echo done; echo note >&2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "done\n");
    assert!(text(&out.stderr).contains("note"));
    assert_eq!(std::fs::read(xpr.cwd.join("out.bin")).unwrap(), data);
    // The input the user gave is untouched.
    assert_eq!(std::fs::read(xpr.cwd.join("in put.bin")).unwrap(), data);
}

#[test]
fn run_exits_with_the_job_exit_code_and_tells_failures_apart() {
    let xpr = xpr();
    let out = xpr.run(&["run", "--", "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("oops") && err.contains("exit code 3"), "{err}");

    let out = xpr.run(&["run", "--max-time", "2", "--", "sleep", "60"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("timeout"),
        "{}",
        text(&out.stderr)
    );

    let out = xpr.run(&["run", "-o", "never.txt", "--", "true"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("never.txt"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_input_is_named_and_nothing_is_recorded() {
    let xpr = xpr();
    let out = xpr.run(&["run", "-i", "absent.dat", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("absent.dat"),
        "{}",
        text(&out.stderr)
    );
    let db = xpr.home.path().join(".expyre/jobs.db");
    if db.exists() {
        let out = xpr.run(&["ls", "--json"]);
        let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(tasks.as_array().unwrap().len(), 0, "{tasks}");
    }
}

#[test]
fn submitting_the_same_task_twice_submits_once_until_processed() {
    let xpr = xpr();
    xpr.write("x.txt", b"1");
    let args = [
        "submit", "--name", "same", "-i", "x.txt", "--", "cat", "x.txt",
    ];
    let first = xpr.run(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let id = text(&first.stdout).trim().to_owned();
    let second = xpr.run(&args);
    assert_eq!(text(&second.stdout).trim(), id);
    assert!(text(&second.stderr).contains("nothing was submitted"));

    let waited = xpr.run(&["wait", &id, "--timeout", "2m"]);
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    let logs = xpr.run(&["logs", &id]);
    assert_eq!(text(&logs.stdout), "1");

    assert!(xpr.run(&["mark_processed", &id]).status.success());
    let third = xpr.run(&args);
    let new_id = text(&third.stdout).trim().to_owned();
    assert_ne!(new_id, id);
    assert!(
        xpr.run(&["wait", &new_id, "--timeout", "2m"])
            .status
            .success()
    );

    let removed = xpr.run(&["rm", "-y", "-c", "-n", "same"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let out = xpr.run(&["ls", "--json"]);
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 0);
    // rm demands a filter: it never removes everything by accident (a usage error).
    assert_eq!(xpr.run(&["rm", "-y"]).status.code(), Some(2));
}

#[test]
fn outputs_are_delivered_when_the_stage_root_path_has_glob_characters() {
    let xpr = Xpr::in_dir("we ird [x]");
    // An empty config dir makes `<cwd>/_expyre` the stage root: `.../we ird [x]/_expyre`.
    std::fs::create_dir_all(xpr.cwd.join("_expyre")).unwrap();
    let out = xpr.run(&[
        "run",
        "-o",
        "out.txt",
        "-o",
        "*.dat",
        "--",
        "sh",
        "-c",
        "echo result > out.txt; echo 1 > a.dat",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(xpr.cwd.join("out.txt")).unwrap(),
        "result\n"
    );
    assert_eq!(
        std::fs::read_to_string(xpr.cwd.join("a.dat")).unwrap(),
        "1\n"
    );
}

#[test]
fn a_file_in_the_way_is_kept_numbered_never_overwritten() {
    let xpr = xpr();
    xpr.write("out.txt", b"the user's own\n");
    let job = |content: &str| {
        xpr.run(&[
            "run",
            "-o",
            "out.txt",
            "--",
            "sh",
            "-c",
            &format!("echo {content} > out.txt"),
        ])
    };
    let out = job("first");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(xpr.cwd.join("out.txt")).unwrap(),
        "first\n"
    );
    assert_eq!(
        std::fs::read_to_string(xpr.cwd.join("out.txt.~1~")).unwrap(),
        "the user's own\n"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("out.txt held other content: kept it as") && err.contains("out.txt.~1~"),
        "{err}"
    );

    // The same content again (an identical task reuses the first one's results): left alone.
    let out = job("first");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!xpr.cwd.join("out.txt.~2~").exists());
    assert!(
        !text(&out.stderr).contains("kept it as"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_json_prints_only_json_on_stdout() {
    let xpr = xpr();
    let out = xpr.run(&[
        "run",
        "--json",
        "-o",
        "o.txt",
        "--",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2; echo x > o.txt",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", text(&out.stdout)));
    assert_eq!(record["status"], "succeeded");
    assert_eq!(
        record["stdout_tail"].as_str().unwrap().trim_end(),
        "to-stdout"
    );
    assert_eq!(
        record["stderr_tail"].as_str().unwrap().trim_end(),
        "to-stderr"
    );
    assert_eq!(
        record["outputs"][0],
        xpr.cwd.join("o.txt").display().to_string()
    );
    // The job's own streams still reach the user, on stderr.
    let err = text(&out.stderr);
    assert!(
        err.contains("to-stdout") && err.contains("to-stderr"),
        "{err}"
    );
}

#[test]
fn a_profile_gives_its_environment_and_flags_win() {
    let xpr = xpr();
    config(
        &xpr,
        r#"{"systems": {},
            "profiles": {"p": {"system": "local", "env": {"A": "from-profile", "B": "from-profile"}}}}"#,
    );
    let out = xpr.run(&[
        "run",
        "--profile",
        "p",
        "-e",
        "B=from-flag",
        "--",
        "sh",
        "-c",
        "echo $A $B",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-profile from-flag\n");

    let out = xpr.run(&["run", "--profile", "q", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown profile \"q\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_broken_config_leaves_the_local_system_usable() {
    let xpr = xpr();
    config(
        &xpr,
        r#"{"systems": {"hpc": {"host": "h", "scheduler": "slurm"}}}"#,
    );
    let out = xpr.run(&["submit", "--", "echo", "hi"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: the config has problems")
            && err.contains("systems.hpc: missing required key \"partitions\""),
        "{err}"
    );
    let id = text(&out.stdout).trim().to_owned();
    let waited = xpr.run(&["wait", &id, "--timeout", "2m"]);
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    let logs = xpr.run(&["logs", &id]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "hi\n");
    // A configured system is not usable until the config is fixed.
    let out = xpr.run(&["run", "-m", "hpc", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn run_on_slurm_over_ssh_lands_outputs_in_dest() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = xpr();
    std::fs::create_dir_all(xpr.cwd.join("_expyre")).unwrap();
    let config = serde_json::json!({"systems": {"bed": {
        "host": "xpr-local", "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", bed.ssh_config().display()),
        "rundir": format!("xpr-cli-tests/{}", xpr.home.path().file_name().unwrap().to_string_lossy()),
        "partitions": {"debug": {"num_cores": 16}}}}});
    std::fs::write(xpr.cwd.join("_expyre/config.json"), config.to_string()).unwrap();
    xpr.write("n.txt", b"41\n");
    let dest = xpr.cwd.join("results");
    let out = xpr.run(&[
        "run",
        "-m",
        "bed",
        "--max-time",
        "5m",
        "--num-cores",
        "1",
        "--no-exact-fit",
        "-i",
        "n.txt",
        "-o",
        "m.txt",
        "--dest",
        dest.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo $(( $(cat n.txt) + 1 )) > m.txt",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dest.join("m.txt")).unwrap(), "42\n");
    let ls = xpr.run(&["ls", "--json"]);
    let tasks: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(tasks[0]["system"], "bed");
    assert!(
        tasks[0]["scheduler_job_id"]
            .as_str()
            .is_some_and(|j| !j.is_empty())
    );
    // Tidy the remote run dir.
    let id = tasks[0]["id"].as_str().unwrap();
    assert!(xpr.run(&["clean", id]).status.success());
    let _ = Path::new(id);
}

#[test]
fn hostname_with_no_resource_flags_runs_on_slurm_and_vv_shows_the_ssh_commands() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = xpr();
    // The test bed's node has 16 cores: one core is not a whole node, so the default must
    // be a shared node for this to run.
    bed_system(&xpr, &bed, serde_json::json!({}));
    let out = xpr.run(&["-vv", "run", "-m", "bed", "--", "hostname"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!text(&out.stdout).trim().is_empty(), "no hostname printed");
    assert!(
        err.contains("1 core, max_time 1:00:00, partial node"),
        "{err}"
    );
    let remote: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("remote command") && l.contains("system=bed"))
        .collect();
    assert!(!remote.is_empty(), "{err}");
    assert!(remote.iter().all(|l| l.contains("took=")), "{err}");
    let tasks = xpr.json(&["ls", "--json"]);
    let id = tasks[0]["id"].as_str().unwrap();
    assert!(xpr.run(&["clean", id]).status.success());
}

/// The lines of `xpr clean --orphans` that name a run dir.
fn orphan_lines(xpr: &Xpr, extra: &[&str]) -> Vec<String> {
    let out = xpr.run(&[&["clean", "--orphans"], extra].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains("/run_") || l.contains("/grp_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn clean_orphans_finds_what_rm_left_and_removes_it_with_y() {
    let xpr = xpr();
    let kept = xpr.ok(&["submit", "--", "echo", "kept"]).trim().to_owned();
    let gone = xpr.ok(&["submit", "--", "echo", "gone"]).trim().to_owned();
    xpr.ok(&["wait"]);
    let listed = xpr.json(&["ls", "--json", "-l"]);
    let local_dir = std::path::PathBuf::from(listed[0]["local_dir"].as_str().unwrap());
    let stage_root = local_dir.parent().unwrap().to_path_buf();
    let notes = stage_root.join("notes.txt");
    std::fs::write(&notes, "mine").unwrap();
    assert!(orphan_lines(&xpr, &[]).is_empty());
    xpr.ok(&["rm", "-y", &gone]);
    assert!(
        stage_root.join(format!("run_{gone}")).is_dir(),
        "rm without -c keeps it"
    );

    let listed = orphan_lines(&xpr, &[]);
    assert!(
        !listed.is_empty(),
        "the removed task's run dir is an orphan"
    );
    assert!(
        listed.iter().all(|l| l.ends_with(&format!("run_{gone}"))),
        "{listed:?}"
    );
    let json = xpr.json(&["clean", "--orphans", "--json"]);
    assert_eq!(json["removed"], 0, "listing removes nothing");
    assert!(stage_root.join(format!("run_{gone}")).is_dir());

    let out = xpr.run(&["clean", "--orphans", "-y"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stage_root.join(format!("run_{gone}")).exists());
    assert!(
        stage_root.join(format!("run_{kept}")).is_dir(),
        "a task's dir stays"
    );
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "mine",
        "not a run dir: left"
    );
    assert!(orphan_lines(&xpr, &[]).is_empty());
    // -y without --orphans is a usage error, not a removal of tasks' dirs.
    assert_eq!(xpr.run(&["clean", "-y", &kept]).status.code(), Some(2));
}

#[test]
fn clean_orphans_removes_a_run_dir_left_on_slurm() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = xpr();
    let rundir = bed_system(&xpr, &bed, serde_json::json!({}));
    let id = xpr
        .ok(&["submit", "-m", "bed", "--", "echo", "remote"])
        .trim()
        .to_owned();
    xpr.ok(&["wait", &id]);
    let remote_dir = xpr.json(&["ls", "--json", "-l"])[0]["remote_dir"]
        .as_str()
        .map(str::to_owned);
    xpr.ok(&["rm", "-y", &id]);
    let on_bed = |args: &str| {
        std::process::Command::new("ssh")
            .args(["-F", bed.ssh_config().to_str().unwrap(), "xpr-local", args])
            .status()
            .unwrap()
            .success()
    };
    let listed = orphan_lines(&xpr, &["-S", "bed"]);
    assert!(
        listed
            .iter()
            .any(|l| l.starts_with("bed:") && l.ends_with(&format!("run_{id}"))),
        "{listed:?}"
    );
    xpr.ok(&["clean", "--orphans", "-y"]);
    let remote_dir = remote_dir.unwrap_or_else(|| format!("{rundir}/run_{id}"));
    assert!(
        !on_bed(&format!("test -e {remote_dir}")),
        "{remote_dir} still there"
    );
    assert!(orphan_lines(&xpr, &[]).is_empty());
    on_bed(&format!("rm -rf -- {rundir}"));
}

#[test]
fn submit_script_runs_a_hand_written_sbatch_script_with_its_directives() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = xpr();
    bed_system(&xpr, &bed, serde_json::json!({}));
    xpr.write(
        "job.sh",
        b"#!/bin/bash\n#SBATCH --job-name=mine\n#SBATCH --time=00:07:00\n#SBATCH --ntasks=1\n\
          echo \"ran as $SLURM_JOB_NAME\" > result.txt\necho done\n",
    );
    let id = xpr.ok(&[
        "submit",
        "-m",
        "bed",
        "--script",
        "job.sh",
        "-o",
        "result.txt",
    ]);
    let id = id.trim();
    assert!(id.starts_with("job_sh_"), "{id}");
    xpr.ok(&["wait", id]);
    let results = xpr.json(&["results", id, "--json"]);
    assert_eq!(results["exit_code"], 0, "{results}");
    let local = std::path::PathBuf::from(results["local_dir"].as_str().unwrap());
    let ran = std::fs::read_to_string(local.join("result.txt")).unwrap();
    // xpr's job name stands (it finds its jobs by it); the script's time limit won over xpr's.
    assert_eq!(ran, format!("ran as {id}\n"));
    let job = xpr.json(&["ls", "--json"])[0]["scheduler_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let limit = accounted(&bed, id, &job, "Timelimit");
    assert_eq!(limit, "00:07:00");
    assert!(xpr.run(&["clean", id]).status.success());
    // Another scheduler's directives are refused before anything runs.
    xpr.write("pbs.sh", b"#!/bin/sh\n#PBS -l walltime=1:00:00\ntrue\n");
    let out = xpr.run(&["submit", "-m", "bed", "--script", "pbs.sh"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("#PBS"), "{}", text(&out.stderr));
}

#[test]
fn job_name_prefix_reaches_slurm() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = xpr();
    bed_system(&xpr, &bed, serde_json::json!({"job_name_prefix": "proj-"}));
    let id = xpr.ok(&["run", "-m", "bed", "--json", "--", "true"]);
    let id = serde_json::from_str::<serde_json::Value>(&id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = xpr.json(&["ls", "--json"])[0]["scheduler_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = accounted(&bed, &format!("proj-{id}"), &job, "JobName%100");
    assert_eq!(name, format!("proj-{id}"));
    assert!(xpr.run(&["clean", &id]).status.success());
}

/// The `field` of Slurm job `job` (named `name`) in the test bed's accounting, once it is
/// there (accounting records a job a moment after it ended). Looked up by name: job ids start
/// again when the test bed is set up afresh, while its accounting DB keeps earlier runs' jobs.
fn accounted(bed: &common::Testbed, name: &str, job: &str, field: &str) -> String {
    common::wait_for(
        "the job's accounting record",
        std::time::Duration::from_secs(60),
        || {
            let out = std::process::Command::new("ssh")
                .args([
                    "-F",
                    bed.ssh_config().to_str().unwrap(),
                    "xpr-local",
                    &format!("sacct -n -X --name={name} -o JobID,{field}"),
                ])
                .output()
                .unwrap();
            let line = text(&out.stdout).trim().to_owned();
            let mut words = line.split_whitespace();
            (words.next() == Some(job)).then(|| words.next().unwrap_or_default().to_owned())
        },
    )
}

/// Writes a config with system `bed` (the test bed's Slurm over SSH, its 16-core `debug`
/// partition, a run dir of this test's own) and `extra` keys; returns that run dir.
fn bed_system(xpr: &Xpr, bed: &common::Testbed, extra: serde_json::Value) -> String {
    let rundir = format!(
        "xpr-cli-tests/{}",
        xpr.home.path().file_name().unwrap().to_string_lossy()
    );
    let mut system = serde_json::json!({
        "host": "xpr-local", "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", bed.ssh_config().display()),
        "rundir": rundir, "partitions": {"debug": {"num_cores": 16}}});
    for (key, value) in extra.as_object().unwrap() {
        system[key] = value.clone();
    }
    let config = serde_json::json!({"systems": {"bed": system}});
    std::fs::write(xpr.project_dir().join("config.json"), config.to_string()).unwrap();
    rundir
}
