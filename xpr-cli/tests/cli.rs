//! The `xpr` binary driven as a user would: arguments, a temp home and working directory,
//! checking stdout, stderr and the documented exit codes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{Xpr, stderr, stdout};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/configs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn systems_lists_the_builtin_local_system_with_no_config() {
    let out = Xpr::new().run(&["systems"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("SYSTEM"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("local ") && l.contains("local")),
        "{text}"
    );
}

#[test]
fn systems_json_shows_configured_systems_in_config_order() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&["systems", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let systems: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = systems
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "tin", "timed"]);
    let tin = &systems[1];
    assert_eq!(tin["scheduler"], "slurm");
    assert_eq!(tin["partitions"][0]["name"], "node16_1,node16_2");
    assert_eq!(tin["partitions"][0]["num_cores"], 16);
}

#[test]
fn config_check_names_the_files_and_where_each_system_came_from() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let file = xpr.cwd.join("_expyre/config.json");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("tin: from"), "{text}");
    assert!(text.contains("local: from built in"), "{text}");
}

#[test]
fn config_check_reports_an_invalid_config_with_file_path_and_exit_code_3() {
    let xpr = Xpr::new().with_project_config(
        r#"{"systems": {"archer2": {"host": "login.archer2", "scheduler": "slurm",
            "partitions": {"standard": {"num_cores": 128, "max_tme": "48h"}}}}}"#,
    );
    let out = xpr.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("config.json"), "{err}");
    assert!(err.contains("systems.archer2.partitions.standard"), "{err}");
    assert!(err.contains("max_time"), "did-you-mean missing: {err}");
}

#[test]
fn nodes_json_gives_partition_counts_and_rendered_header() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&[
        "nodes",
        "tin",
        "--max-time",
        "1h",
        "--num-cores",
        "32",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["partition"], "node16_1,node16_2");
    assert_eq!(v["num_nodes"], 2);
    assert_eq!(v["num_cores"], 32);
    assert_eq!(v["num_cores_per_node"], 16);
    let header: Vec<&str> = v["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(header.contains(&"#SBATCH --time=1:00:00"), "{header:?}");
}

#[test]
fn nodes_follows_partition_regexps_and_memory() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&[
        "nodes",
        "tin",
        "--max-time",
        "1h",
        "--num-nodes",
        "1",
        "--max-mem-per-core",
        "17GB",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["partition"], "node_bigmem");
    let out = xpr.run(&[
        "nodes",
        "timed",
        "--max-time",
        "30m",
        "--num-nodes",
        "1",
        "--partitions",
        "deb.*",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["partition"], "debug");
}

#[test]
fn an_impossible_request_exits_4_with_each_partition_and_why() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&["nodes", "tin", "--max-time", "1h", "--num-cores", "17"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    for partition in [
        "node16_1,node16_2",
        "node36",
        "node32",
        "node_bigmem",
        "node_bigmem_72",
    ] {
        assert!(
            err.contains(&format!("  {partition}: ")),
            "{partition} missing in: {err}"
        );
    }
    assert!(err.contains("--no-exact-fit"), "{err}");
    let out = xpr.run(&[
        "nodes",
        "tin",
        "--max-time",
        "1h",
        "--num-cores",
        "17",
        "--no-exact-fit",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_unknown_system_is_named_with_a_suggestion() {
    let xpr = Xpr::new().with_project_config(&fixture("node_finder_example.json"));
    let out = xpr.run(&["nodes", "tim", "--max-time", "1h", "--num-nodes", "1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("tim"), "{err}");
    assert!(err.contains("timed") || err.contains("tin"), "{err}");
}

#[test]
fn bad_units_and_usage_errors_name_the_flag() {
    let xpr = Xpr::new();
    let out = xpr.run(&["nodes", "local", "--max-time", "1h1s", "--num-cores", "1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--max-time"), "{}", stderr(&out));
    let out = xpr.run(&["nodes", "local", "--num-nodes", "1", "--num-cores", "1"]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

fn db_with_tasks(dir: &Path) -> PathBuf {
    use xpr::db::{Db, NewTask, TaskStatus, TaskUpdate};
    use xpr::ids::{SystemName, TaskId};
    let path = dir.join("jobs.db");
    let mut db = Db::open(&path).unwrap();
    for (id, name, system) in [
        ("a1", "relax", "archer2"),
        ("a2", "relax", "local"),
        ("a3", "md", "archer2"),
    ] {
        db.create(&NewTask {
            id: TaskId::new(id),
            name: name.into(),
            system: SystemName::new(system),
            identity: id.into(),
            spec: "{}".into(),
            remote_dir: Some(format!("run_expyre/x/run_{id}")),
            local_dir: None,
            sweep: None,
        })
        .unwrap();
    }
    let failed = TaskUpdate {
        exit_code: Some(3),
        reason: Some("exit code 3".into()),
        ..TaskUpdate::default()
    };
    db.transition(&TaskId::new("a3"), &[], TaskStatus::Failed, &failed)
        .unwrap();
    db.close().unwrap();
    path
}

#[test]
fn ls_filters_like_expyre_and_prints_json_or_a_table() {
    let xpr = Xpr::new();
    let db = db_with_tasks(xpr.home.path());
    let db = db.to_str().unwrap();
    let out = xpr.run(&["ls", "--dbfile", db, "-s", "failed", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    assert_eq!(tasks[0]["id"], "a3");
    assert_eq!(tasks[0]["exit_code"], 3);

    let out = xpr.run(&[
        "ls", "--dbfile", db, "-n", "relax", "-S", "arch.*", "--json",
    ]);
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    assert_eq!(tasks[0]["id"], "a1");

    let out = xpr.run(&["ls", "--dbfile", db, "-s", "ongoing", "-l"]);
    let text = stdout(&out);
    assert!(
        text.lines().next().unwrap().contains("REMOTE DIR"),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        3,
        "header + two ongoing tasks: {text}"
    );
    assert!(text.contains("run_expyre/x/run_a2"), "{text}");
}

#[test]
fn ls_rejects_an_unknown_status_naming_the_accepted_ones() {
    let xpr = Xpr::new();
    let db = db_with_tasks(xpr.home.path());
    let out = xpr.run(&["ls", "--dbfile", db.to_str().unwrap(), "-s", "runing"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr(&out);
    assert!(
        err.contains("\"runing\"") && err.contains("ongoing"),
        "{err}"
    );
}

#[test]
fn ls_limit_shows_the_newest_matching_tasks() {
    let xpr = Xpr::new();
    let db = db_with_tasks(xpr.home.path());
    let db = db.to_str().unwrap();
    let ids = |args: &[&str]| -> Vec<String> {
        let out = xpr.run(&[&["ls", "--dbfile", db, "--json"], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        tasks
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&["--limit", "2"]), ["a2", "a3"]);
    assert_eq!(ids(&["--limit", "1", "-S", "archer2"]), ["a3"]);
    assert_eq!(ids(&["--limit", "10"]), ["a1", "a2", "a3"]);
    let table = stdout(&xpr.run(&["ls", "--dbfile", db, "--limit", "1"]));
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].starts_with("a3 "), "{table}");
}

#[test]
fn db_unlock_leaves_the_tasks_in_place() {
    let xpr = Xpr::new();
    let db = db_with_tasks(xpr.home.path());
    let db = db.to_str().unwrap();
    let out = xpr.run(&["db_unlock", "--dbfile", db]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = xpr.run(&["ls", "--dbfile", db, "--json"]);
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 3);
}

#[test]
fn usage_errors_found_after_parsing_exit_2_naming_the_flag() {
    let xpr = Xpr::new();
    db_with_tasks(&xpr.project_dir());
    let cases: [&[&str]; 9] = [
        &["nodes", "local", "--max-time", "1x", "--num-cores", "1"],
        &[
            "nodes",
            "local",
            "--max-time",
            "1h",
            "--num-cores",
            "1",
            "--max-mem-tot",
            "4XB",
        ],
        &["ls", "-s", "bogus"],
        &["ls", "-n", "(unclosed"],
        &["rm", "-y"],
        &["cancel"],
        &["reset_status", "a1", "--to", "bogus"],
        &["run", "--timeout", "1x", "--", "true"],
        &["submit", "-e", "NO_EQUALS", "--", "true"],
    ];
    let names = [
        "--max-time",
        "--max-mem-tot",
        "\"bogus\"",
        "-n",
        "filter",
        "filter",
        "--to",
        "--timeout",
        "--env",
    ];
    for (args, name) in cases.iter().zip(names) {
        let out = xpr.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(name),
            "{args:?}: {err}"
        );
    }
    // Nothing was run or changed by any of them.
    let out = xpr.run(&["ls", "--json"]);
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 3, "{tasks}");
    assert_eq!(tasks[0]["status"], "created");
}

#[test]
fn config_check_reports_every_problem_with_its_file_and_path() {
    let xpr = Xpr::new().with_project_config(
        r#"{"systems": {
             "a": {"host": "a.example.org", "scheduler": "slrum", "partitions": null},
             "b": {"host": "b.example.org", "scheduler": "slurm",
                   "partitions": {"p": {"num_cores": 4, "max_time": "1x"}}}},
           "profiles": {"q": {"system": "c"}}}"#,
    );
    let file = xpr.cwd.join("_expyre/config.json").display().to_string();
    let out = xpr.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    let paths = [
        "systems.a.scheduler",
        "systems.b.partitions.p.max_time",
        "profiles.q.system",
    ];
    assert_eq!(lines.len(), paths.len(), "{err}");
    for (line, path) in lines.iter().zip(paths) {
        assert!(
            line.starts_with(&format!("error: {file}: {path}: ")),
            "{path}: {err}"
        );
    }

    let out = xpr.run(&["config", "check", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let json_paths: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(json_paths, paths);
    assert_eq!(report["errors"][0]["files"][0], file.as_str());
}

#[test]
fn a_broken_config_leaves_the_jobs_db_and_the_local_system_usable_with_a_warning() {
    let xpr = Xpr::new().with_project_config(r#"{"systems": {"hpc": }"#);
    let file = xpr.cwd.join("_expyre/config.json").display().to_string();
    db_with_tasks(&xpr.project_dir());
    let warned = |out: &Output| {
        let err = stderr(out);
        assert!(
            err.contains("warning: the config has problems")
                && err.contains(&file)
                && err.contains("invalid json"),
            "no warning naming the file and the error: {err}"
        );
    };
    let out = xpr.run(&["ls", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    warned(&out);
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        tasks.as_array().unwrap().len(),
        3,
        "the project's jobs DB: {tasks}"
    );

    let out = xpr.run(&["results", "a3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    warned(&out);
    assert!(stdout(&out).contains("exit code: 3"), "{}", stdout(&out));

    let out = xpr.run(&["db_unlock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    warned(&out);

    let out = xpr.run(&[
        "nodes",
        "local",
        "--max-time",
        "1h",
        "--num-cores",
        "1",
        "--no-exact-fit",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // What needs the config still fails with it, naming the problem once.
    let out = xpr.run(&["systems"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains(&file), "{}", stderr(&out));
    let out = xpr.run(&["nodes", "hpc", "--max-time", "1h", "--num-nodes", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("system \"hpc\" cannot be used"), "{err}");
    assert_eq!(err.matches("invalid json").count(), 1, "said once: {err}");
}

#[test]
fn each_cause_is_printed_once() {
    let xpr = Xpr::new().with_project_config(
        r#"{"systems": {"b": {"host": null, "scheduler": "slurm",
            "partitions": {"p": {"num_cores": 4, "max_time": "1x"}}}}}"#,
    );
    let out = xpr.run(&["systems"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert_eq!(err.matches("invalid time \"1x\"").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A jobs DB that cannot be opened: SQLite's message is said once.
    let out = Xpr::new().run(&["db_unlock", "--dbfile", "/nonexistent/dir/jobs.db"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        err.matches("unable to open database file: /nonexistent")
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let xpr = Xpr::new();
    db_with_tasks(&xpr.project_dir());
    for args in [
        &["reset_status", "-n", ".*", "--to", "created"][..],
        &["ls"],
        &["ls", "--json"],
        &["config", "check"],
        &["results", "a1"],
    ] {
        // The reading end is closed before xpr starts: its first write meets a broken pipe.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = xpr
            .command(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn commands_that_act_on_tasks_print_json_records_with_json() {
    let xpr = Xpr::new();
    let id = xpr.ok(&["submit", "--", "true"]).trim().to_owned();
    let records = |args: &[&str]| -> serde_json::Value {
        let value = xpr.json(args);
        assert!(value.is_array(), "{args:?}: {value}");
        value
    };
    let waited = records(&["wait", &id, "--json"]);
    assert_eq!(waited[0]["id"], id.as_str());
    assert_eq!(waited[0]["status"], "succeeded");
    let status = records(&["status", &id, "--json"]);
    assert_eq!(status[0]["status"], "succeeded");
    let processed = records(&["mark_processed", &id, "--json"]);
    assert_eq!(processed[0]["status"], "processed");
    let cleaned = records(&["clean", &id, "--json"]);
    assert_eq!(cleaned[0]["status"], "cleaned");
    let removed = records(&["rm", "-y", &id, "--json"]);
    assert_eq!(removed[0]["id"], id.as_str());
    assert_eq!(records(&["ls", "--json"]), serde_json::json!([]));
}
