//! `--dry-run` on `run`, `submit` and `sweep`: the job script and the remote commands are
//! printed, and nothing is started: no DB row, no connection (the host here does not exist).

mod support;

use support::{Xpr, stderr, stdout};

const UNREACHABLE: &str = r##"{"systems": {"far": {"host": "nobody@host.invalid",
    "scheduler": "slurm", "rundir": "runs",
    "header": ["#SBATCH --nodes={num_nodes}", "#SBATCH --ntasks={num_cores}"],
    "partitions": {"standard": {"num_cores": 128, "max_time": "24h"}}}}}"##;

fn no_tasks(xpr: &Xpr) {
    let listed = xpr.json(&["ls", "--json"]);
    assert_eq!(listed, serde_json::json!([]), "a dry run recorded a task");
}

#[test]
fn submit_dry_run_prints_the_script_and_commands_and_starts_nothing() {
    let xpr = Xpr::new().with_project_config(UNREACHABLE);
    xpr.write("in.txt", b"data\n");
    let out = xpr.run(&[
        "submit",
        "--dry-run",
        "-m",
        "far",
        "--num-nodes",
        "2",
        "--max-time",
        "3h",
        "-i",
        "in.txt",
        "--",
        "wc",
        "-l",
        "in.txt",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("#SBATCH --nodes=2"), "{text}");
    assert!(text.contains("#SBATCH --ntasks=256"), "{text}");
    assert!(text.contains("#SBATCH --time=3:00:00"), "{text}");
    assert!(text.contains("wc -l in.txt"), "{text}");
    assert!(text.contains("in.txt -> in.txt"), "{text}");
    assert!(text.contains("&& sbatch --parsable xpr_job.sh"), "{text}");
    assert!(text.contains("xpr-stage runs/"), "{text}");
    assert!(text.contains("nothing was started"), "{text}");
    no_tasks(&xpr);
}

#[test]
fn run_dry_run_json_is_one_record_per_task_with_its_script() {
    let xpr = Xpr::new().with_project_config(UNREACHABLE);
    let runs = xpr.json(&["run", "--dry-run", "--json", "-m", "far", "--", "hostname"]);
    let run = &runs[0];
    assert_eq!(run["system"], "far");
    assert_eq!(run["host"], "nobody@host.invalid");
    let id = run["id"].as_str().unwrap();
    assert!(id.starts_with("hostname_"), "{id}");
    assert!(
        run["remote_dir"]
            .as_str()
            .unwrap()
            .ends_with(&format!("run_{id}"))
    );
    assert!(
        run["script"].as_str().unwrap().contains("--ntasks=1"),
        "{run}"
    );
    assert_eq!(run["commands"].as_array().unwrap().len(), 2, "{run}");
    no_tasks(&xpr);
}

#[test]
fn sweep_dry_run_lists_every_point_and_starts_none() {
    let xpr = Xpr::new().with_project_config(UNREACHABLE);
    let out = xpr.run(&[
        "sweep",
        "fit",
        "--dry-run",
        "-m",
        "far",
        "-p",
        "k=1,2,3",
        "--",
        "echo",
        "{k}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.matches("\ntask ").count() + usize::from(text.starts_with("task ")),
        3,
        "{text}"
    );
    assert!(text.contains("3 tasks; nothing was started"), "{text}");
    no_tasks(&xpr);
}

#[test]
fn a_dry_run_with_a_missing_input_fails_naming_it() {
    let xpr = Xpr::new().with_project_config(UNREACHABLE);
    let out = xpr.run(&[
        "submit",
        "--dry-run",
        "-m",
        "far",
        "-i",
        "absent.txt",
        "--",
        "true",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("absent.txt"), "{}", stderr(&out));
    no_tasks(&xpr);
}
