//! Jobs that run several tasks: array chunks and packs.
//!
//! A task says how it reaches the scheduler ([`Submission`]): as its own job (the default),
//! as an element of a job array, or packed with others into few jobs. Every task keeps its own
//! run dir, job script (`xpr_job.sh`), logs, exit status marker, outputs, end state and
//! attempts; a group only changes how many scheduler jobs carry them.
//!
//! # Forming groups
//!
//! Groups are formed when staged tasks are submitted, from exactly the tasks that go now (the
//! cancelled left out, under a cap on queued jobs): the tasks of one remote base with the same
//! submission mode, resources and extra header lines, in creation order, are cut into chunks:
//!
//! - an array's under its size limit (the site's where the scheduler tells it, else the
//!   system's `max_array_size`, else the scheduler's default) and under the queue's free
//!   slots (each element counts as a job);
//! - a pack's of `K` tasks ([`PackSize::PerJob`]), or of `ceil(n / J)` for `J` jobs
//!   ([`PackSize::Jobs`]); a pack counts as one job.
//!
//! Array tasks on a scheduler without arrays (the local queue) go as jobs of their own.
//!
//! # The group's job
//!
//! Each group gets an id ([`GroupId`]), its job's name, and a dir `grp_<id>` beside the run
//! dirs for its script `xpr_group.sh` (written by the submit line itself, see the driver):
//!
//! - an array's script has the header of its tasks' resources (with the scheduler's array
//!   default lines: no `-r n` on PBS Pro) and maps the element's index to a run dir, then
//!   runs that task's own script there;
//! - a pack's script starts as many workers as the job's cores allow (cores / cores per task,
//!   at most one per task); each worker claims the next task nobody claimed (`mkdir`, which is
//!   atomic; a single worker needs no claims and runs them in turn) and runs its own script, skipping a task whose `xpr.exit` is already written (a
//!   pack the scheduler requeued runs only what did not finish); when all are done it writes
//!   `xpr.exit` in its own dir, so its tasks are collected together at once.
//!
//! Each task's script writes its own exit status last, as a job of its own does, so a pull
//! never takes a half-finished task for a finished one (a marker still empty is none).
//!
//! # Following
//!
//! Members are recorded with their group ([`GroupMember`]) as they go `submitting`; the reply
//! gives the job id (an array member gets its element's id, a pack member the pack's), and a
//! lost reply is looked up by the group's name. An array element is followed, cancelled and
//! accounted as a job of its own. A pack's members share its job: a member finished by its
//! own marker is finished whatever the pack did afterwards; a member without one when the pack
//! ended (killed half-way, timed out, cancelled by someone else) goes to a new attempt once
//! (`StoredTask::pack_restarts`), after which its end stands as its own retries say.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use serde::{Deserialize, Serialize};

use super::error::SessionError;
use super::{SCRIPT_FILE, Session};
use crate::command::shell_quote;
use crate::config::System;
use crate::db::{GroupMember, TaskRecord};
use crate::ids::GroupId;
use crate::resources::find_nodes;
use crate::scheduler::ArraySyntax;
use crate::task::{EXIT_FILE, new_task_id};

/// The file name of a group's script in its dir `grp_<id>`.
pub const GROUP_SCRIPT: &str = "xpr_group.sh";

/// How a task reaches the scheduler (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Submission {
    /// A scheduler job of its own.
    #[default]
    Individual,
    /// An element of a job array, with the other tasks of the same shape submitted with it.
    Array,
    /// Packed with other tasks of the same shape into few jobs.
    Packed(PackSize),
}

/// How many tasks go into one packed job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackSize {
    /// This many tasks per job (`--pack K`).
    PerJob(u32),
    /// The tasks submitted together spread over this many jobs (`--jobs J`).
    Jobs(u32),
}

impl Submission {
    /// True for [`Submission::Packed`].
    pub fn is_packed(&self) -> bool {
        matches!(self, Self::Packed(_))
    }
}

impl std::fmt::Display for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Individual => f.write_str("individual"),
            Self::Array => f.write_str("array"),
            Self::Packed(PackSize::PerJob(k)) => write!(f, "packed, {k} per job"),
            Self::Packed(PackSize::Jobs(j)) => write!(f, "packed into {j} jobs"),
        }
    }
}

/// What kind of job a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupKind {
    /// A job array: one element per member.
    Array(ArraySyntax),
    /// One job running all its members.
    Pack,
}

/// A group about to be submitted: its id, kind and script.
#[derive(Clone, Debug)]
pub(crate) struct GroupPlan {
    /// Its id: the job's name and the dir `grp_<id>`.
    pub id: GroupId,
    /// Array or pack.
    pub kind: GroupKind,
    /// The remote dir of its script.
    pub dir: String,
    /// The text of `xpr_group.sh`.
    pub script: String,
}

/// One scheduler job about to be submitted: a task of its own, or a group of them.
#[derive(Clone, Debug)]
pub(crate) struct Unit {
    /// The tasks it runs, in index order.
    pub members: Vec<TaskRecord>,
    /// `None` for a task of its own.
    pub group: Option<GroupPlan>,
}

impl Unit {
    /// How many jobs it adds to the queue, as a cap on queued jobs counts them.
    pub fn cost(&self) -> usize {
        match &self.group {
            Some(GroupPlan {
                kind: GroupKind::Array(_),
                ..
            }) => self.members.len(),
            _ => 1,
        }
    }

    /// Where member `index` stands in it.
    pub fn member(&self, index: usize) -> Option<GroupMember> {
        self.group.as_ref().map(|g| GroupMember {
            group: g.id.clone(),
            index: index as u32,
        })
    }
}

impl Session {
    /// Cuts `staged` tasks under `base` into the jobs to submit now (see the module docs),
    /// in creation order, taking no more than `slots` queue slots when that is set.
    /// `array_limit` is the most elements an array may have here.
    pub(crate) fn form_units(
        &self,
        system: &System,
        arrays: Option<ArraySyntax>,
        array_limit: u32,
        base: &str,
        staged: Vec<TaskRecord>,
        slots: Option<usize>,
    ) -> Result<Vec<Unit>, SessionError> {
        // Buckets of tasks that can share a job, in the order their first task came.
        let mut buckets: Vec<(Submission, Vec<TaskRecord>)> = Vec::new();
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        for record in staged {
            let stored = self.stored(&record)?;
            let mode = match stored.submission {
                Submission::Array if arrays.is_none() => Submission::Individual,
                mode => mode,
            };
            if mode == Submission::Individual {
                buckets.push((mode, vec![record]));
                continue;
            }
            let key = serde_json::to_string(&(mode, &stored.resources, &stored.extra_header))
                .expect("a submission key serialises");
            match by_key.get(&key) {
                Some(&i) => buckets[i].1.push(record),
                None => {
                    by_key.insert(key, buckets.len());
                    buckets.push((mode, vec![record]));
                }
            }
        }
        let mut free = slots;
        let mut units = Vec::new();
        for (mode, records) in buckets {
            let mut rest = records.as_slice();
            while !rest.is_empty() && free != Some(0) {
                let size = match mode {
                    Submission::Individual => 1,
                    Submission::Array => {
                        let cap =
                            free.map_or(array_limit as usize, |f| f.min(array_limit as usize));
                        rest.len().min(cap.max(1))
                    }
                    Submission::Packed(PackSize::PerJob(k)) => (k.max(1) as usize).min(rest.len()),
                    Submission::Packed(PackSize::Jobs(j)) => {
                        records.len().div_ceil(j.max(1) as usize).min(rest.len())
                    }
                };
                let (members, tail) = rest.split_at(size);
                rest = tail;
                let group = match mode {
                    Submission::Individual => None,
                    Submission::Array => Some(GroupKind::Array(arrays.expect("checked above"))),
                    Submission::Packed(_) => Some(GroupKind::Pack),
                };
                let unit = match group {
                    None => Unit {
                        members: members.to_vec(),
                        group: None,
                    },
                    Some(kind) => Unit {
                        group: Some(self.plan_group(system, base, kind, members)?),
                        members: members.to_vec(),
                    },
                };
                if let Some(f) = free.as_mut() {
                    *f = f.saturating_sub(unit.cost());
                }
                units.push(unit);
            }
        }
        Ok(units)
    }

    /// The id, dir and script of a group of `members` (all of one shape: the first one's
    /// resources and extra header lines stand for all).
    fn plan_group(
        &self,
        system: &System,
        base: &str,
        kind: GroupKind,
        members: &[TaskRecord],
    ) -> Result<GroupPlan, SessionError> {
        let first = self.stored(&members[0])?;
        let word = match kind {
            GroupKind::Array(_) => "array",
            GroupKind::Pack => "pack",
        };
        let id = GroupId::new(new_task_id(word, members[0].id.as_str()).as_str());
        let dir = format!("{}/grp_{id}", base.trim_end_matches('/'));
        let names: Vec<String> = super::run_dir_names(members)?;
        // Tasks recorded before resources were stored are never grouped (they predate it).
        let resources = first
            .resources
            .clone()
            .ok_or_else(|| SessionError::InvalidTask {
                name: members[0].name.clone(),
                why: "its stored spec has no resources to write a group's header from".to_owned(),
            })?;
        let exec = system.script_exec.trim();
        let (body, array) = match kind {
            GroupKind::Array(syntax) => (array_runner(syntax, &names, exec), true),
            GroupKind::Pack => {
                let alloc = find_nodes(system, &resources)?;
                let per_task = alloc.ncores_per_task.max(1);
                let slots = (alloc.num_cores / per_task).max(1) as usize;
                (pack_runner(slots.min(names.len()), &names), false)
            }
        };
        let script = self.render_job_script(
            system,
            &resources,
            id.as_str(),
            &dir,
            &first.extra_header,
            body,
            array,
            &first.spec.script_directives,
        )?;
        Ok(GroupPlan {
            id,
            kind,
            dir,
            script,
        })
    }
}

/// One shell word for `text`.
fn quoted(text: &str) -> String {
    String::from_utf8(shell_quote(OsStr::new(text))).expect("quoting keeps UTF-8")
}

/// The body of an array's script: element -> run dir -> that task's own script.
fn array_runner(syntax: ArraySyntax, run_dirs: &[String], exec: &str) -> Vec<String> {
    let var = syntax.index_var;
    let mut lines = vec![
        format!(
            "# --- xpr: an array of {} tasks; element ${var} runs the task at its index",
            run_dirs.len()
        ),
        format!("case $((${{{var}}} - {})) in", syntax.first_index),
    ];
    for (i, dir) in run_dirs.iter().enumerate() {
        lines.push(format!("  {i}) xpr_d={} ;;", quoted(dir)));
    }
    lines.push(format!(
        "  *) printf 'xpr: no task for array element %s\\n' \"${{{var}}}\" >&2; exit 1 ;;"
    ));
    lines.push("esac".to_owned());
    lines.push("cd -- ../\"$xpr_d\" || exit 1".to_owned());
    lines.push(format!("exec {exec} {SCRIPT_FILE}"));
    lines
}

/// The body of a pack's script: `slots` workers share out its tasks.
fn pack_runner(slots: usize, run_dirs: &[String]) -> Vec<String> {
    let words: Vec<String> = run_dirs.iter().map(|d| quoted(d)).collect();
    // Sourced in a subshell of this same interpreter (the pack's `#!` is the tasks'): a new
    // shell per task would double the cost of a short one.
    let run_task = [
        "    # shellcheck source=/dev/null".to_owned(),
        format!("    ( cd -- ../\"$xpr_d\" && . ./{SCRIPT_FILE} ) < /dev/null > /dev/null 2>&1"),
    ];
    let skip_finished = format!("    [ -s ../\"$xpr_d\"/{EXIT_FILE} ] && continue");
    let mut lines = if slots <= 1 {
        // One worker: the tasks in turn, no claims (a claim is a process: as much again as a
        // short task).
        let mut lines = vec![
            format!(
                "# --- xpr: a pack of {} tasks, one after another",
                run_dirs.len()
            ),
            format!("for xpr_d in {}; do", words.join(" ")),
            skip_finished,
        ];
        lines.extend(run_task);
        lines.push("done".to_owned());
        lines
    } else {
        let mut lines = vec![
            format!(
                "# --- xpr: a pack of {} tasks, {slots} at a time; each worker claims the next \
                 task nobody claimed",
                run_dirs.len()
            ),
            // A requeued pack starts over: claims of its last run go, finished tasks are
            // skipped.
            "rm -rf -- claim.*".to_owned(),
            "xpr_worker() {".to_owned(),
            "  for xpr_d in \"$@\"; do".to_owned(),
            skip_finished,
            "    mkdir \"claim.$xpr_d\" 2>/dev/null || continue".to_owned(),
        ];
        lines.extend(run_task);
        lines.extend([
            "  done".to_owned(),
            "}".to_owned(),
            format!("set -- {}", words.join(" ")),
            "xpr_w=0".to_owned(),
            format!("while [ \"$xpr_w\" -lt {slots} ]; do"),
            "  xpr_worker \"$@\" &".to_owned(),
            "  xpr_w=$((xpr_w + 1))".to_owned(),
            "done".to_owned(),
            "wait".to_owned(),
        ]);
        lines
    };
    // The pack is over: its tasks are collected together (see the follow module).
    lines.push(format!(
        "printf 'done\\n' > {EXIT_FILE}.tmp && mv -f {EXIT_FILE}.tmp {EXIT_FILE}"
    ));
    lines
}
