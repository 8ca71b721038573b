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
