//! Tasks: what a task is ([`TaskSpec`]), its identity hash, and the part of the job script
//! that runs it.
//!
//! A task's life (create, stage, submit, follow, collect, clean) is driven from here through
//! the jobs DB ([`crate::db`]), a transport and a scheduler; see the design notes in the
//! crate's README.

mod body;
mod id;
mod identity;
mod spec;

pub use body::{
    ARGS_FILE, EXIT_FILE, STARTED_FILE, STDERR_FILE, STDOUT_FILE, body_lines, is_env_name,
};
pub use id::{MAX_ID_LEN, id_prefix, is_task_id, new_task_id};
pub use identity::task_identity;
pub use spec::{TaskCommand, TaskSpec};
