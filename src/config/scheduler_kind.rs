//! [`SchedulerKind`]: the `scheduler` key of a system's config. It is config data (validation
//! reads it, the node finder asks whether a system has a batch system at all), so it lives
//! here, below the node finder and the scheduler adapters, which re-export it
//! (`xpr::scheduler::SchedulerKind`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which batch system a system runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerKind {
    /// Slurm (`sbatch`, `squeue`, `sacct`).
    Slurm,
    /// PBS Pro or Torque (`qsub`, `qstat`).
    Pbs,
    /// Son of / Univa / Open Grid Engine (`qsub`, `qstat`, `qacct`).
    Sge,
    /// IBM Spectrum LSF (`bsub`, `bjobs`).
    Lsf,
    /// No batch system: jobs run detached on the host, limited to its cores.
    Local,
}

impl SchedulerKind {
    /// Every kind, in a stable order (for messages listing the accepted values).
    pub const ALL: [SchedulerKind; 5] = [Self::Slurm, Self::Pbs, Self::Sge, Self::Lsf, Self::Local];

    /// The config spelling (`"slurm"`, `"pbs"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slurm => "slurm",
            Self::Pbs => "pbs",
            Self::Sge => "sge",
            Self::Lsf => "lsf",
            Self::Local => "local",
        }
    }

    /// The config spelling parsed back; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
