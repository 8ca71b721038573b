//! The same N tasks through ExPyRe (PyPI `expyre-wfl`), the Python tool xpr succeeds, on the
//! same Slurm over the same link.
//!
//! ExPyRe runs Python functions: each task is `shutil.copyfile("in.txt", "out.txt")` with the
//! task's `in.txt` as input file and `out.txt` as output file, submitted with `ExPyRe.start`
//! one after the other (its only way) and gathered with `get_results(check_interval=1)`, so its
//! polling is no slower than xpr's. Its config is the equivalent ExPyRe `config.json`, with a
//! one-word `remsh_cmd` wrapper that runs ssh with the link's ssh config. ExPyRe is taken from the system
//! Python if importable, else from `--expyre-venv DIR`, else pip-installed into a venv in the
//! bench's scratch dir.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::{Link, Task};

/// What ExPyRe's driver prints on its last line (JSON).
#[derive(Debug, serde::Deserialize)]
struct Report {
    wall: f64,
    submitted: f64,
    ok: usize,
}

const DRIVER: &str = r#"
import json, os, shutil, sys, time
t0 = time.time()
from expyre.func import ExPyRe
n, work, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jobs = []
for i in range(n):
    os.chdir(os.path.join(work, f"t{i}"))
    x = ExPyRe(f"{token}-{i}", function=shutil.copyfile, args=["in.txt", "out.txt"],
               input_files=["in.txt"], output_files=["out.txt"], try_restart_from_prev=False)
    x.start(resources={"max_time": "10m", "num_cores": 1}, system_name="bench", partial_node=True)
    jobs.append(x)
t1 = time.time()
for x in jobs:
    x.get_results(timeout=int(sys.argv[4]), check_interval=1, quiet=True)
t2 = time.time()
ok = 0
for i, x in enumerate(jobs):
    with open(os.path.join(work, f"t{i}", "in.txt")) as a, open(os.path.join(x.stage_dir, "out.txt")) as b:
        ok += a.read() == b.read()
    x.mark_processed()
print(json.dumps({"wall": t2 - t0, "submitted": t1 - t0, "ok": ok}))
"#;

/// A Python that can import ExPyRe: the system's, `venv`'s, or a fresh venv in `scratch`.
pub fn python(venv: Option<&Path>, scratch: &Path) -> Result<PathBuf, String> {
    let importable = |python: &Path| {
        Command::new(python)
            .args(["-c", "import expyre.func"])
            .env("EXPYRE_ROOT", scratch)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let system = PathBuf::from("python3");
    if importable(&system) {
        return Ok(system);
    }
    let venv = venv
        .map(Path::to_path_buf)
        .unwrap_or_else(|| scratch.join("expyre-venv"));
    let python = venv.join("bin/python");
    if importable(&python) {
        return Ok(python);
    }
    eprintln!(
        "ExPyRe: installing expyre-wfl with pip into {}",
        venv.display()
    );
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "expyre-wfl==0.1.6",
    ]))?;
    if importable(&python) {
        Ok(python)
    } else {
        Err("expyre-wfl installed but `import expyre.func` fails".to_owned())
    }
}

/// Runs the tasks through ExPyRe in `root` (its EXPYRE_ROOT; inputs in `root/work/t<i>/in.txt`);
/// returns ExPyRe's wall time from import to all results local.
pub fn run(
    python: &Path,
    link: &Link,
    root: &Path,
    remote_dir: &str,
    token: &str,
    tasks: &[Task],
    timeout: Duration,
) -> Result<Duration, String> {
    let work = root.join("work");
    super::write_inputs(&work, tasks)?;
    // ExPyRe passes a multi-word `remsh_cmd` to `rsync -e` unquoted (a known weak point of
    // it), so it gets a one-word wrapper that adds the link's ssh config.
    let wrapper = root.join("ssh-link");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec ssh -F {} \"$@\"\n",
            super::limit::shell_word(&link.ssh_config.to_string_lossy())
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let config = json!({"systems": {"bench": {
        "host": "xpr-local",
        "remsh_cmd": wrapper,
        "scheduler": "slurm",
        "rundir": remote_dir,
        "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}},
    }}});
    std::fs::write(root.join("config.json"), config.to_string()).map_err(|e| e.to_string())?;
    let out = Command::new(python)
        .args(["-c", DRIVER])
        .arg(tasks.len().to_string())
        .arg(&work)
        .arg(token)
        .arg(timeout.as_secs().to_string())
        .env("EXPYRE_ROOT", root)
        .env("EXPYRE_RETRY", "2 2")
        .current_dir(root)
        .output()
        .map_err(|e| format!("starting {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Option<Report> = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok());
    match report {
        Some(r) if out.status.success() && r.ok == tasks.len() => {
            eprintln!(
                "  expyre: submitted in {:.1} s, all results local at {:.1} s",
                r.submitted, r.wall
            );
            Ok(Duration::from_secs_f64(r.wall))
        }
        Some(r) => Err(format!("ExPyRe: {} of {} outputs right", r.ok, tasks.len())),
        None => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            Err(format!(
                "ExPyRe failed ({}): {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        }
    }
}
