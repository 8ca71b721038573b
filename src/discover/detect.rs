//! Which batch system answered the probe (pure): a scheduler counts only when its commands
//! exist *and* answer, since login nodes often carry other schedulers' client commands (Slurm's
//! and Grid Engine's packages side by side, Slurm's `qsub`/`pbsnodes` wrappers).

use super::probe::ProbeReply;
use crate::config::SchedulerKind;

/// The batch systems the probe looks for, in the order they are reported.
pub const BATCH_KINDS: [SchedulerKind; 4] = [
    SchedulerKind::Slurm,
    SchedulerKind::Pbs,
    SchedulerKind::Sge,
    SchedulerKind::Lsf,
];

/// How `kind` fared in the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Its commands exist and answered.
    Answers,
    /// Its key command is not on `PATH`.
    Absent,
    /// Its commands exist but failed: why (the failing step and its complaint).
    Fails(String),
}

/// The steps whose success shows that `kind` answers.
fn required_steps(kind: SchedulerKind) -> &'static [&'static str] {
    match kind {
        SchedulerKind::Slurm => &["sinfo", "scontrol"],
        SchedulerKind::Pbs => &["queues", "nodes"],
        // `queues` loops over `qconf -sql`, whose own failure the loop hides: `qhost` speaks
        // to the same qmaster.
        SchedulerKind::Sge => &["hosts"],
        SchedulerKind::Lsf => &["version", "queues", "hosts"],
        SchedulerKind::Local => &["cpus"],
    }
}

/// How `kind` fared in `reply`.
pub fn answer(reply: &ProbeReply, kind: SchedulerKind) -> Answer {
    let name = kind.as_str();
    if reply.frame(name, "absent").is_some() {
        return Answer::Absent;
    }
    for step in required_steps(kind) {
        match reply.frame(name, step) {
            None => return Answer::Fails(format!("step {step} did not run")),
            Some(frame) if !frame.succeeded() => {
                return Answer::Fails(format!(
                    "{step} exited with status {}: {}",
                    frame.status,
                    frame.complaint()
                ));
            }
            Some(_) => {}
        }
    }
    if kind == SchedulerKind::Pbs && pbs_flavour(reply).is_none() {
        return Answer::Fails(
            "`qstat --version` names neither PBS Pro (pbs_version) nor Torque (Version:): \
             these are another scheduler's PBS-like commands"
                .to_owned(),
        );
    }
    if kind == SchedulerKind::Sge
        && reply
            .frame(name, "queues")
            .is_none_or(|f| f.stdout.iter().all(u8::is_ascii_whitespace))
    {
        return Answer::Fails("`qconf -sql` lists no queue".to_owned());
    }
    Answer::Answers
}

/// The PBS flavour `qstat --version` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbsFlavour {
    /// PBS Pro / OpenPBS (`pbs_version = 2022.1.1`).
    Pro,
    /// Torque (`Version: 6.1.3`, on stderr).
    Torque,
}

/// The flavour of the PBS that answered, if its version reply names one.
pub fn pbs_flavour(reply: &ProbeReply) -> Option<PbsFlavour> {
    let frame = reply.frame("pbs", "version")?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&frame.stdout),
        String::from_utf8_lossy(&frame.stderr)
    );
    if text.contains("pbs_version") {
        Some(PbsFlavour::Pro)
    } else if text.lines().any(|l| l.trim_start().starts_with("Version:")) {
        Some(PbsFlavour::Torque)
    } else {
        None
    }
}

/// The first non-blank line of `kind`'s version step, for the report (`slurm-wlm 22.05.8`).
pub fn version(reply: &ProbeReply, kind: SchedulerKind) -> Option<String> {
    let frame = reply.frame(kind.as_str(), "version")?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&frame.stdout),
        String::from_utf8_lossy(&frame.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(120).collect())
}
