//! `xpr discover`: what batch system a host runs and what its partitions offer, as a ready
//! ExPyRe-format `systems` entry.
//!
//! Data flow, one remote round trip:
//!
//! ```text
//! probe_command(kinds) --transport--> probe.sh on the host: every scheduler's commands at once
//!   (sinfo + scontrol | qstat -Q -f + pbsnodes -a, JSON where PBS Pro has it | qconf -sq + qhost -q
//!    | bqueues -l + lshosts -w)
//! stdout --parse_frames--> ProbeReply --detect::answer--> the scheduler that answers
//!        --parsers (one file per command)--> typed records --assemble--> [FoundPartition]
//!        --entry::system_entry--> {"host": ..., "scheduler": ..., "partitions": {...}}
//!        --write::add_system--> FILE, atomically, keeping what it holds
//! ```
//!
//! Invariants:
//! - Nothing from the remote side is trusted: every partition name passes
//!   [`is_valid_name`] and every number is parsed whole, else the error names the host,
//!   the command and the value ([`DiscoverError`]).
//! - A scheduler counts only when its commands answer, not merely exist; several answering is
//!   an error asking for `--scheduler`, none gives a `local` system (jobs run on the host).
//! - Sizes are the least over a partition's nodes (a job sized to them fits every node),
//!   capped by the partition's limits; what is left out or rounded is said in
//!   [`Discovered::notes`].
//! - The entry is validated as a config before it is printed or written.

mod assemble;
mod detect;
mod entry;
mod error;
mod lsf_hosts;
mod lsf_queues;
mod pbs_blocks;
mod pbs_json;
mod pbs_nodes;
mod pbs_queues;
mod probe;
mod sge_hosts;
mod sge_queues;
mod slurm_scontrol;
mod slurm_sinfo;
mod values;
mod write;

pub use detect::{Answer, BATCH_KINDS, PbsFlavour, answer, pbs_flavour};
pub use entry::{EntryOptions, check_system_name, default_name, system_entry, systems_document};
pub use error::{DiscoverError, DiscoverErrorKind, ReplyError};
pub use lsf_hosts::{LsfHost, parse_lshosts};
pub use lsf_queues::{LsfHosts, LsfQueue, parse_bqueues};
pub use pbs_json::{parse_pbsnodes_json, parse_qstat_queues_json};
pub use pbs_nodes::{PbsNode, parse_pbsnodes};
pub use pbs_queues::{PbsQueue, parse_qstat_queues};
pub use probe::{Frame, PROBE_PROGRAM, ProbeReply, parse_frames, probe_command};
pub use sge_hosts::{SgeHost, parse_qhost};
pub use sge_queues::{SgeQueue, parse_qconf_queues};
pub use slurm_scontrol::{SlurmPartition, parse_scontrol_partitions};
pub use slurm_sinfo::{SinfoRow, parse_sinfo};
pub use values::is_valid_name;
pub use write::{WriteOutcome, add_system};

use crate::config::SchedulerKind;
use crate::transport::{Retry, Transport};

/// One partition (or queue) as found: what a config partition holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundPartition {
    /// The scheduler's name for it (also the config key).
    pub name: String,
    /// Cores per node: the least among its nodes.
    pub num_cores: u32,
    /// The longest run time allowed, in seconds; `None` for no limit.
    pub max_time: Option<u64>,
    /// Memory per node in kB: the least among its nodes, capped by its limit; `None` when
    /// unknown.
    pub max_mem: Option<u64>,
    /// Header lines of its own (Grid Engine's parallel environment).
    pub header: Vec<String>,
}

/// What discovery found on a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    /// The host as named.
    pub host: String,
    /// The batch system (or `local` for none).
    pub scheduler: SchedulerKind,
    /// Its version line (`slurm-wlm 22.05.8`, `pbs_version = 2022.1.1`, `SGE 8.1.9`, ...).
    pub version: Option<String>,
    /// The PBS flavour, for a PBS system.
    pub pbs_flavour: Option<PbsFlavour>,
    /// The partitions, in the scheduler's order.
    pub partitions: Vec<FoundPartition>,
    /// What the user should know: left-out partitions, rounded sizes, a login banner.
    pub notes: Vec<String>,
}

/// What to look for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoverOptions {
    /// Look only for this scheduler (`local`: no batch system, the host's own cores); `None`
    /// looks for every one.
    pub scheduler: Option<SchedulerKind>,
}

/// Probes the host behind `transport` in one round trip and reads its partitions.
pub async fn discover(
    transport: &dyn Transport,
    options: &DiscoverOptions,
) -> Result<Discovered, DiscoverError> {
    let host = transport.host().to_owned();
    let kinds: Vec<&str> = match options.scheduler {
        Some(kind) => vec![kind.as_str()],
        None => BATCH_KINDS
            .iter()
            .map(|k| k.as_str())
            .chain(["local"])
            .collect(),
    };
    let cmd = probe_command(kinds);
    let out = transport
        .run(&cmd, Retry::Safe)
        .await
        .map_err(|e| DiscoverError::host(&host, DiscoverErrorKind::Transport(e)))?;
    if !out.succeeded() {
        return Err(DiscoverError::command(
            &host,
            "probe",
            DiscoverErrorKind::CommandFailed {
                status: out.code.unwrap_or(-1),
                stderr: out.stderr_text().trim().chars().take(300).collect(),
            },
        ));
    }
    let reply = parse_frames(&out.stdout)
        .map_err(|why| DiscoverError::host(&host, DiscoverErrorKind::Garbled { why }))?;
    interpret(&host, &reply, options)
}

/// What a probe reply says (pure; [`discover`] without the round trip).
pub fn interpret(
    host: &str,
    reply: &ProbeReply,
    options: &DiscoverOptions,
) -> Result<Discovered, DiscoverError> {
    let mut notes = Vec::new();
    if !reply.preamble.is_empty() {
        notes.push(format!(
            "the login shell printed {} bytes before any reply ({:?}): xpr copes here, but \
             such output can corrupt other replies (hint: print only in interactive shells)",
            reply.preamble.len(),
            String::from_utf8_lossy(&reply.preamble[..reply.preamble.len().min(60)])
        ));
    }
    let kind = choose(host, reply, options, &mut notes)?;
    let partitions = partitions(host, reply, kind, &mut notes)?;
    if partitions.is_empty() {
        return Err(DiscoverError::host(
            host,
            DiscoverErrorKind::NoPartitions { notes },
        ));
    }
    Ok(Discovered {
        host: host.to_owned(),
        scheduler: kind,
        version: detect::version(reply, kind),
        pbs_flavour: (kind == SchedulerKind::Pbs)
            .then(|| pbs_flavour(reply))
            .flatten(),
        partitions,
        notes,
    })
}

/// The scheduler to describe: the one asked for if it answers; else the one batch system that
/// answers, or `local` when none does.
fn choose(
    host: &str,
    reply: &ProbeReply,
    options: &DiscoverOptions,
    notes: &mut Vec<String>,
) -> Result<SchedulerKind, DiscoverError> {
    if let Some(kind) = options.scheduler {
        return match answer(reply, kind) {
            Answer::Answers => Ok(kind),
            Answer::Absent => Err(DiscoverError::host(
                host,
                DiscoverErrorKind::NotThere {
                    kind,
                    why: "its commands are not on PATH".to_owned(),
                },
            )),
            Answer::Fails(why) => Err(DiscoverError::host(
                host,
                DiscoverErrorKind::NotThere { kind, why },
            )),
        };
    }
    let mut answering = Vec::new();
    for kind in BATCH_KINDS {
        match answer(reply, kind) {
            Answer::Answers => answering.push(kind),
            Answer::Absent => {}
            Answer::Fails(why) => notes.push(format!(
                "{kind}'s commands are there but do not answer ({why})"
            )),
        }
    }
    match answering[..] {
        [] => {
            notes.push(
                "no batch system answers: the system runs jobs on the host itself (scheduler \
                 local)"
                    .to_owned(),
            );
            Ok(SchedulerKind::Local)
        }
        [one] => Ok(one),
        [first, ..] => Err(DiscoverError::host(
            host,
            DiscoverErrorKind::Ambiguous {
                found: answering
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                first,
            },
        )),
    }
}

/// The text of `step` of `kind`, or the error of a step that failed.
fn step_text(
    host: &str,
    reply: &ProbeReply,
    kind: &str,
    step: &str,
    command: &str,
) -> Result<String, DiscoverError> {
    match reply.frame(kind, step) {
        Some(frame) if frame.succeeded() => Ok(frame.stdout_text()),
        Some(frame) => Err(DiscoverError::command(
            host,
            command,
            DiscoverErrorKind::CommandFailed {
                status: frame.status,
                stderr: frame.complaint(),
            },
        )),
        None => Err(DiscoverError::command(
            host,
            command,
            DiscoverErrorKind::Garbled {
                why: format!("the probe did not run {kind} {step}"),
            },
        )),
    }
}

/// The partitions of `kind` from the reply.
fn partitions(
    host: &str,
    reply: &ProbeReply,
    kind: SchedulerKind,
    notes: &mut Vec<String>,
) -> Result<Vec<FoundPartition>, DiscoverError> {
    let text = |step: &str, command: &str| step_text(host, reply, kind.as_str(), step, command);
    let on = |e: ReplyError| e.on(host);
    Ok(match kind {
        SchedulerKind::Slurm => {
            let rows = parse_sinfo(&text("sinfo", slurm_sinfo::COMMAND)?).map_err(on)?;
            let parts = parse_scontrol_partitions(&text("scontrol", slurm_scontrol::COMMAND)?)
                .map_err(on)?;
            assemble::slurm(&rows, &parts, notes)
        }
        SchedulerKind::Pbs => {
            // PBS Pro answers in JSON; Torque (and PBS Pro before 18) in text.
            let is_json = |t: &str| t.trim_start().starts_with('{');
            let queues = text("queues", pbs_queues::COMMAND)?;
            let queues = if is_json(&queues) {
                parse_qstat_queues_json(&queues)
            } else {
                parse_qstat_queues(&queues)
            }
            .map_err(on)?;
            let nodes = text("nodes", pbs_nodes::COMMAND)?;
            let nodes = if is_json(&nodes) {
                parse_pbsnodes_json(&nodes)
            } else {
                parse_pbsnodes(&nodes)
            }
            .map_err(on)?;
            assemble::pbs(&queues, &nodes, notes)
        }
        SchedulerKind::Sge => {
            let queues = parse_qconf_queues(&text("queues", sge_queues::COMMAND)?).map_err(on)?;
            let hosts = parse_qhost(&text("hosts", sge_hosts::COMMAND)?).map_err(on)?;
            assemble::sge(&queues, &hosts, notes)
        }
        SchedulerKind::Lsf => {
            let queues = parse_bqueues(&text("queues", lsf_queues::COMMAND)?).map_err(on)?;
            let hosts = parse_lshosts(&text("hosts", lsf_hosts::COMMAND)?).map_err(on)?;
            assemble::lsf(&queues, &hosts, notes)
        }
        SchedulerKind::Local => {
            let cpus = text("cpus", "getconf _NPROCESSORS_ONLN")?;
            let num_cores =
                values::cores("getconf _NPROCESSORS_ONLN", "cores", cpus.trim()).map_err(on)?;
            let max_mem = reply
                .frame("local", "meminfo")
                .filter(|f| f.succeeded())
                .and_then(|f| meminfo_total_kb(&f.stdout_text()));
            vec![FoundPartition {
                name: "local".to_owned(),
                num_cores,
                max_time: None,
                max_mem,
                header: Vec::new(),
            }]
        }
    })
}

/// `MemTotal:  16318504 kB` of `/proc/meminfo`.
fn meminfo_total_kb(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let kb: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kb)
}
