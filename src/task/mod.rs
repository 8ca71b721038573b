//! Tasks: what a task is ([`TaskSpec`]), its identity hash, and the part of the job script
//! that runs it.
//!
//! A task's life (create, stage, submit, follow, collect, clean) is driven by the engine
//! ([`crate::session`]) through the jobs DB, a transport and a scheduler; this module only
//! says what a task is. Of its own layer it imports only [`crate::stage`], whose entries the
//! identity hashes (see the layer table in the crate docs).

mod adopt;
mod body;
mod id;
mod identity;
mod spec;

pub use adopt::{AdoptError, AdoptedScript, adopt_batch_script};
pub use body::{
    ARGS_FILE, EXIT_FILE, STARTED_FILE, STDERR_FILE, STDOUT_FILE, body_lines, inputs_from_lines,
    is_env_name,
};
pub use id::{MAX_ID_LEN, id_prefix, is_task_id, new_task_id};
pub use identity::task_identity;
pub use spec::{TaskCommand, TaskSpec};
