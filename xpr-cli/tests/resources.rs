//! Memory, GPUs and account through the command line: `xpr nodes ... --json` shows the header
//! they render to (with and without the system's `resource_lines`), `--mem` steers the node
//! finder, bad values are usage errors, and on the built-in `local` system `--gpus` reaches the
//! local queue, which refuses a machine without them.

mod support;

use serde_json::{Value, json};
use support::{Xpr, stderr};

/// A Slurm system `opted` with `resource_lines`, the same system `expyre` without them, and a
/// PBS one with them; each with a small and a big-memory partition.
fn xpr() -> Xpr {
    let partitions = json!({
        "small": {"num_cores": 16, "max_mem": "64GB"},
        "bigmem": {"num_cores": 16, "max_mem": "1TB"}
    });
    let config = json!({"systems": {
        "opted": {"host": "h.example.org", "scheduler": "slurm", "resource_lines": true,
                  "partitions": partitions},
        "expyre": {"host": "h.example.org", "scheduler": "slurm", "partitions": partitions},
        "pbs": {"host": "p.example.org", "scheduler": "pbs", "resource_lines": true,
                "partitions": partitions}
    }});
    Xpr::new().with_project_config(&config.to_string())
}

/// `nodes SYSTEM --max-time 1h --num-nodes 1 EXTRA...`: the arguments of `xpr nodes`.
fn nodes_args<'a>(system: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["nodes", system, "--max-time", "1h", "--num-nodes", "1"];
    args.extend_from_slice(extra);
    args
}

/// `xpr nodes SYSTEM --max-time 1h --num-nodes 1 EXTRA... --json`.
fn nodes(xpr: &Xpr, system: &str, extra: &[&str]) -> Value {
    let mut args = nodes_args(system, extra);
    args.push("--json");
    xpr.json(&args)
}

fn header(v: &Value) -> Vec<String> {
    v["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn nodes_shows_memory_gpus_and_account_as_the_schedulers_lines() {
    let xpr = xpr();
    let plain = header(&nodes(&xpr, "opted", &[]));
    let asked = header(&nodes(
        &xpr,
        "opted",
        &["--mem", "4GB", "--gpus", "2", "--account", "e89-camm"],
    ));
    let added: Vec<&String> = asked.iter().filter(|l| !plain.contains(l)).collect();
    assert_eq!(
        added,
        [
            "#SBATCH --mem=4194304K",
            "#SBATCH --gres=gpu:2",
            "#SBATCH --account=e89-camm"
        ]
    );
    // --mem-per-core is Slurm's --mem-per-cpu; the long ExPyRe names still work.
    let per_core = header(&nodes(&xpr, "opted", &["--mem-per-core", "2GB"]));
    assert!(
        per_core.contains(&"#SBATCH --mem-per-cpu=2097152K".to_owned()),
        "{per_core:?}"
    );
    let long = header(&nodes(&xpr, "opted", &["--max-mem-per-core", "2GB"]));
    assert_eq!(long, per_core);

    let pbs = header(&nodes(&xpr, "pbs", &["--mem", "4GB", "--gpus", "1"]));
    assert!(
        pbs.contains(&"#PBS -l select=1:ncpus=16:mpiprocs=16:mem=4194304kb:ngpus=1".to_owned()),
        "{pbs:?}"
    );
}

#[test]
fn memory_steers_the_node_finder_and_stays_out_of_an_expyre_header() {
    let xpr = xpr();
    let plain = nodes(&xpr, "expyre", &[]);
    assert_eq!(plain["partition"], "small");
    let big = nodes(&xpr, "expyre", &["--mem", "512GB"]);
    assert_eq!(big["partition"], "bigmem");
    // No resource_lines: the header is ExPyRe's, the memory only chose the partition.
    let mut want = header(&plain);
    for line in &mut want {
        *line = line.replace("--partition=small", "--partition=bigmem");
    }
    assert_eq!(header(&big), want);

    let out = xpr.run(&nodes_args("expyre", &["--mem", "2TB"]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bigmem: max_mem_tot 2.0 TiB > 1.0 TiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gpus_or_an_account_that_would_not_reach_the_job_are_refused() {
    let xpr = xpr();
    for (flag, value) in [("--gpus", "1"), ("--account", "e89")] {
        let out = xpr.run(&nodes_args("expyre", &[flag, value]));
        let err = stderr(&out);
        assert!(!out.status.success(), "{flag}: {err}");
        assert!(
            err.contains(&format!("{flag} {value} would not reach the job"))
                && err.contains("resource_lines"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn bad_gpu_counts_and_account_names_are_usage_errors() {
    let xpr = xpr();
    for (flag, value) in [
        ("--gpus", "0"),
        ("--gpus", "two"),
        ("--account", "e89 camm"),
        ("--account", ""),
        ("--mem", "4XB"),
    ] {
        let out = xpr.run(&nodes_args("opted", &[flag, value]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value:?}: {err}");
        assert!(err.contains(flag), "{flag} {value:?}: {err}");
    }
}

#[test]
fn gpus_on_the_builtin_local_system_reach_the_local_queue() {
    // No config: the built-in `local`, whose queue counts GPUs as XPR_LOCAL_GPUS says.
    let none = Xpr::new().env("XPR_LOCAL_GPUS", "0");
    let out = none.run(&["run", "--gpus", "1", "--", "echo", "ran"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("needs 1 GPUs but this host has 0"), "{err}");
    assert!(!support::stdout(&out).contains("ran"));

    let two = Xpr::new().env("XPR_LOCAL_GPUS", "2");
    let out = two.run(&["run", "--gpus", "2", "--", "echo", "ran"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(support::stdout(&out), "ran\n");
}
