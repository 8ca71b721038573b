//! What `doctor.sh`'s reply and the cluster's partitions mean (pure).

use super::{Check, CheckKind, Outcome};
use crate::config::{Partition, SchedulerKind};
use crate::discover::FoundPartition;
use crate::units::{format_hms, format_mem};

/// The marker line `doctor.sh` prints first.
const MARKER: &[u8] = b"@xpr-doctor\n";

/// Free space below which the run dir check warns: 1 GiB, in kB.
const LOW_SPACE_KB: u64 = 1 << 20;

/// Clock skew above which the clock check warns, in seconds.
const SKEW_WARN: f64 = 5.0;

/// One fact of the reply: `KEY<TAB>CODE<TAB>TEXT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// What it is about (`command`, `answer`, `accounting`, `rundir`, `free_kb`, `time`).
    pub key: String,
    /// The exit status of what was run (0: fine; 127: not found).
    pub code: i32,
    /// Its output or error, on one line.
    pub text: String,
}

/// `doctor.sh`'s reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// What the login shell printed before the marker (empty on a clean shell).
    pub preamble: String,
    /// The facts, in order.
    pub facts: Vec<Fact>,
}

impl Reply {
    fn first(&self, key: &str) -> Option<&Fact> {
        self.facts.iter().find(|f| f.key == key)
    }
}

/// Parses `doctor.sh`'s stdout; an error says what is missing or malformed.
pub fn parse_reply(stdout: &[u8]) -> Result<Reply, String> {
    let at = stdout
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .ok_or_else(|| {
            format!(
                "no `@xpr-doctor` line in {} bytes ({:?})",
                stdout.len(),
                String::from_utf8_lossy(&stdout[..stdout.len().min(120)])
            )
        })?;
    let preamble = String::from_utf8_lossy(&stdout[..at]).into_owned();
    let mut facts = Vec::new();
    for line in String::from_utf8_lossy(&stdout[at + MARKER.len()..]).lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(key), Some(code), text) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("malformed line {line:?}"));
        };
        let code = code
            .parse()
            .map_err(|_| format!("line {line:?}: {code:?} is not an exit status"))?;
        facts.push(Fact {
            key: key.to_owned(),
            code,
            text: text.unwrap_or_default().trim().to_owned(),
        });
    }
    Ok(Reply { preamble, facts })
}

/// The checks the reply decides, in order: shell, scheduler, accounting, rundir, clock.
/// `here` is this machine's time (seconds since the epoch) halfway through the round trip.
pub fn judge(kind: SchedulerKind, base: &str, reply: &Reply, here: f64) -> Vec<Check> {
    vec![
        shell(reply),
        scheduler(kind, reply),
        accounting(kind, reply),
        rundir(base, reply),
        clock(reply, here),
    ]
}

fn shell(reply: &Reply) -> Check {
    if reply.preamble.is_empty() {
        return Check::new(CheckKind::Shell, Outcome::Pass, "prints nothing of its own");
    }
    let first = reply.preamble.lines().next().unwrap_or_default();
    Check::new(
        CheckKind::Shell,
        Outcome::Fail,
        format!(
            "the login shell prints {} byte(s) before every command's output, starting {first:?}: \
             it corrupts the replies xpr reads",
            reply.preamble.len()
        ),
    )
    .hint(
        "print only in interactive shells: in ~/.bashrc (or ~/.profile, /etc/profile.d) put \
         the echo under `case $- in *i*) ... esac` or `[ -t 1 ] &&`",
    )
}

fn scheduler(kind: SchedulerKind, reply: &Reply) -> Check {
    if kind == SchedulerKind::Local {
        return Check::new(
            CheckKind::Scheduler,
            Outcome::Pass,
            "no batch system: xpr's own queue runs the jobs",
        );
    }
    let missing: Vec<&str> = reply
        .facts
        .iter()
        .filter(|f| f.key == "command" && f.code != 0)
        .map(|f| f.text.as_str())
        .collect();
    if !missing.is_empty() {
        return Check::new(
            CheckKind::Scheduler,
            Outcome::Fail,
            format!("{kind}'s commands not on PATH: {}", missing.join(", ")),
        )
        .hint(
            "load them in the login shell (not only interactive ones), or add the `module load` \
             line to the system's pre_submit_cmds",
        );
    }
    match reply.first("answer") {
        Some(f) if f.code == 0 => Check::new(
            CheckKind::Scheduler,
            Outcome::Pass,
            format!("{kind} answers"),
        ),
        Some(f) => Check::new(
            CheckKind::Scheduler,
            Outcome::Fail,
            format!(
                "{kind}'s commands are there but a query failed (exit {}): {}",
                f.code, f.text
            ),
        )
        .hint("the scheduler's daemons may be down or unreachable from this host"),
        None => Check::new(
            CheckKind::Scheduler,
            Outcome::Fail,
            "no answer in the reply",
        ),
    }
}

fn accounting(kind: SchedulerKind, reply: &Reply) -> Check {
    let (tool, without) = match kind {
        SchedulerKind::Local => {
            return Check::new(
                CheckKind::Accounting,
                Outcome::Skip,
                "no batch system: each task's exit marker is its record",
            );
        }
        SchedulerKind::Slurm => ("sacct", "squeue"),
        SchedulerKind::Pbs => ("qstat -x", "qstat"),
        SchedulerKind::Sge => ("the qacct accounting file", "qstat"),
        SchedulerKind::Lsf => ("bjobs -a", "bjobs"),
    };
    match reply.first("accounting") {
        Some(f) if f.code == 0 => Check::new(
            CheckKind::Accounting,
            Outcome::Pass,
            format!("{tool} answers"),
        ),
        Some(f) => Check::new(
            CheckKind::Accounting,
            Outcome::Warn,
            format!(
                "{tool} does not answer (exit {}{}): xpr then relies on {without} and each \
                 task's exit marker; a job gone from {without} without a marker counts as \
                 vanished after vanish_timeout, and failure classes (timeout, out of memory, \
                 node failure) cannot be told",
                f.code,
                if f.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.text)
                }
            ),
        )
        .hint("ask the site whether accounting is on; nothing to change in xpr's config"),
        None => Check::new(
            CheckKind::Accounting,
            Outcome::Warn,
            "no answer in the reply",
        ),
    }
}

fn rundir(base: &str, reply: &Reply) -> Check {
    match reply.first("rundir") {
        Some(f) if f.code == 0 => {}
        Some(f) => {
            return Check::new(
                CheckKind::Rundir,
                Outcome::Fail,
                format!("cannot make or write the run dir {base}: {}", f.text),
            )
            .hint("set the system's rundir to a directory you can write (e.g. on scratch)");
        }
        None => return Check::new(CheckKind::Rundir, Outcome::Fail, "no answer in the reply"),
    }
    let free = reply
        .first("free_kb")
        .filter(|f| f.code == 0)
        .and_then(|f| f.text.parse::<u64>().ok());
    match free {
        Some(kb) if kb < LOW_SPACE_KB => Check::new(
            CheckKind::Rundir,
            Outcome::Warn,
            format!("{base} is writable but has only {} free", format_mem(kb)),
        )
        .hint("outputs that do not fit fail their tasks: free space or move the rundir"),
        Some(kb) => Check::new(
            CheckKind::Rundir,
            Outcome::Pass,
            format!("{base} is writable, {} free", format_mem(kb)),
        ),
        None => Check::new(
            CheckKind::Rundir,
            Outcome::Pass,
            format!("{base} is writable (free space unknown)"),
        ),
    }
}

fn clock(reply: &Reply, here: f64) -> Check {
    let Some(there) = reply.first("time").and_then(|f| f.text.parse::<f64>().ok()) else {
        return Check::new(
            CheckKind::Clock,
            Outcome::Warn,
            "the host did not say its time",
        );
    };
    // The host's clock has whole seconds: half a second of the difference is rounding.
    let skew = there + 0.5 - here;
    if skew.abs() > SKEW_WARN {
        Check::new(
            CheckKind::Clock,
            Outcome::Warn,
            format!("the host's clock is {skew:+.0} s off this machine's"),
        )
        .hint("times in `xpr ls` and results shift by that much; ask for NTP on either side")
    } else {
        Check::new(
            CheckKind::Clock,
            Outcome::Pass,
            format!("within {SKEW_WARN:.0} s of this machine's ({skew:+.1} s)"),
        )
    }
}

/// Each configured partition against the cluster's (`found`): one missing fails; cores, time
/// or memory that disagree warn, naming each difference.
pub fn compare_partitions(config: &[Partition], found: &[FoundPartition]) -> Check {
    let known: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
    let mut missing = Vec::new();
    let mut differences = Vec::new();
    for partition in config {
        for real in partition.scheduler_name().split(',').map(str::trim) {
            let Some(there) = found.iter().find(|f| f.name == real) else {
                missing.push(if real == partition.name {
                    real.to_owned()
                } else {
                    format!("{real} (key {})", partition.name)
                });
                continue;
            };
            if there.num_cores != partition.num_cores {
                differences.push(format!(
                    "{real}: the config says {} cores per node, the cluster's nodes have {}",
                    partition.num_cores, there.num_cores
                ));
            }
            match (partition.max_time, there.max_time) {
                (Some(mine), Some(theirs)) if mine > theirs => differences.push(format!(
                    "{real}: the config allows {}, the cluster {}",
                    format_hms(mine),
                    format_hms(theirs)
                )),
                (None, Some(theirs)) => differences.push(format!(
                    "{real}: the config has no time limit, the cluster {}",
                    format_hms(theirs)
                )),
                _ => {}
            }
            if let (Some(mine), Some(theirs)) = (partition.max_mem, there.max_mem)
                && mine > theirs
            {
                differences.push(format!(
                    "{real}: the config says {} per node, the cluster's nodes have {}",
                    format_mem(mine),
                    format_mem(theirs)
                ));
            }
        }
    }
    if !missing.is_empty() {
        return Check::new(
            CheckKind::Partitions,
            Outcome::Fail,
            format!(
                "not on the cluster: {} (it has {}){}",
                missing.join(", "),
                known.join(", "),
                if differences.is_empty() {
                    String::new()
                } else {
                    format!("; also {}", differences.join("; "))
                }
            ),
        )
        .hint("fix the partition names in config.json; `xpr discover HOST` prints the cluster's");
    }
    if !differences.is_empty() {
        return Check::new(CheckKind::Partitions, Outcome::Warn, differences.join("; ")).hint(
            "jobs sized by the config may be refused or wait: make config.json agree with the \
             cluster (`xpr discover HOST` prints its values)",
        );
    }
    let names: Vec<&str> = config.iter().map(|p| p.name.as_str()).collect();
    Check::new(
        CheckKind::Partitions,
        Outcome::Pass,
        format!("{} agree with the cluster", names.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        parse_reply(text.as_bytes()).unwrap()
    }

    const CLEAN: &str = "@xpr-doctor\ntime\t0\t1000\ncommand\t0\tsbatch\ncommand\t0\tsqueue\n\
        answer\t0\t\naccounting\t0\t12\nrundir\t0\t\nfree_kb\t0\t50000000\n";

    #[test]
    fn a_clean_slurm_host_passes_everything() {
        let checks = judge(SchedulerKind::Slurm, "runs", &reply(CLEAN), 1000.0);
        let outcomes: Vec<Outcome> = checks.iter().map(|c| c.outcome).collect();
        assert_eq!(outcomes, [Outcome::Pass; 5], "{checks:?}");
    }

    #[test]
    fn each_problem_is_named_with_its_hint() {
        let bad = format!("Welcome!\n{CLEAN}")
            .replace("command\t0\tsqueue", "command\t127\tsqueue")
            .replace(
                "accounting\t0\t12",
                "accounting\t1\tSlurm accounting storage is disabled",
            )
            .replace(
                "rundir\t0\t",
                "rundir\t1\tmkdir: cannot create directory: Read-only",
            )
            .replace("time\t0\t1000", "time\t0\t1100");
        let checks = judge(SchedulerKind::Slurm, "runs", &reply(&bad), 1000.0);
        let by = |k: CheckKind| checks.iter().find(|c| c.kind == k).unwrap();
        assert_eq!(by(CheckKind::Shell).outcome, Outcome::Fail);
        assert!(by(CheckKind::Shell).detail.contains("\"Welcome!\""));
        assert_eq!(by(CheckKind::Scheduler).outcome, Outcome::Fail);
        assert!(by(CheckKind::Scheduler).detail.contains("squeue"));
        assert_eq!(by(CheckKind::Accounting).outcome, Outcome::Warn);
        assert!(by(CheckKind::Accounting).detail.contains("disabled"));
        assert_eq!(by(CheckKind::Rundir).outcome, Outcome::Fail);
        assert!(by(CheckKind::Rundir).detail.contains("Read-only"));
        assert_eq!(by(CheckKind::Clock).outcome, Outcome::Warn);
        assert!(
            checks
                .iter()
                .filter(|c| c.outcome != Outcome::Pass)
                .all(|c| c.hint.is_some())
        );
    }

    #[test]
    fn a_reply_without_the_marker_or_with_a_bad_line_is_an_error() {
        assert!(parse_reply(b"time\t0\t1\n").is_err());
        assert!(parse_reply(b"@xpr-doctor\ntime\tx\t1\n").is_err());
    }

    fn part(name: &str, cores: u32, time: Option<u64>) -> Partition {
        Partition {
            name: name.to_owned(),
            num_cores: cores,
            max_time: time,
            max_mem: None,
            header: Vec::new(),
            partition: None,
        }
    }

    fn found(name: &str, cores: u32, time: Option<u64>) -> FoundPartition {
        FoundPartition {
            name: name.to_owned(),
            num_cores: cores,
            max_time: time,
            max_mem: None,
            header: Vec::new(),
        }
    }

    #[test]
    fn partitions_missing_fail_and_differences_warn() {
        let cluster = [found("debug", 16, None), found("short", 16, Some(3600))];
        let ok = compare_partitions(&[part("debug", 16, None)], &cluster);
        assert_eq!(ok.outcome, Outcome::Pass, "{ok:?}");
        let missing =
            compare_partitions(&[part("debug", 16, None), part("gpu", 8, None)], &cluster);
        assert_eq!(missing.outcome, Outcome::Fail);
        assert!(missing.detail.contains("gpu") && missing.detail.contains("debug, short"));
        let differ = compare_partitions(&[part("short", 32, Some(7200))], &cluster);
        assert_eq!(differ.outcome, Outcome::Warn);
        assert!(differ.detail.contains("32 cores") && differ.detail.contains("2:00:00"));
    }
}
