//! Native job dependencies: the header line that makes a scheduler hold a job until other jobs
//! of the same scheduler have ended, in each scheduler's own syntax (pure text).
//!
//! | | after success | after failure | after any end |
//! |---|---|---|---|
//! | Slurm | `#SBATCH --dependency=afterok:1:2` | `afternotok:1` | `afterany:1` |
//! | PBS Pro / Torque | `#PBS -W depend=afterok:1:2` | `afternotok:1` | `afterany:1` |
//! | LSF | `#BSUB -w "done(1) && done(2)"` | `exit(1)` | `ended(1)` |
//! | Grid Engine | none | none | `#$ -hold_jid 1,2` |
//! | local | none | none | none |
//!
//! Several conditions in one line must all hold (Slurm's `,`, PBS's `,`, LSF's `&&`). A
//! scheduler that lacks one of the kinds asked for gets no line at all ([`dependency_line`]
//! returns `None`), and the caller holds the job itself until the parents' ends are known.

use crate::config::SchedulerKind;
use crate::ids::SchedulerJobId;

/// What a job waits for in another job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AfterEnd {
    /// The other job ended successfully (exit 0).
    Success,
    /// The other job ended without success.
    Failure,
    /// The other job ended, however.
    Any,
}

/// One condition of a job on another job of the same scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeDependency {
    /// What the job waits for.
    pub after: AfterEnd,
    /// The other job.
    pub job: SchedulerJobId,
}

/// True when `kind` can hold a job until another one ends as `after` says.
pub fn supports(kind: SchedulerKind, after: AfterEnd) -> bool {
    match kind {
        SchedulerKind::Slurm | SchedulerKind::Pbs | SchedulerKind::Lsf => true,
        SchedulerKind::Sge => after == AfterEnd::Any,
        SchedulerKind::Local => false,
    }
}

/// The header line that holds a job until every one of `deps` is met, or `None` when the
/// scheduler lacks one of their kinds, when `deps` is empty, or when a job id holds
/// anything but letters, digits and `.`, `_`, `-`, `[`, `]`, `@` (ids come from a remote
/// reply; one that could break the line out of its directive is never written into a script).
pub fn dependency_line(kind: SchedulerKind, deps: &[NativeDependency]) -> Option<String> {
    if deps.is_empty()
        || deps.iter().any(|d| {
            !supports(kind, d.after) || !plain_id(&d.job) || !holds_on_element(kind, &d.job)
        })
    {
        return None;
    }
    let word = |after| match after {
        AfterEnd::Success => "afterok",
        AfterEnd::Failure => "afternotok",
        AfterEnd::Any => "afterany",
    };
    // Slurm and PBS: one `kind:id:id` group per kind, in the order first asked.
    let grouped = || {
        let mut groups: Vec<(AfterEnd, Vec<&str>)> = Vec::new();
        for d in deps {
            match groups.iter_mut().find(|(a, _)| *a == d.after) {
                Some((_, ids)) => ids.push(d.job.as_str()),
                None => groups.push((d.after, vec![d.job.as_str()])),
            }
        }
        groups
            .into_iter()
            .map(|(after, ids)| format!("{}:{}", word(after), ids.join(":")))
            .collect::<Vec<_>>()
            .join(",")
    };
    Some(match kind {
        SchedulerKind::Slurm => format!("#SBATCH --dependency={}", grouped()),
        SchedulerKind::Pbs => format!("#PBS -W depend={}", grouped()),
        SchedulerKind::Lsf => {
            let conditions: Vec<String> = deps
                .iter()
                .map(|d| {
                    let f = match d.after {
                        AfterEnd::Success => "done",
                        AfterEnd::Failure => "exit",
                        AfterEnd::Any => "ended",
                    };
                    format!("{f}({})", d.job)
                })
                .collect();
            format!("#BSUB -w \"{}\"", conditions.join(" && "))
        }
        SchedulerKind::Sge => {
            let ids: Vec<&str> = deps.iter().map(|d| d.job.as_str()).collect();
            format!("#$ -hold_jid {}", ids.join(","))
        }
        SchedulerKind::Local => return None,
    })
}

/// False for the id of an array element the scheduler cannot hold a job on: Grid Engine's
/// `-hold_jid 235.2` is refused (`job "235.2" not found`), and PBS Pro holds on jobs and whole
/// arrays, not subjobs (`123[7].server`). Slurm (`123_7`) and LSF (`done(123[7])`) hold on
/// elements. Such a child waits in xpr instead.
fn holds_on_element(kind: SchedulerKind, id: &SchedulerJobId) -> bool {
    let id = id.as_str();
    match kind {
        SchedulerKind::Sge => !id.contains('.'),
        SchedulerKind::Pbs => !id.contains('[') || id.contains("[]"),
        _ => true,
    }
}

fn plain_id(id: &SchedulerJobId) -> bool {
    !id.as_str().is_empty()
        && id
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-[]@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(after: AfterEnd, job: &str) -> NativeDependency {
        NativeDependency {
            after,
            job: SchedulerJobId::new(job),
        }
    }

    #[test]
    fn each_scheduler_in_its_own_syntax() {
        let deps = [
            dep(AfterEnd::Success, "11"),
            dep(AfterEnd::Any, "12"),
            dep(AfterEnd::Success, "13"),
        ];
        assert_eq!(
            dependency_line(SchedulerKind::Slurm, &deps).unwrap(),
            "#SBATCH --dependency=afterok:11:13,afterany:12"
        );
        assert_eq!(
            dependency_line(SchedulerKind::Pbs, &deps).unwrap(),
            "#PBS -W depend=afterok:11:13,afterany:12"
        );
        assert_eq!(
            dependency_line(SchedulerKind::Lsf, &deps).unwrap(),
            "#BSUB -w \"done(11) && ended(12) && done(13)\""
        );
        assert_eq!(
            dependency_line(SchedulerKind::Slurm, &[dep(AfterEnd::Failure, "7")]).unwrap(),
            "#SBATCH --dependency=afternotok:7"
        );
        assert_eq!(
            dependency_line(SchedulerKind::Lsf, &[dep(AfterEnd::Failure, "7")]).unwrap(),
            "#BSUB -w \"exit(7)\""
        );
        assert_eq!(
            dependency_line(
                SchedulerKind::Pbs,
                &[dep(AfterEnd::Success, "9.pbs-server")]
            )
            .unwrap(),
            "#PBS -W depend=afterok:9.pbs-server"
        );
    }

    #[test]
    fn no_line_on_array_elements_the_scheduler_cannot_hold_on() {
        let any = |job| [dep(AfterEnd::Any, job)];
        assert_eq!(dependency_line(SchedulerKind::Sge, &any("235.2")), None);
        assert_eq!(dependency_line(SchedulerKind::Pbs, &any("12[3].srv")), None);
        assert_eq!(
            dependency_line(SchedulerKind::Slurm, &any("12_3")).unwrap(),
            "#SBATCH --dependency=afterany:12_3"
        );
        assert_eq!(
            dependency_line(SchedulerKind::Lsf, &any("12[3]")).unwrap(),
            "#BSUB -w \"ended(12[3])\""
        );
        assert_eq!(
            dependency_line(SchedulerKind::Sge, &any("235")).unwrap(),
            "#$ -hold_jid 235"
        );
    }

    #[test]
    fn grid_engine_only_waits_for_any_end() {
        let any = [dep(AfterEnd::Any, "5"), dep(AfterEnd::Any, "6")];
        assert_eq!(
            dependency_line(SchedulerKind::Sge, &any).unwrap(),
            "#$ -hold_jid 5,6"
        );
        assert_eq!(
            dependency_line(SchedulerKind::Sge, &[dep(AfterEnd::Success, "5")]),
            None
        );
        assert_eq!(
            dependency_line(
                SchedulerKind::Sge,
                &[dep(AfterEnd::Any, "5"), dep(AfterEnd::Failure, "6")]
            ),
            None
        );
        assert!(!supports(SchedulerKind::Sge, AfterEnd::Success));
        assert!(supports(SchedulerKind::Sge, AfterEnd::Any));
    }

    #[test]
    fn no_line_without_native_support_or_with_a_strange_id() {
        assert_eq!(
            dependency_line(SchedulerKind::Local, &[dep(AfterEnd::Any, "1")]),
            None
        );
        assert_eq!(dependency_line(SchedulerKind::Slurm, &[]), None);
        for bad in ["1\n#SBATCH --x", "1) || done(2", "1 2", "", "1\"", "$(id)"] {
            assert_eq!(
                dependency_line(SchedulerKind::Lsf, &[dep(AfterEnd::Success, bad)]),
                None,
                "{bad:?}"
            );
        }
    }
}
