//! One test's whole-life bed on the PBS and LSF SIMULATORS (`tests/simulators`: test doubles of
//! PBS Pro and LSF, not the real schedulers) over SSH on the test bed host `xpr-sim`: a stage
//! root with one system, `<kind>_sim`, a simulator spool of the test's own, and an ssh config
//! that selects it. Used by `tests/life_sim.rs`, `tests/life_sim_retries.rs` and
//! `tests/life_sim_arrays.rs`.
//!
//! `xpr-sim` is `xpr-hostB` as the test bed's simulator user, whose login shell puts the
//! simulators' `bin/` folders first on `PATH` (see `tests/testbed/README.md`), so a session
//! reaches `qsub`/`bsub` the way it reaches a cluster's scheduler: by name, with no per-command
//! environment. The spool (and, for LSF, a short minute) is picked through the test's own ssh
//! config's `SetEnv`; dropping the [`SimLife`] removes that spool, which stops every job the
//! test left behind, and the remote run dirs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;
use xpr::config::LoadedConfig;
use xpr::scheduler::SchedulerKind;
use xpr::session::Session;

use crate::common::Testbed;
use crate::life_support::{options, unique_root};

/// How many seconds a simulated LSF minute lasts in these tests (`XPR_SIM_LSF_MINUTE`): a task
/// with a one-minute run limit is killed after this long.
pub const LSF_MINUTE_SECS: u64 = 2;

/// One test's stage root, config and simulator spool on the simulator host. Dropping it removes
/// the spool (every simulated job of the test ends) and the remote run dirs.
pub struct SimLife {
    /// The local stage root (config, jobs DB, local run dirs).
    pub root: TempDir,
    /// Which simulator.
    pub kind: SchedulerKind,
    /// The simulator host's ssh alias.
    pub host: String,
    ssh_config: PathBuf,
    spool: String,
    /// The system's `rundir` on the host (relative to the simulator user's home).
    pub remote_root: String,
}

impl SimLife {
    /// A stage root with one system, `<kind>_sim`, on the test bed's simulator host; the
    /// simulators are installed there first.
    pub fn new(tb: &Testbed, kind: SchedulerKind) -> SimLife {
        Self::with_system(tb, kind, json!({}))
    }

    /// [`new`](Self::new), with the keys of `extra` (a JSON object, e.g.
    /// `{"max_array_size": 5}`) added to the system's config.
    pub fn with_system(tb: &Testbed, kind: SchedulerKind, extra: serde_json::Value) -> SimLife {
        let host = tb.var("XPR_SIM_SSH_HOST").to_owned();
        assert!(
            !host.is_empty(),
            "the test bed has no simulator host (XPR_SIM_SSH_HOST is empty: it needs the \
             namespace hosts)"
        );
        crate::sim_support::install_remote(&host, &tb.ssh_config());
        let (root, unique) = unique_root("xpr-life-sim-");
        let spool = format!(
            "{}/.xpr-sim/spools/{unique}-{kind}",
            tb.var("XPR_SIM_USER_HOME")
        );
        // ssh takes the first SetEnv it reads, so this one (the test's) comes before the
        // test bed's config.
        let ssh_config = root.path().join("ssh_config");
        std::fs::write(
            &ssh_config,
            format!(
                "Host {host}\n  SetEnv XPR_SIM_SPOOL={spool} XPR_SIM_LSF_MINUTE={LSF_MINUTE_SECS}\n\
                 Host *\nInclude {}\n",
                tb.ssh_config().display()
            ),
        )
        .unwrap();
        let remote_root = format!("xpr-life-tests/{unique}");
        let mut system = json!({
            "host": host,
            "scheduler": kind.as_str(),
            "remsh_cmd": format!("ssh -F {}", ssh_config.display()),
            "rundir": remote_root,
            "partitions": {"simq": {"num_cores": 4, "max_time": null, "max_mem": null}}
        });
        for (key, value) in extra.as_object().expect("extra system keys are an object") {
            system[key] = value.clone();
        }
        let config = root.path().join("config.json");
        std::fs::write(
            &config,
            json!({ "systems": { Self::system_name(kind): system } }).to_string(),
        )
        .unwrap();
        SimLife {
            root,
            kind,
            host,
            ssh_config,
            spool,
            remote_root,
        }
    }

    /// The system's name for `kind`: `pbs_sim` or `lsf_sim`.
    pub fn system_name(kind: SchedulerKind) -> String {
        format!("{kind}_sim")
    }

    /// This bed's system name.
    pub fn system(&self) -> String {
        Self::system_name(self.kind)
    }

    /// A session on the stage root (vanish timeout 60 s, polling every 0.3-2 s).
    pub fn session(&self) -> Session {
        let config = LoadedConfig::from_files(
            std::slice::from_ref(&self.root.path().join("config.json")),
            self.root.path(),
        )
        .unwrap();
        Session::open_with(config, options(Duration::from_secs(60))).unwrap()
    }

    /// The user's own folder of input files.
    pub fn work_dir(&self) -> PathBuf {
        let dir = self.root.path().join("work");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `script` on the simulator host with this test's settings (its spool), in the
    /// simulator user's home, with the simulators first on `PATH`.
    pub fn ssh(&self, script: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .arg(&self.host)
            .arg(script)
            .output()
            .unwrap()
    }

    /// [`ssh`](Self::ssh), and its stdout; panics with its stderr when it fails.
    pub fn ssh_ok(&self, script: &str) -> String {
        let out = self.ssh(script);
        assert!(
            out.status.success(),
            "`{script}` on {} failed ({}): {}",
            self.host,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for SimLife {
    fn drop(&mut self) {
        // Removing the spool makes each of its job runners kill its job and exit; wait
        // (bounded) until they are gone, so no simulated job outlives the test. (`[s]` keeps
        // the pattern from matching this shell's own command line.)
        let out = self.ssh(&format!(
            "rm -rf '{spool}' '{root}'; i=0; \
             while pgrep -u \"$(id -u)\" -f '[s]imcore.py run {spool} ' >/dev/null && [ $i -lt 100 ]; \
             do sleep 0.1; i=$((i+1)); done",
            spool = self.spool,
            root = self.remote_root,
        ));
        if !out.status.success() {
            eprintln!(
                "cleaning up {} on {} failed: {}",
                self.spool,
                self.host,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
