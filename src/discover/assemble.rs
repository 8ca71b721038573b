//! From the parsed replies of one scheduler to the partitions of a config entry (pure): which
//! nodes a partition has, the least cores and memory among them (a job sized to those fits
//! every node), capped by the partition's own limits; what is left out and why, as notes.

use super::FoundPartition;
use super::lsf_hosts::LsfHost;
use super::lsf_queues::{LsfHosts, LsfQueue};
use super::pbs_nodes::PbsNode;
use super::pbs_queues::PbsQueue;
use super::sge_hosts::SgeHost;
use super::sge_queues::SgeQueue;
use super::slurm_scontrol::SlurmPartition;
use super::slurm_sinfo::SinfoRow;

/// The least of `values`, and whether they differ; `None` when there are none.
fn least<T: Ord + Copy>(values: impl IntoIterator<Item = T>) -> Option<(T, bool)> {
    let values: Vec<T> = values.into_iter().collect();
    let min = *values.iter().min()?;
    Some((min, values.iter().any(|v| *v != min)))
}

/// The least of the known values, `None` when any is unknown (memory not checked then).
fn least_known(values: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    let values: Option<Vec<u64>> = values.into_iter().collect();
    values?.into_iter().min()
}

/// `a` capped by `cap`.
fn capped<T: Ord>(a: Option<T>, cap: Option<T>) -> Option<T> {
    match (a, cap) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

fn varied(notes: &mut Vec<String>, what: &str, name: &str, differs: bool, least: u32) {
    if differs {
        notes.push(format!(
            "the nodes of {what} {name} differ in cores: num_cores is the least, {least}"
        ));
    }
}

/// Slurm: the partitions of `scontrol show partition`, in its order, with the nodes `sinfo`
/// lists for each.
pub fn slurm(
    rows: &[SinfoRow],
    partitions: &[SlurmPartition],
    notes: &mut Vec<String>,
) -> Vec<FoundPartition> {
    let mut found = Vec::new();
    for p in partitions {
        let mine: Vec<&SinfoRow> = rows.iter().filter(|r| r.partition == p.name).collect();
        let Some((cpus, differs)) = least(mine.iter().map(|r| r.cpus)) else {
            notes.push(format!("partition {} has no nodes: left out", p.name));
            continue;
        };
        varied(notes, "partition", &p.name, differs, cpus);
        let num_cores = p.max_cpus_per_node.map_or(cpus, |cap| cpus.min(cap));
        let mem = least_known(mine.iter().map(|r| r.mem_kb));
        let per_cpu_cap = p
            .max_mem_per_cpu_kb
            .map(|m| m.saturating_mul(u64::from(num_cores)));
        let max_mem = capped(capped(mem, p.max_mem_per_node_kb), per_cpu_cap);
        let max_time = p
            .max_time
            .or_else(|| mine.iter().find_map(|r| r.time_limit));
        if p.state != "UP" {
            notes.push(format!(
                "partition {} is {} (kept: jobs wait until it is up)",
                p.name, p.state
            ));
        }
        found.push(FoundPartition {
            name: p.name.clone(),
            num_cores,
            max_time,
            max_mem,
            header: Vec::new(),
        });
    }
    found
}

/// PBS: the enabled, started execution queues, each with the nodes tied to it (`queue =`),
/// or, when none is, every node not tied to another queue.
pub fn pbs(queues: &[PbsQueue], nodes: &[PbsNode], notes: &mut Vec<String>) -> Vec<FoundPartition> {
    let mut found = Vec::new();
    for q in queues {
        if !q.execution {
            notes.push(format!("queue {} is a routing queue: left out", q.name));
            continue;
        }
        if !(q.enabled && q.started) {
            notes.push(format!(
                "queue {} is not enabled and started: left out",
                q.name
            ));
            continue;
        }
        let tied: Vec<&PbsNode> = nodes
            .iter()
            .filter(|n| n.queue.as_deref() == Some(q.name.as_str()))
            .collect();
        let mine: Vec<&PbsNode> = if tied.is_empty() {
            nodes.iter().filter(|n| n.queue.is_none()).collect()
        } else {
            tied
        };
        let cpus = least(mine.iter().filter_map(|n| n.ncpus));
        let num_cores = match (cpus, q.max_ncpus) {
            (Some((c, differs)), cap) => {
                varied(notes, "queue", &q.name, differs, c);
                cap.map_or(c, |cap| c.min(cap))
            }
            (None, Some(cap)) => cap,
            (None, None) => {
                notes.push(format!(
                    "queue {} has no nodes with a known ncpus: left out",
                    q.name
                ));
                continue;
            }
        };
        let mem = if mine.is_empty() {
            None
        } else {
            least_known(mine.iter().map(|n| n.mem_kb))
        };
        found.push(FoundPartition {
            name: q.name.clone(),
            num_cores,
            max_time: q.max_walltime,
            max_mem: capped(mem, q.max_mem_kb),
            header: Vec::new(),
        });
    }
    found
}

/// The parallel environment a Grid Engine queue's jobs ask for: its only one, else `smp`
/// when it has that; `None` when there is no clear choice.
pub fn sge_pe(queue: &SgeQueue) -> Option<&str> {
    match &queue.pe_list[..] {
        [one] => Some(one),
        list => list.iter().map(String::as_str).find(|p| *p == "smp"),
    }
}

/// Grid Engine: the batch queues, each with the hosts `qhost -q` shows it on, and its slots
/// there as cores; a parallel environment line when the queue has a clear one.
pub fn sge(queues: &[SgeQueue], hosts: &[SgeHost], notes: &mut Vec<String>) -> Vec<FoundPartition> {
    let mut found = Vec::new();
    for q in queues {
        if !q.batch {
            notes.push(format!("queue {} takes no batch jobs: left out", q.name));
            continue;
        }
        let mine: Vec<(&SgeHost, u32)> = hosts
            .iter()
            .filter_map(|h| {
                h.queues
                    .iter()
                    .find(|(name, _)| *name == q.name)
                    .map(|(_, slots)| (h, *slots))
            })
            .collect();
        let Some((slots, differs)) = least(mine.iter().map(|(_, s)| *s)) else {
            notes.push(format!("queue {} is on no host: left out", q.name));
            continue;
        };
        varied(notes, "queue", &q.name, differs, slots);
        let header = match sge_pe(q) {
            Some(pe) => vec![format!("#$ -pe {pe} {{num_cores}}")],
            None => {
                if !q.pe_list.is_empty() {
                    notes.push(format!(
                        "queue {} has several parallel environments ({}): add `#$ -pe NAME \
                         {{num_cores}}` to its header for jobs of more than one core",
                        q.name,
                        q.pe_list.join(" ")
                    ));
                }
                Vec::new()
            }
        };
        found.push(FoundPartition {
            name: q.name.clone(),
            num_cores: slots,
            max_time: q.max_time,
            max_mem: least_known(mine.iter().map(|(h, _)| h.mem_total_kb)),
            header,
        });
    }
    found
}

/// LSF: the open queues, each with its hosts (every server host for `all` or for host
/// groups, whose members `lshosts` does not tell).
pub fn lsf(queues: &[LsfQueue], hosts: &[LsfHost], notes: &mut Vec<String>) -> Vec<FoundPartition> {
    let servers: Vec<&LsfHost> = hosts.iter().filter(|h| h.server).collect();
    let mut found = Vec::new();
    for q in queues {
        if !q.is_open() {
            notes.push(format!("queue {} is {}: left out", q.name, q.status));
            continue;
        }
        let mine: Vec<&LsfHost> = match &q.hosts {
            LsfHosts::All => servers.clone(),
            LsfHosts::Named { groups, .. } if !groups.is_empty() => {
                notes.push(format!(
                    "queue {} runs on host groups ({}): its cores and memory are the least of \
                     every server host",
                    q.name,
                    groups.join(" ")
                ));
                servers.clone()
            }
            LsfHosts::Named { hosts: named, .. } => servers
                .iter()
                .copied()
                .filter(|h| named.contains(&h.name))
                .collect(),
        };
        let Some((cpus, differs)) = least(mine.iter().filter_map(|h| h.ncpus)) else {
            notes.push(format!(
                "queue {} has no host with a known ncpus: left out",
                q.name
            ));
            continue;
        };
        varied(notes, "queue", &q.name, differs, cpus);
        found.push(FoundPartition {
            name: q.name.clone(),
            num_cores: cpus,
            max_time: q.run_limit,
            max_mem: capped(
                least_known(mine.iter().map(|h| h.maxmem_kb)),
                q.mem_limit_kb,
            ),
            header: Vec::new(),
        });
    }
    found
}
