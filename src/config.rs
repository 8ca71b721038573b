//! Systems and partitions, read from layered ExPyRe-format `config.json` files.
//!
//! OWNER: config helper. Skeleton: the types below are the interface the rest of the crate
//! builds against; loading, merging and validation are still to write.

use std::path::PathBuf;

use crate::ids::SystemName;
use crate::scheduler::SchedulerKind;

/// The merged configuration: every system by name, in config order.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The systems, in the order the merged config lists them (the built-in `local` first
    /// unless a config redefines it).
    pub systems: Vec<System>,
    /// Top-level `local_stage_dir`, if given.
    pub local_stage_dir: Option<PathBuf>,
    /// Top-level `remote_rundir_submit_hostname`, if given.
    pub remote_rundir_submit_hostname: Option<String>,
}

impl Config {
    /// The configuration with only the built-in `local` system: what xpr uses when no
    /// `config.json` exists.
    pub fn builtin() -> Self {
        todo!("config helper")
    }

    /// The system called `name`, if the config has one.
    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name.as_str() == name)
    }
}

/// One named system: where it is, which scheduler it runs, and its partitions.
#[derive(Clone, Debug, PartialEq)]
pub struct System {
    /// The system's name (its key under `systems`).
    pub name: SystemName,
    /// `user@host` to reach over SSH, or `None` for this machine.
    pub host: Option<String>,
    /// The batch system.
    pub scheduler: SchedulerKind,
    /// Partitions (or queues) in config order; the node finder's tie-break depends on it.
    pub partitions: Vec<Partition>,
    /// The system's header template lines.
    pub header: Vec<String>,
    /// When true, the scheduler's default header lines are left out.
    pub no_default_header: bool,
    /// The interpreter of job scripts (`#!` line); default `/bin/bash`.
    pub script_exec: String,
    /// Shell lines run (remotely) before each submission.
    pub pre_submit_cmds: Vec<String>,
    /// Lines every job script runs after `cd` to its directory (module loads etc.).
    pub commands: Vec<String>,
    /// The remote run directory (relative = under `$HOME`); `None` when not set.
    pub rundir: Option<String>,
    /// The remote shell command, when set in the config.
    pub remsh_cmd: Option<String>,
}

/// One partition (or queue, or node type) of a system.
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    /// The key in the config; what partition regexps match (may name several real ones,
    /// e.g. `"node16_old,node16_new"`).
    pub name: String,
    /// Cores per node.
    pub num_cores: u32,
    /// Longest run time allowed, in seconds; `None` = unlimited.
    pub max_time: Option<u64>,
    /// Memory per node in kB; `None` = not checked.
    pub max_mem: Option<u64>,
    /// Header template lines added for this partition.
    pub header: Vec<String>,
    /// The scheduler's own name for it, used as `{partition}`; defaults to `name`.
    pub partition: Option<String>,
}

impl Partition {
    /// The name the scheduler knows: `partition` if given, else the key.
    pub fn scheduler_name(&self) -> &str {
        self.partition.as_deref().unwrap_or(&self.name)
    }
}
