//! Helpers of the `life_*` tests: a config in a temp stage root pointing at the test bed, and
//! small task builders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use xpr::config::LoadedConfig;
use xpr::resources::{CountRequest, Resources};
use xpr::session::{Session, SessionOptions};

use crate::common::Testbed;

/// A temp stage root with a config.json; the remote run dirs of its systems live under
/// `~xprtest/<remote_root>`, removed on drop.
pub struct Bed {
    pub root: TempDir,
    pub config: PathBuf,
    pub remote_root: String,
    pub ssh_config: Option<PathBuf>,
}

impl Bed {
    /// A stage root whose config holds `systems` (a JSON object). Each system with a host
    /// gets `remsh_cmd` with the test bed's ssh config and `rundir` under a unique dir.
    pub fn new(tb: Option<&Testbed>, mut systems: Value) -> Bed {
        let (root, unique) = unique_root("xpr-life-");
        let remote_root = format!("xpr-life-tests/{unique}");
        let ssh_config = tb.map(|tb| tb.ssh_config());
        for (_, system) in systems.as_object_mut().unwrap() {
            if system.get("host").is_some_and(|h| !h.is_null()) {
                let cfg = ssh_config
                    .as_ref()
                    .expect("remote systems need the test bed");
                system["remsh_cmd"] = json!(format!("ssh -F {}", cfg.display()));
                system["rundir"] = json!(remote_root);
            }
        }
        let config = root.path().join("config.json");
        std::fs::write(&config, json!({ "systems": systems }).to_string()).unwrap();
        Bed {
            root,
            config,
            remote_root,
            ssh_config,
        }
    }

    pub fn loaded(&self) -> LoadedConfig {
        LoadedConfig::from_files(std::slice::from_ref(&self.config), self.root.path()).unwrap()
    }

    /// A session with fast polls and `vanish` as the vanish timeout.
    pub fn session(&self, vanish: Duration) -> Session {
        Session::open_with(self.loaded(), options(vanish)).unwrap()
    }

    /// A directory for the user's own files (inputs), outside the stage root's run dirs.
    pub fn work_dir(&self) -> PathBuf {
        let dir = self.root.path().join("work");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `cmd` on `host` of the test bed (for checks and clean-up).
    pub fn ssh(&self, host: &str, cmd: &str) -> std::process::Output {
        std::process::Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config.as_ref().unwrap())
            .arg(host)
            .arg(cmd)
            .output()
            .unwrap()
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        if self.ssh_config.is_some() {
            let _ = self.ssh("xpr-local", &format!("rm -rf {}", self.remote_root));
        }
    }
}

pub fn options(vanish: Duration) -> SessionOptions {
    SessionOptions {
        min_poll_interval: Duration::from_millis(300),
        max_poll_interval: Duration::from_secs(2),
        vanish_timeout: vanish,
        ..SessionOptions::default()
    }
}

/// One core on one node (any scheduler).
pub fn one_core() -> Resources {
    Resources::new(CountRequest::Cores(1)).with_partial_node(true)
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Closes every ssh master whose control socket is in `dir` (those of a killed process).
pub fn close_masters(dir: &std::path::Path, host: &str) {
    use std::os::unix::fs::FileTypeExt;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_socket()) {
            let _ = std::process::Command::new("ssh")
                .args(["-F", "/dev/null", "-S"])
                .arg(entry.path())
                .args(["-O", "exit", host])
                .output();
        }
    }
}

/// A fresh temp stage root named `<prefix>XXXXXX`, and that name (unique on this machine: the
/// tests use it for their remote run dirs too).
pub fn unique_root(prefix: &str) -> (TempDir, String) {
    let root = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let unique = root
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    (root, unique)
}

/// `count` tasks on `system`, task `i` named `crash {i}` writing `i` to its output `out.txt`:
/// what the crash tests submit, so that each result shows which task made it.
pub fn numbered_requests(count: usize, system: &str) -> Vec<xpr::session::StartRequest> {
    (0..count)
        .map(|i| {
            let mut spec = xpr::task::TaskSpec::argv(
                format!("crash {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo \"$1\" > out.txt".to_owned(),
                    "sh".to_owned(),
                    i.to_string(),
                ],
            );
            spec.outputs = vec!["out.txt".into()];
            xpr::session::StartRequest::new(spec, system, one_core())
        })
        .collect()
}

/// The test bed's Slurm on `xpr-local` with one 16-core partition, as the `life_*` tests
/// name it, with `extra` keys added.
pub fn slurm_system(extra: Value) -> Value {
    let mut system = json!({"host": "xpr-local", "scheduler": "slurm",
        "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}});
    for (key, value) in extra.as_object().unwrap() {
        system[key] = value.clone();
    }
    system
}

/// Slurm's own records of the jobs named by `ids` (xpr names a job by its task id), by name,
/// once slurmdbd has a record of each (it may lag the controller a little).
pub fn slurm_jobs_by_name(
    bed: &Bed,
    ids: &[xpr::ids::TaskId],
) -> std::collections::HashMap<String, Vec<String>> {
    let names: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    crate::common::wait_for(
        "slurmdbd to record every job",
        Duration::from_secs(90),
        || {
            let out = bed.ssh(
                "xpr-local",
                &format!(
                    "sacct -n -P -X --starttime=now-6hours --name={} --format=JobName,JobID",
                    names.join(",")
                ),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut jobs: std::collections::HashMap<String, Vec<String>> = Default::default();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let (name, job) = line.split_once('|').unwrap();
                jobs.entry(name.to_owned())
                    .or_default()
                    .push(job.to_owned());
            }
            ids.iter()
                .all(|id| jobs.contains_key(id.as_str()))
                .then_some(jobs)
        },
    )
}

/// Samples how many jobs named by `ids` Slurm's queue (`squeue`) holds, again and again
/// until [`QueueSampler::stop`].
pub struct QueueSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<usize>>,
}

impl QueueSampler {
    /// Starts sampling the queue of `xpr-local` on `bed`.
    pub fn start(bed: &Bed, ids: &[xpr::ids::TaskId]) -> QueueSampler {
        let names: std::collections::HashSet<String> =
            ids.iter().map(|id| id.as_str().to_owned()).collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ssh_config = bed.ssh_config.clone().unwrap();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let out = std::process::Command::new("ssh")
                    .arg("-F")
                    .arg(&ssh_config)
                    .args(["xpr-local", "squeue -h -o %j"])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                samples.push(text.lines().filter(|n| names.contains(*n)).count());
            }
            samples
        });
        QueueSampler { stop, thread }
    }

    /// Stops sampling; the counts seen, in order.
    pub fn stop(self) -> Vec<usize> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
