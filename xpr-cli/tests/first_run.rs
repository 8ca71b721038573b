//! A user's first runs, with no resource flags (issue 13's sensible defaults): one core on a
//! node it may share, for the system's `default_max_time` or an hour, said on stderr; the
//! default system from `$EXPYRE_SYS`; and errors that blame only what the user asked.

mod support;

use support::{Xpr, stderr, stdout};

/// A cluster whose nodes have 128 cores (archer2's shape), reached nowhere: `xpr nodes`
/// only renders.
const ARCHER: &str = r#"{"systems": {"arch": {"host": "login.example.org", "scheduler": "slurm",
    "partitions": {"standard": {"num_cores": 128, "max_time": "24h", "max_mem": "256GB"}}}}}"#;

fn nodes_json(xpr: &Xpr, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["nodes"];
    all.extend_from_slice(args);
    all.push("--json");
    xpr.json(&all)
}

#[test]
fn nodes_with_no_flags_is_one_core_of_a_shared_node_for_an_hour() {
    let xpr = Xpr::new().with_project_config(ARCHER);
    for system in ["local", "arch"] {
        let alloc = nodes_json(&xpr, &[system]);
        assert_eq!(alloc["num_cores"], 1, "{system}: {alloc}");
        assert_eq!(alloc["num_nodes"], 1, "{system}: {alloc}");
        let header = alloc["header"].to_string();
        assert!(header.contains("1:00:00"), "{system}: {header}");
    }
}

#[test]
fn the_systems_default_max_time_applies_where_no_time_is_asked_and_a_flag_wins() {
    let config = ARCHER.replace(
        r#""scheduler": "slurm","#,
        r#""scheduler": "slurm", "default_max_time": "4h","#,
    );
    let xpr = Xpr::new().with_project_config(&config);
    let header = |args: &[&str]| nodes_json(&xpr, args)["header"].to_string();
    assert!(
        header(&["arch"]).contains("--time=4:00:00"),
        "{}",
        header(&["arch"])
    );
    let whole_node = header(&["arch", "--num-nodes", "1"]);
    assert!(whole_node.contains("--time=4:00:00"), "{whole_node}");
    let asked = header(&["arch", "--max-time", "2h"]);
    assert!(asked.contains("--time=2:00:00"), "{asked}");
}

#[test]
fn a_bad_default_max_time_is_a_config_error_naming_the_key() {
    let config = ARCHER.replace(
        r#""scheduler": "slurm","#,
        r#""scheduler": "slurm", "default_max_time": "4 fortnights","#,
    );
    let xpr = Xpr::new().with_project_config(&config);
    let out = xpr.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("systems.arch.default_max_time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_with_no_flags_runs_and_says_what_it_chose() {
    let xpr = Xpr::new();
    let out = xpr.run(&["run", "--", "echo", "first run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "first run\n");
    let err = stderr(&out);
    assert!(err.contains("no resources asked"), "{err}");
    assert!(
        err.contains("1 core, max_time 1:00:00, partial node"),
        "{err}"
    );
    // A flag given: nothing to say.
    let out = xpr.run(&["run", "--num-cores", "1", "--", "echo", "second"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("no resources asked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn expyre_sys_is_the_default_system() {
    let xpr = Xpr::new()
        .with_project_config(
            r#"{"systems": {"mine": {"host": null, "scheduler": "local",
                "partitions": {"here": {"num_cores": 1, "max_time": null, "max_mem": null}}}}}"#,
        )
        .env("EXPYRE_SYS", "mine");
    let out = xpr.run(&["run", "--json", "--", "echo", "on mine"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = xpr.json(&["ls", "--json"]);
    let systems: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["mine"]);
    // An explicit -m wins.
    xpr.ok(&["run", "-m", "local", "--", "true"]);
    let out = xpr.run(&["submit", "-m", "nosuch", "--", "true"]);
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
}

#[test]
fn too_many_cores_on_local_names_the_machine_not_a_flag_never_given() {
    let xpr = Xpr::new();
    let out = xpr.run(&["nodes", "local", "--num-cores", "100000"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("100000 cores asked, this machine has"),
        "{err}"
    );
    assert!(
        !err.contains("--partial-node"),
        "blames a flag never given: {err}"
    );
    // Asked for: then it is named.
    let out = xpr.run(&["nodes", "local", "--num-cores", "100000", "--partial-node"]);
    assert!(stderr(&out).contains("--partial-node"), "{}", stderr(&out));
}
