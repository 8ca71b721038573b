//! `xpr doctor`: is a system ready for xpr? Each check passes, warns or fails with a hint.
//!
//! For one system, in order (a failure of the config or of SSH skips the rest):
//!
//! | check | how |
//! |---|---|
//! | [`CheckKind::Config`] | the system is in the config and valid |
//! | [`CheckKind::Ssh`] | the transport opens (reusing a master of `xpr connect`) and runs the probe |
//! | [`CheckKind::Shell`] | nothing is printed before the probe's first line (a login banner, an `echo` in `.bashrc`: it would corrupt every reply xpr reads) |
//! | [`CheckKind::Scheduler`] | the scheduler's commands are on `PATH` and it answers a query |
//! | [`CheckKind::Accounting`] | its accounting answers (`sacct`, `qacct`'s file, `qstat -x`, `bjobs -a`), else what xpr relies on instead |
//! | [`CheckKind::Rundir`] | the run dir base can be made and written, and has free space |
//! | [`CheckKind::Partitions`] | each configured partition is on the cluster, with the cores, time and memory the config says ([`crate::discover`]'s probe) |
//! | [`CheckKind::Clock`] | the host's clock agrees with this machine's |
//!
//! Two round trips in all: `doctor.sh` (one line per fact, after a marker line, so a banner
//! is seen for what it is) and the discovery probe for the partitions. The judging is pure
//! ([`judge`], [`compare_partitions`]) and tested against replies as data.

mod judge;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use judge::{Fact, Reply, compare_partitions, judge, parse_reply};

use crate::command::{CommandSpec, shell_program};
use crate::config::SchedulerKind;
use crate::discover::{DiscoverOptions, discover};
use crate::ids::SystemName;
use crate::session::Session;
use crate::transport::Retry;

/// The probe `doctor.sh`, in its wire form.
pub const DOCTOR_PROGRAM: &str = shell_program!(include_str!("doctor.sh"));

/// What a check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The system's config.
    Config,
    /// Reaching the host.
    Ssh,
    /// The remote shell prints nothing of its own.
    Shell,
    /// The scheduler's commands.
    Scheduler,
    /// The scheduler's accounting.
    Accounting,
    /// The remote run dir.
    Rundir,
    /// The configured partitions against the cluster's.
    Partitions,
    /// Clock skew.
    Clock,
}

impl CheckKind {
    /// Every check, in the order they run.
    pub const ALL: [CheckKind; 8] = [
        CheckKind::Config,
        CheckKind::Ssh,
        CheckKind::Shell,
        CheckKind::Scheduler,
        CheckKind::Accounting,
        CheckKind::Rundir,
        CheckKind::Partitions,
        CheckKind::Clock,
    ];

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Config => "config",
            CheckKind::Ssh => "ssh",
            CheckKind::Shell => "shell",
            CheckKind::Scheduler => "scheduler",
            CheckKind::Accounting => "accounting",
            CheckKind::Rundir => "rundir",
            CheckKind::Partitions => "partitions",
            CheckKind::Clock => "clock",
        }
    }
}

/// How a check came out, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not run: an earlier check failed, or it does not apply (no batch system).
    Skip,
    /// Fine.
    Pass,
    /// Works, with something to know or fix.
    Warn,
    /// xpr cannot work with the system this way.
    Fail,
}

impl Outcome {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Skip => "skip",
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What it looked at.
    pub kind: CheckKind,
    /// How it came out.
    pub outcome: Outcome,
    /// What it found, naming the command, file or value.
    pub detail: String,
    /// What to do, when not a pass.
    pub hint: Option<String>,
}

impl Check {
    /// A check that came out `outcome`.
    pub fn new(kind: CheckKind, outcome: Outcome, detail: impl Into<String>) -> Check {
        Check {
            kind,
            outcome,
            detail: detail.into(),
            hint: None,
        }
    }

    /// With a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Check {
        self.hint = Some(hint.into());
        self
    }
}

/// Every check of one system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemReport {
    /// The system.
    pub system: SystemName,
    /// Its host (`None`: this machine).
    pub host: Option<String>,
    /// The checks, in [`CheckKind::ALL`]'s order.
    pub checks: Vec<Check>,
}

impl SystemReport {
    /// The worst outcome of its checks.
    pub fn worst(&self) -> Outcome {
        self.checks
            .iter()
            .map(|c| c.outcome)
            .max()
            .unwrap_or(Outcome::Skip)
    }
}

/// Runs every check of system `name` (see the module docs).
pub async fn check_system(session: &Session, name: &str) -> SystemReport {
    let mut checks = Vec::new();
    let skip_rest = |checks: &mut Vec<Check>, why: &str| {
        for kind in CheckKind::ALL.iter().skip(checks.len()) {
            checks.push(Check::new(*kind, Outcome::Skip, why));
        }
    };
    let system = match session.system(name) {
        Ok(system) => system.clone(),
        Err(e) => {
            checks.push(
                Check::new(CheckKind::Config, Outcome::Fail, e.to_string())
                    .hint("`xpr config check` lists every problem with its file and key"),
            );
            skip_rest(&mut checks, "the config of this system is not usable");
            return SystemReport {
                system: SystemName::new(name),
                host: None,
                checks,
            };
        }
    };
    let report = |checks| SystemReport {
        system: system.name.clone(),
        host: system.host.clone(),
        checks,
    };
    checks.push(Check::new(
        CheckKind::Config,
        Outcome::Pass,
        format!(
            "{} system with {} partition(s)",
            system.scheduler,
            system.partitions.len()
        ),
    ));
    let transport = match session.transport(&system).await {
        Ok(transport) => transport,
        Err(e) => {
            checks.push(ssh_failure(&system.host, &e.to_string()));
            skip_rest(&mut checks, "the host cannot be reached");
            return report(checks);
        }
    };
    let base = session.remote_base(&system);
    let cmd = CommandSpec::new("sh").args([
        "-c",
        DOCTOR_PROGRAM,
        "xpr-doctor",
        system.scheduler.as_str(),
        base.as_str(),
    ]);
    let before = now();
    let out = transport.run(&cmd, Retry::Safe).await;
    let after = now();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            checks.push(ssh_failure(&system.host, &e.to_string()));
            skip_rest(&mut checks, "the host cannot be reached");
            return report(checks);
        }
    };
    let reply = match parse_reply(&out.stdout) {
        Ok(reply) => reply,
        Err(why) => {
            checks.push(
                Check::new(
                    CheckKind::Ssh,
                    Outcome::Fail,
                    format!(
                        "the probe ran but its reply is not one ({why}; exit {:?}, stderr {:?})",
                        out.code,
                        out.stderr_text().trim()
                    ),
                )
                .hint("check that the login shell is a POSIX shell and `sh` runs there"),
            );
            skip_rest(&mut checks, "no reply to judge");
            return report(checks);
        }
    };
    checks.push(Check::new(
        CheckKind::Ssh,
        Outcome::Pass,
        match &system.host {
            Some(host) => format!("reached {host} ({:.2} s for the probe)", after - before),
            None => "this machine (no SSH)".to_owned(),
        },
    ));
    let mut judged = judge(system.scheduler, &base, &reply, (before + after) / 2.0);
    let clock = judged.pop().expect("judge ends with the clock");
    checks.extend(judged);
    checks.push(partitions_check(&system, transport.as_ref()).await);
    checks.push(clock);
    report(checks)
}

/// The partitions check: the discovery probe for the system's scheduler, compared.
async fn partitions_check(
    system: &crate::config::System,
    transport: &dyn crate::transport::Transport,
) -> Check {
    if system.scheduler == SchedulerKind::Local {
        return Check::new(
            CheckKind::Partitions,
            Outcome::Skip,
            "no batch system: the partitions are what the config says",
        );
    }
    let options = DiscoverOptions {
        scheduler: Some(system.scheduler),
    };
    match discover(transport, &options).await {
        Ok(found) => compare_partitions(&system.partitions, &found.partitions),
        Err(e) => Check::new(
            CheckKind::Partitions,
            Outcome::Warn,
            format!("could not read the cluster's partitions: {e}"),
        )
        .hint("`xpr discover` on the host shows what it finds"),
    }
}

fn ssh_failure(host: &Option<String>, error: &str) -> Check {
    Check::new(
        CheckKind::Ssh,
        Outcome::Fail,
        format!("{}: {error}", host.as_deref().unwrap_or("this machine")),
    )
    .hint(
        "try `ssh HOST true` by hand with the system's remsh_cmd; for two-factor logins open \
         a master first with `xpr connect SYSTEM`",
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
