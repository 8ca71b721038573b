//! Parsing `qstat -xml` listings (the queue's current jobs) and `qstat -j ID -xml` details.
//!
//! A listing is `<job_info>` holding `<queue_info>` (jobs placed in a queue: running,
//! suspended, being deleted) and `<job_info>` (pending jobs), each a list of `<job_list>`
//! elements. A `<job_list>` is one job, or for an array job one task (`<tasks>4</tasks>`) or a
//! set of pending tasks (`<tasks>1-5:1</tasks>`, `<tasks>1,2</tasks>`). xpr asks with `-g d` so
//! that every task has its own row, but ranges from other invocations are expanded here, so a
//! [`JobStatus`] always names a job (`123`) or one task (`123.4`).
//!
//! # States
//!
//! `<state>` is a string of letters (`qw`, `hqw`, `r`, `Rr`, `dr`, `Eqw`, `hRwq`, `s`, ...);
//! the strongest letter wins:
//!
//! | letters | [`JobState`] | why |
//! |---|---|---|
//! | `E` | `Failed { exit_code: None }` | error state: the job never ran and never will unless an admin clears it (`qmod -cj`); it stays listed, so the reason says how to see why (`qstat -j ID`) and how to remove it (`qdel ID`) |
//! | `d` | `Cancelled` | deletion is under way and irrevocable; accounting later shows only a kill (`failed 100`, exit 137), so this is the one place a cancellation is plain |
//! | `r`, `t` | `Running` | also with `R` (restarted), `s`/`S`/`T` (suspended while placed) or `h` (a hold on a running job has no effect) |
//! | `s`, `S`, `T` | `Running` | suspended jobs keep their slots; [`JobState::Running`] covers them |
//! | `h` | `Held` | `hqw`, `hRwq`: a user, operator or system hold, or a `-hold_jid` dependency |
//! | `q`, `w` | `Queued` | |
//! | anything else | `Unknown { raw }` | |

use crate::scheduler::sge::ids::{MAX_TASKS, SgeId, TaskRange};
use crate::scheduler::sge::parse_error;
use crate::scheduler::sge::xml::{Element, parse_document};
use crate::scheduler::{JobState, JobStatus, ParseError};

const WHAT: &str = "qstat -xml output";
const WHAT_DETAIL: &str = "qstat -j -xml output";

/// One `<job_list>` row of a `qstat -xml` listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QstatRow {
    /// The job number.
    pub job: u64,
    /// The array tasks this row stands for (empty for a plain job).
    pub tasks: Vec<u64>,
    /// The job name (`JB_name`), verbatim.
    pub name: Option<String>,
    /// The owner (`JB_owner`).
    pub owner: Option<String>,
    /// The state letters (`qw`, `r`, `Eqw` ...).
    pub state: String,
    /// The queue instance (`all.q@node1`) for placed jobs.
    pub queue: Option<String>,
    /// Slots granted or requested.
    pub slots: Option<u32>,
}

impl QstatRow {
    /// The host part of the queue instance (`all.q@node1` -> `node1`).
    pub fn host(&self) -> Option<&str> {
        self.queue
            .as_deref()
            .and_then(|q| q.split_once('@'))
            .map(|(_, host)| host)
            .filter(|h| !h.is_empty())
    }
}

/// The rows of a `qstat -xml` listing, in document order (queued-in-queue first, then
/// pending). Every row must carry a valid job number and a state.
pub fn parse_qstat_xml(text: &str) -> Result<Vec<QstatRow>, ParseError> {
    let root = parse_document(text, WHAT)?;
    if root.name != "job_info" {
        return Err(parse_error(
            WHAT,
            format!(
                "the document is <{}>, not a job listing <job_info> (was -j given?)",
                root.name
            ),
            None,
        ));
    }
    let mut rows = Vec::new();
    root.descendants("job_list", &mut rows);
    rows.into_iter().map(row_from_element).collect()
}

fn row_from_element(element: &Element) -> Result<QstatRow, ParseError> {
    let number = element.child_text("JB_job_number").unwrap_or("");
    let snippet = || Some(format!("<JB_job_number>{number}</JB_job_number>"));
    let id = SgeId::parse(number)
        .filter(|id| id.tasks.is_none())
        .ok_or_else(|| {
            parse_error(
                WHAT,
                "a <job_list> without a valid job number".to_owned(),
                snippet(),
            )
        })?;
    let state = element
        .child_text("state")
        .ok_or_else(|| parse_error(WHAT, format!("job {number} has no <state>"), None))?;
    let tasks = match element.child_text("tasks") {
        Some(tasks) => expand_tasks(tasks).ok_or_else(|| {
            parse_error(
                WHAT,
                format!("job {number} has an invalid task list"),
                Some(tasks.to_owned()),
            )
        })?,
        None => Vec::new(),
    };
    Ok(QstatRow {
        job: id.job,
        tasks,
        name: element.child_text("JB_name").map(str::to_owned),
        owner: element.child_text("JB_owner").map(str::to_owned),
        state: state.to_owned(),
        queue: element.child_text("queue_name").map(str::to_owned),
        slots: element.child_text("slots").and_then(|s| s.parse().ok()),
    })
}

/// Expands `1`, `1-5:1`, `1,2`, `1-3:1,7` into task numbers; `None` when malformed or larger
/// than [`MAX_TASKS`].
pub fn expand_tasks(text: &str) -> Option<Vec<u64>> {
    let ranges = text
        .split(',')
        .map(|part| TaskRange::parse(part.trim()))
        .collect::<Option<Vec<_>>>()?;
    let total = ranges.iter().map(TaskRange::len).try_fold(0u64, |acc, n| {
        acc.checked_add(n).filter(|&t| t <= MAX_TASKS)
    })?;
    let mut tasks = Vec::with_capacity(usize::try_from(total).ok()?);
    for range in ranges {
        tasks.extend(range.tasks());
    }
    Some(tasks)
}

/// The job states in a listing: one per plain job and one per array task. `name_of` turns the
/// scheduler's job name into the name reported (see the module docs of `sge`).
pub fn statuses_from_rows(rows: &[QstatRow], name_of: impl Fn(&str) -> String) -> Vec<JobStatus> {
    let mut out = Vec::new();
    for row in rows {
        let (state, reason) = state_from_letters(&row.state);
        let ids: Vec<SgeId> = if row.tasks.is_empty() {
            vec![SgeId {
                job: row.job,
                tasks: None,
            }]
        } else {
            row.tasks.iter().map(|&t| SgeId::task(row.job, t)).collect()
        };
        for id in ids {
            out.push(JobStatus {
                id: id.to_job_id(),
                name: row.name.as_deref().map(&name_of),
                state: state.clone(),
                raw_state: row.state.clone(),
                exit_code: None,
                node: row.host().map(str::to_owned),
                reason: reason.as_ref().map(|r| r.replace("{id}", &id.to_string())),
                ..JobStatus::new(id.to_job_id(), state.clone())
            });
        }
    }
    out
}

/// The [`JobState`] of `qstat` state letters (table in the module docs), with a reason for the
/// states a user may need to act on (`{id}` stands for the job id).
pub fn state_from_letters(letters: &str) -> (JobState, Option<String>) {
    let has = |c: char| letters.contains(c);
    if letters.is_empty() || !letters.chars().all(|c| "qwhrRtsSTdEz".contains(c)) {
        return (
            JobState::Unknown {
                raw: letters.to_owned(),
            },
            None,
        );
    }
    if has('E') {
        return (
            JobState::Failed { exit_code: None },
            Some(
                "grid engine put the job in error state: it will not start (hint: `qstat -j {id}` \
                 shows the error reason; `qdel {id}` removes the job)"
                    .to_owned(),
            ),
        );
    }
    if has('d') {
        return (JobState::Cancelled, Some("deletion in progress".to_owned()));
    }
    if has('r') || has('t') || has('s') || has('S') || has('T') {
        let reason = (has('s') || has('S') || has('T')).then(|| "suspended".to_owned());
        return (JobState::Running, reason);
    }
    if has('h') {
        return (JobState::Held, None);
    }
    if has('q') || has('w') {
        return (JobState::Queued, None);
    }
    (
        JobState::Unknown {
            raw: letters.to_owned(),
        },
        None,
    )
}

/// One job of a `qstat -j ID -xml` document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDetail {
    /// The job number.
    pub job: u64,
    /// The job name (`JB_job_name`).
    pub name: Option<String>,
    /// The owner (`JB_owner`).
    pub owner: Option<String>,
    /// The array tasks the document lists (`JAT_task_number`), with their error messages.
    pub tasks: Vec<TaskDetail>,
    /// Error messages attached to the job itself (`QIM_message` outside any task).
    pub messages: Vec<String>,
}

/// One task in a [`JobDetail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDetail {
    /// The task number (1 for a plain job).
    pub task: u64,
    /// `JAT_status` (Grid Engine's internal status bits), when present.
    pub status: Option<u64>,
    /// The task's error messages (`QIM_message`), e.g. why it is in `Eqw`.
    pub messages: Vec<String>,
}

impl JobDetail {
    /// Every error message of the job and its tasks, job's first.
    pub fn all_messages(&self) -> Vec<&str> {
        self.messages
            .iter()
            .chain(self.tasks.iter().flat_map(|t| t.messages.iter()))
            .map(String::as_str)
            .collect()
    }
}

/// The jobs in a `qstat -j ID[,ID...] -xml` document (`<detailed_job_info>`). Ids the queue
/// does not know are simply absent (`qstat` lists them in `<unknown_jobs>` or on stderr).
pub fn parse_qstat_detail_xml(text: &str) -> Result<Vec<JobDetail>, ParseError> {
    let root = parse_document(text, WHAT_DETAIL)?;
    if root.name != "detailed_job_info" && root.name != "unknown_jobs" {
        return Err(parse_error(
            WHAT_DETAIL,
            format!("the document is <{}>, not <detailed_job_info>", root.name),
            None,
        ));
    }
    let mut jobs = Vec::new();
    let Some(djob_info) = root.child("djob_info") else {
        return Ok(jobs);
    };
    for element in &djob_info.children {
        let number = element.child_text("JB_job_number").unwrap_or("");
        let id = SgeId::parse(number)
            .filter(|id| id.tasks.is_none())
            .ok_or_else(|| {
                parse_error(
                    WHAT_DETAIL,
                    "a job without a valid job number".to_owned(),
                    Some(number.to_owned()),
                )
            })?;
        let mut tasks = Vec::new();
        if let Some(list) = element.child("JB_ja_tasks") {
            for task in &list.children {
                let Some(number) = task.child_text("JAT_task_number") else {
                    continue;
                };
                let task_number = number.parse().map_err(|_| {
                    parse_error(
                        WHAT_DETAIL,
                        format!("job {} has an invalid task number", id.job),
                        Some(number.to_owned()),
                    )
                })?;
                let mut found = Vec::new();
                task.descendants("QIM_message", &mut found);
                tasks.push(TaskDetail {
                    task: task_number,
                    status: task.child_text("JAT_status").and_then(|s| s.parse().ok()),
                    messages: found.iter().map(|m| m.text.trim().to_owned()).collect(),
                });
            }
        }
        // Messages outside JB_ja_tasks belong to the job.
        let mut messages = Vec::new();
        for child in element.children.iter().filter(|c| c.name != "JB_ja_tasks") {
            let mut found = Vec::new();
            if child.name == "QIM_message" {
                found.push(child);
            } else {
                child.descendants("QIM_message", &mut found);
            }
            messages.extend(found.iter().map(|m| m.text.trim().to_owned()));
        }
        jobs.push(JobDetail {
            job: id.job,
            name: element.child_text("JB_job_name").map(str::to_owned),
            owner: element.child_text("JB_owner").map(str::to_owned),
            tasks,
            messages,
        });
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_states() {
        let state = |s| state_from_letters(s).0;
        assert_eq!(state("qw"), JobState::Queued);
        assert_eq!(state("hqw"), JobState::Held);
        assert_eq!(state("hRwq"), JobState::Held);
        assert_eq!(state("r"), JobState::Running);
        assert_eq!(state("Rr"), JobState::Running);
        assert_eq!(state("t"), JobState::Running);
        assert_eq!(state("s"), JobState::Running);
        assert_eq!(state("dr"), JobState::Cancelled);
        assert_eq!(state("Eqw"), JobState::Failed { exit_code: None });
        assert_eq!(state("x"), JobState::Unknown { raw: "x".into() });
        assert_eq!(state(""), JobState::Unknown { raw: "".into() });
    }

    #[test]
    fn task_lists_expand() {
        assert_eq!(expand_tasks("1-5:2,8").unwrap(), [1, 3, 5, 8]);
        assert_eq!(expand_tasks("1,2").unwrap(), [1, 2]);
        assert!(expand_tasks("1-9999999:1").is_none());
        assert!(expand_tasks("a").is_none());
    }
}
