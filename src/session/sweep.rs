//! Sweeps as tasks: a [`SweepSpec`]'s points, each a task made from one template request.
//!
//! [`SweepRequest::requests`] expands a sweep into start requests (pure);
//! [`Session::start_sweep`] starts them as one batch. Each point's task is the template with
//!
//! - its name: the template name with the point's `{name}` placeholders filled in, else
//!   `<sweep>-<index>` ([`point_name`]);
//! - its command: `{name}` placeholders filled in ([`substitute`]: whole quoted words, never
//!   pasted into a shell line);
//! - its arguments: the point as a JSON object (`$XPR_ARGS_FILE` in the job);
//! - the sweep's name and submission mode.
//!
//! A task's identity hashes its name, command and arguments, so the same sweep gives the same
//! tasks: starting it again reuses each point whose task can still produce results (running,
//! or finished and not yet processed) and submits only the others (new points, failed ones,
//! or those a killed process never submitted).

use super::{Session, SessionError, StartRequest, Started, Submission};
use crate::sweep::{SweepError, SweepSpec, point_name, substitute, substitute_str};

/// A sweep to start: its name, its points, and the task each point becomes.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    /// The sweep's name (`xpr ls --sweep NAME`).
    pub name: String,
    /// Its points.
    pub spec: SweepSpec,
    /// The task of every point, before the point's values are put in.
    pub template: StartRequest,
    /// A template of the tasks' names (`train-{lr}`); `None`: `<name>-<index>`.
    pub task_name: Option<String>,
    /// How its tasks reach the scheduler.
    pub submission: Submission,
}

/// What [`Session::start_sweep`] did.
#[derive(Clone, Debug)]
pub struct SweepStarted {
    /// One per point, in order.
    pub tasks: Vec<Started>,
    /// How many points were submitted now (the others reused a task that can still
    /// produce results).
    pub submitted: usize,
}

impl SweepRequest {
    /// A sweep `name` of `spec`'s points, each running `template`, as jobs of their own.
    pub fn new(name: impl Into<String>, spec: SweepSpec, template: StartRequest) -> Self {
        Self {
            name: name.into(),
            spec,
            template,
            task_name: None,
            submission: Submission::Individual,
        }
    }

    /// The start request of each point, in order (see the module docs).
    pub fn requests(&self) -> Result<Vec<StartRequest>, SweepError> {
        let mut out = Vec::with_capacity(self.spec.len()?);
        for point in self.spec.points()? {
            let mut request = self.template.clone();
            request.spec.name = match &self.task_name {
                Some(template) => substitute_str(template, &point)?,
                None => point_name(&self.name, &point),
            };
            request.spec.command = substitute(&self.template.spec.command, &point)?;
            request.spec.args = Some(point.to_args());
            request.sweep = Some(self.name.clone());
            request.submission = self.submission;
            out.push(request);
        }
        Ok(out)
    }
}

impl Session {
    /// Starts every point of `sweep` as a task, in one batch (see the module docs): the
    /// points that already have a task that can produce results are not submitted again.
    pub async fn start_sweep(&self, sweep: &SweepRequest) -> Result<SweepStarted, SessionError> {
        let requests = sweep.requests()?;
        let tasks = self.start_many(requests).await?;
        let submitted = tasks.iter().filter(|t| !t.reused).count();
        Ok(SweepStarted { tasks, submitted })
    }
}
