//! # xpr: run work on HPC clusters from a laptop
//!
//! `xpr` keeps a registry of named systems read from layered `config.json` files (ExPyRe's
//! format), turns a resource request ("2 nodes, 4 h, bigmem") into a partition and node counts,
//! writes the batch script from the system's header templates, and drives the remote scheduler
//! (Slurm, PBS, Grid Engine, LSF, or none) through a transport (this machine, or one multiplexed
//! OpenSSH connection per host).
//!
//! The library is the product; the `xpr` command line is a thin layer over it.
//!
//! Layers, bottom up: a module imports only modules of the layers below its own, never one
//! above (`tests/layering.rs` checks every `crate::` and `super::` path in `src/` against
//! this table). Rows of one layer import each other only where the table says so.
//!
//! | module | layer | owns |
//! |---|---|---|
//! | [`ids`] | 0 | newtype identifiers: system names, task ids, scheduler job ids |
//! | [`command`] | 0 | a command as data ([`command::CommandSpec`]) and its output |
//! | [`units`] | 1 | time and memory units in ExPyRe's spellings (seconds, kB) |
//! | [`config`] | 2 | finding, merging, validating `config.json`; systems, partitions |
//! | [`resources`] | 3 | resource requests, the node finder (which uses `request`, not back) |
//! | [`template`] | 4 | the `{key}` header template language |
//! | [`scheduler`] | 5 | per-scheduler script, command building and reply parsing (pure) |
//! | [`transport`] | 6 | running commands and moving bytes, locally or over SSH |
//! | [`stage`] | 7 | packing inputs and unpacking outputs as tar streams, safely |
//! | [`task`] | 7 | a task's spec, identity and job script body; may import [`stage`] |
//! | [`sweep`] | 7 | parameter sweeps: a grid, zip or points file expanded into points, substituted into a task's command and name (pure); may import [`task`] |
//! | [`db`] | 7 | the jobs DB: tasks, their states and history, in one SQLite file |
//! | [`analysis`] | 7 | failure analysis: the error lines of a task's logs, by patterns minus a whitelist (pure) |
//! | [`discover`] | 8 | `xpr discover`: which scheduler a host runs and its partitions, in one round trip (a `.sh` probe, pure parsers of each command's reply), as a ready `systems` entry merged atomically into a config file |
//! | [`session`] | 8 | the engine: a system driver per system (the only code that talks to a remote side), pure decisions (what a job's end means), thin orchestrators of DB transitions (submit, follow, cancel, clean); profile merging and delivering outputs to a destination; the API ([`session::Session`], [`session::BlockingSession`]) |
//! | [`doctor`] | 9 | `xpr doctor`: is a system ready (config, SSH, a clean shell, the scheduler, accounting, the run dir, partitions against the cluster's, clock skew); a `.sh` probe and pure judging of its reply |
//!
//! Moved down to keep that order, and still reachable at their old paths:
//! [`units`] (also `resources::units`, `resources::parse_time` ...) and
//! [`config::SchedulerKind`] (also `scheduler::SchedulerKind`).
//!
//! ```
//! use xpr::config::Config;
//! use xpr::resources::{CountRequest, Resources};
//!
//! // The built-in `local` system exists with no config file at all.
//! let config = Config::builtin();
//! let local = config.system("local").unwrap();
//! let request = Resources::new(CountRequest::Cores(1)).with_max_time(60);
//! let alloc = xpr::resources::find_nodes(local, &request).unwrap();
//! assert_eq!(alloc.num_cores, 1);
//! ```

pub mod analysis;
pub mod command;
pub mod config;
pub mod db;
pub mod discover;
pub mod doctor;
pub mod ids;
pub mod resources;
pub mod scheduler;
pub mod session;
pub mod stage;
pub mod sweep;
pub mod task;
pub mod template;
pub mod transport;
pub mod units;
