//! Grid Engine job ids: `123` (a job), `123.4` (one task of an array job) and `123.1-5:1` (an
//! array job's task range, as `qsub -terse` and `Your job-array ...` print it).
//!
//! Every id that reaches xpr from Grid Engine output goes through [`SgeId::parse`], so a
//! [`SchedulerJobId`] built by this adapter is always one of those three shapes: digits, dots,
//! a dash and a colon, never anything a shell or an option parser could misread.

use std::fmt;

use crate::ids::SchedulerJobId;

/// The largest task count an id or `<tasks>` range may expand to. Grid Engine's own default
/// limit (`max_aj_tasks`) is 75000; anything far beyond it is not real output.
pub const MAX_TASKS: u64 = 1_000_000;

/// A task range `first-last:step` of an array job (`first == last` for one task).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskRange {
    /// The first task number (at least 1).
    pub first: u64,
    /// The last task number (at least `first`).
    pub last: u64,
    /// The step between task numbers (at least 1).
    pub step: u64,
}

impl TaskRange {
    /// Parses `4`, `1-5` or `1-5:2`; `None` for anything else, for task number 0, a reversed
    /// range or a step of 0.
    pub fn parse(text: &str) -> Option<Self> {
        let (range, step) = match text.split_once(':') {
            Some((range, step)) => (range, parse_number(step)?),
            None => (text, 1),
        };
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (parse_number(first)?, parse_number(last)?),
            None => {
                let one = parse_number(range)?;
                (one, one)
            }
        };
        (first >= 1 && first <= last && step >= 1).then_some(Self { first, last, step })
    }

    /// True when the range names exactly one task.
    pub fn is_single(&self) -> bool {
        self.first == self.last
    }

    /// How many tasks the range holds.
    pub fn len(&self) -> u64 {
        (self.last - self.first) / self.step + 1
    }

    /// Never true: a range holds at least one task (present for clippy's `len` convention).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The task numbers, in order.
    pub fn tasks(&self) -> impl Iterator<Item = u64> + use<> {
        let step = usize::try_from(self.step).unwrap_or(usize::MAX);
        (self.first..=self.last).step_by(step)
    }
}

impl fmt::Display for TaskRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}:{}", self.first, self.last, self.step)
        }
    }
}

/// A parsed Grid Engine job id: the job number and, for array jobs, a task or task range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SgeId {
    /// The job number (what `qacct -j` and `qstat` key on).
    pub job: u64,
    /// The task (range) of an array job; `None` for a plain job or a whole array.
    pub tasks: Option<TaskRange>,
}

impl SgeId {
    /// Parses `123`, `123.4`, `123.1-5:1` (the step may be left out); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (job, tasks) = match text.split_once('.') {
            Some((job, tasks)) => (job, Some(TaskRange::parse(tasks)?)),
            None => (text, None),
        };
        let job = parse_number(job)?;
        (job >= 1).then_some(Self { job, tasks })
    }

    /// The id of one task of job `job`.
    pub fn task(job: u64, task: u64) -> Self {
        Self {
            job,
            tasks: Some(TaskRange {
                first: task,
                last: task,
                step: 1,
            }),
        }
    }

    /// The id as xpr stores it.
    pub fn to_job_id(self) -> SchedulerJobId {
        SchedulerJobId::new(self.to_string())
    }
}

impl fmt::Display for SgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tasks {
            Some(tasks) => write!(f, "{}.{tasks}", self.job),
            None => write!(f, "{}", self.job),
        }
    }
}

/// A decimal number of 1 to 10 digits with no sign, no spaces and no leading zero (Grid Engine
/// prints none). Ten digits cover every 32-bit id Grid Engine can hand out.
fn parse_number(text: &str) -> Option<u64> {
    let ok = !text.is_empty()
        && text.len() <= 10
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    if ok { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for text in ["1", "123", "123.4", "9830192.1-5:1", "7.3-9:2"] {
            assert_eq!(SgeId::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(SgeId::parse("5.1-5").unwrap().to_string(), "5.1-5:1");
    }

    #[test]
    fn hostile_ids_are_refused() {
        for text in [
            "",
            "0",
            "-1",
            "12a",
            "1.0",
            "1.5-2:0",
            "1.5-4",
            "01",
            "1 2",
            "1;rm",
            "1.",
            ".1",
            "12345678901",
        ] {
            assert_eq!(SgeId::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn ranges_expand_with_their_step() {
        let range = TaskRange::parse("3-9:2").unwrap();
        assert_eq!(range.tasks().collect::<Vec<_>>(), [3, 5, 7, 9]);
        assert_eq!(range.len(), 4);
    }
}
