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
//! Layers, bottom up (each knows nothing of the ones above it):
//!
//! | module | owns |
//! |---|---|
//! | [`ids`] | newtype identifiers: system names, task ids, scheduler job ids |
//! | [`command`] | a command as data ([`command::CommandSpec`]) and its output |
//! | [`config`] | finding, merging and validating `config.json`; systems and partitions |
//! | [`resources`] | time and memory units, resource requests, the node finder |
//! | [`template`] | the `{key}` header template language |
//! | [`scheduler`] | per-scheduler script, command building and reply parsing (pure) |
//! | [`transport`] | running commands and moving bytes, locally or over SSH |
//! | [`task`] | a task's spec, identity and job script body |
//! | [`session`] | the entry point: a task's life (start, results, cancel, clean) over a jobs DB |
//! | [`monitor`] | following jobs (batched status and accounting) and collecting their outputs |
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

pub mod command;
pub mod config;
pub mod db;
pub mod ids;
pub mod resources;
pub mod scheduler;
pub mod session;
pub mod stage;
pub mod task;
pub mod template;
pub mod transport;
