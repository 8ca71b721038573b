//! A dry run: what starting a request would do, shown and not done (`xpr run --dry-run`,
//! python-cluster's `make_job_file`).
//!
//! [`Session::dry_run`] goes through the same preparation as [`Session::start`]: the
//! profile's merge already applied by the caller, inputs resolved and hashed, the node
//! finder, the job script rendered from the system's templates, the task's id. It then
//! stops: nothing is written to the jobs DB, nothing staged, no connection opened. The
//! remote commands it lists are built by the same functions the system driver runs, so
//! what is shown is what would run.

use std::path::PathBuf;

use serde::Serialize;

use super::driver::{SubmitJob, stage_command, submit_line};
use super::{SCRIPT_FILE, Session, SessionError, StartRequest, StoredTask, Submission};
use crate::ids::{SystemName, TaskId};

/// What starting one request would do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DryRun {
    /// The task's id (the one a real start would give it, unless an identical task exists).
    pub id: TaskId,
    /// The system it would run on.
    pub system: SystemName,
    /// The host reached over SSH; `None` for this machine.
    pub host: Option<String>,
    /// Its remote run dir (relative paths are under the remote `$HOME`).
    pub remote_dir: String,
    /// Its local stage dir, where outputs would come back.
    pub local_dir: PathBuf,
    /// Its inputs: (local source, name in the run dir).
    pub inputs: Vec<(PathBuf, PathBuf)>,
    /// How it would reach the scheduler: `individual`, `array` or `packed`.
    pub submission: &'static str,
    /// The job script (`xpr_job.sh`), as the scheduler would get it.
    pub script: String,
    /// The remote commands, in order, with what each is for.
    pub commands: Vec<PlannedCommand>,
}

/// One remote command a start would run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedCommand {
    /// What it is for.
    pub what: String,
    /// The command as a shell line (xpr's own programs shown by the file they come from).
    pub line: String,
}

impl Session {
    /// What [`Session::start`] would do with `request`, without doing it (see the module
    /// docs). Errors are the ones the start would raise first: an unknown system, a missing
    /// input, no partition that fits.
    pub fn dry_run(&self, request: &StartRequest) -> Result<DryRun, SessionError> {
        let task = self.prepare(request)?;
        let stored: StoredTask =
            serde_json::from_str(&task.spec).expect("a prepared task's spec parses");
        let system = self.system(&request.system)?;
        let remote_dir = task.remote_dir.clone().unwrap_or_default();
        let scheduler = crate::scheduler::scheduler_for(system.scheduler);
        let submit = submit_line(
            system,
            scheduler.as_ref(),
            &SubmitJob {
                job_dir: &remote_dir,
                script: SCRIPT_FILE,
                text: None,
                array: None,
            },
        )
        .expect("a single job always has a submit line");
        let stage = show_programs(&stage_command(&stored.remote_base).to_shell_line());
        let mut commands = vec![
            PlannedCommand {
                what: format!(
                    "stage: a tar stream of run_{} ({SCRIPT_FILE} and the inputs) unpacked into {}",
                    task.id, stored.remote_base
                ),
                line: stage,
            },
            PlannedCommand {
                what: "submit, in xpr's batch program (src/session/sh/batch.sh) under the remote \
                       submit lock"
                    .to_owned(),
                line: String::from_utf8_lossy(&submit).into_owned(),
            },
        ];
        if request.submission != Submission::Individual {
            commands[1].what.push_str(
                " (shown for the task alone: as part of an array or a pack the group's script \
                 is submitted instead)",
            );
        }
        Ok(DryRun {
            id: task.id.clone(),
            system: system.name.clone(),
            host: system.host.clone(),
            remote_dir,
            local_dir: self.local_run_dir(&task.id),
            inputs: stored.inputs,
            submission: match request.submission {
                Submission::Individual => "individual",
                Submission::Array => "array",
                Submission::Packed(_) => "packed",
            },
            script: stored.script,
            commands,
        })
    }
}

/// A shell line with xpr's long embedded programs replaced by the file they come from.
fn show_programs(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line).into_owned();
    let quoted = String::from_utf8_lossy(&crate::command::shell_quote(std::ffi::OsStr::new(
        super::protocol::STAGE_PROGRAM,
    )))
    .into_owned();
    text.replace(&quoted, "\"$(cat src/session/sh/stage.sh)\"")
}
