//! Adopting a batch script a user already has (`xpr submit --script FILE`, python-cluster's
//! `submit_file`): its own directives are kept, and xpr's staging, following and collection
//! go around it.
//!
//! The script travels as an input and runs as the task's command, through the interpreter
//! its `#!` line names (`/bin/bash` without one). Its directives (`#SBATCH`, `#PBS`, `#$`,
//! `#BSUB` lines of the leading comment block, as the schedulers read them) become header
//! lines written after xpr's own, so that where both set something the script's value wins
//! (the schedulers take the last occurrence of an option) — except the job name, which xpr
//! finds its jobs by after a crash: the script's name directive is left out, and said.

use crate::config::SchedulerKind;

/// What a batch script gives the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptedScript {
    /// The command that runs it in the run dir: its `#!` interpreter and the file's name.
    pub argv: Vec<String>,
    /// Its directives for the scheduler, in order, as written.
    pub directives: Vec<String>,
    /// Directives left out (the job name), for the caller to say.
    pub dropped: Vec<String>,
}

/// Why a script cannot be adopted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdoptError {
    /// Directives of another scheduler than the system's.
    #[error(
        "{file} holds {found} directives, but the system runs {system} (hint: submit it to a \
         {found_kind} system, or rewrite the directives as `{prefix}` lines)"
    )]
    OtherScheduler {
        /// The script's name.
        file: String,
        /// The directive prefix found (`#PBS` ...).
        found: &'static str,
        /// The scheduler that prefix is for.
        found_kind: SchedulerKind,
        /// The system's scheduler.
        system: SchedulerKind,
        /// The system's own prefix.
        prefix: &'static str,
    },
    /// The `#!` line is empty or not one line of words.
    #[error("{file}: its `#!` line names no interpreter")]
    NoInterpreter {
        /// The script's name.
        file: String,
    },
}

/// The directive prefix of each scheduler that has one.
const PREFIXES: [(SchedulerKind, &str); 4] = [
    (SchedulerKind::Slurm, "#SBATCH"),
    (SchedulerKind::Pbs, "#PBS"),
    (SchedulerKind::Sge, "#$"),
    (SchedulerKind::Lsf, "#BSUB"),
];

/// The job name options of each scheduler (left out: see the module docs).
fn names_the_job(kind: SchedulerKind, options: &str) -> bool {
    let first = options.split_whitespace().next().unwrap_or_default();
    let option = first.split('=').next().unwrap_or_default();
    match kind {
        SchedulerKind::Slurm => option == "--job-name" || option == "-J" || first.starts_with("-J"),
        SchedulerKind::Pbs | SchedulerKind::Sge => option == "-N",
        SchedulerKind::Lsf => option == "-J",
        SchedulerKind::Local => false,
    }
}

/// Reads the batch script `text` (file name `file`) for a system running `kind`.
pub fn adopt_batch_script(
    text: &str,
    file: &str,
    kind: SchedulerKind,
) -> Result<AdoptedScript, AdoptError> {
    let mut lines = text.lines().peekable();
    let mut argv = vec!["/bin/bash".to_owned()];
    if let Some(shebang) = lines.peek().and_then(|l| l.strip_prefix("#!")) {
        argv = shebang.split_whitespace().map(str::to_owned).collect();
        if argv.is_empty() {
            return Err(AdoptError::NoInterpreter {
                file: file.to_owned(),
            });
        }
        lines.next();
    }
    argv.push(file.to_owned());
    let own = PREFIXES.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p);
    let mut directives = Vec::new();
    let mut dropped = Vec::new();
    // The schedulers read directives up to the first command line.
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if !trimmed.starts_with('#') {
            break;
        }
        let Some((found_kind, prefix)) = PREFIXES
            .iter()
            .find(|(_, p)| directive_options(trimmed, p).is_some())
        else {
            continue;
        };
        if Some(*prefix) != own {
            return Err(AdoptError::OtherScheduler {
                file: file.to_owned(),
                found: prefix,
                found_kind: *found_kind,
                system: kind,
                prefix: own.unwrap_or("(none: a system without a batch system)"),
            });
        }
        let options = directive_options(trimmed, prefix).unwrap_or_default();
        if names_the_job(kind, options) {
            dropped.push(trimmed.to_owned());
        } else {
            directives.push(trimmed.to_owned());
        }
    }
    Ok(AdoptedScript {
        argv,
        directives,
        dropped,
    })
}

/// The options of a directive line with `prefix` (`#SBATCH --time=1:00:00` ->
/// `--time=1:00:00`); `None` when the line is not one.
fn directive_options<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(prefix)?;
    rest.starts_with([' ', '\t']).then(|| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLURM: &str = "#!/bin/bash -l\n#SBATCH --job-name=mine\n#SBATCH --time=00:05:00\n\n\
        # a comment\n#SBATCH -n 4\nmodule load x\n#SBATCH --late=ignored\necho hi\n";

    #[test]
    fn a_slurm_scripts_directives_are_kept_but_its_job_name() {
        let adopted = adopt_batch_script(SLURM, "job.sh", SchedulerKind::Slurm).unwrap();
        assert_eq!(adopted.argv, ["/bin/bash", "-l", "job.sh"]);
        assert_eq!(
            adopted.directives,
            ["#SBATCH --time=00:05:00", "#SBATCH -n 4"]
        );
        assert_eq!(adopted.dropped, ["#SBATCH --job-name=mine"]);
    }

    #[test]
    fn another_schedulers_directives_are_refused_naming_both() {
        let err = adopt_batch_script(
            "#PBS -l walltime=1:00:00\ntrue\n",
            "p.sh",
            SchedulerKind::Slurm,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("#PBS") && err.to_string().contains("slurm"),
            "{err}"
        );
    }

    #[test]
    fn no_shebang_runs_with_bash_and_sge_names_are_dropped() {
        let adopted =
            adopt_batch_script("#$ -N x\n#$ -l h_rt=60\ndate\n", "s.sh", SchedulerKind::Sge)
                .unwrap();
        assert_eq!(adopted.argv, ["/bin/bash", "s.sh"]);
        assert_eq!(adopted.directives, ["#$ -l h_rt=60"]);
        assert_eq!(adopted.dropped, ["#$ -N x"]);
    }
}
