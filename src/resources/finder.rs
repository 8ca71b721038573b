//! The node finder: a [`Resources`] request and a [`System`] in, a partition and node counts
//! ([`NodeAllocation`]) out, following ExPyRe's rules so that the same config and request land
//! on the same partition.
//!
//! For each partition, in config order, with `pc` its cores per node:
//!
//! 1. the request becomes cores and nodes for it: `N` nodes -> `N·pc` cores; `N` cores (or
//!    tasks × cores per task) -> `ceil(N/pc)` nodes;
//! 2. it is rejected when partition regexps are given and none matches the whole key; when its
//!    time limit is below the requested time; when `exact_fit` and a cores request is not a
//!    multiple of `pc`; with `partial_node`, when the cores do not fit one node; when memory
//!    is known on both sides and the request exceeds it (per core against `max_mem/pc`, in
//!    total against `max_mem·nodes`, per task as ExPyRe's older form did);
//! 3. among those left, the first whose excess cores `(pc - cores % pc) % pc` is zero wins,
//!    else the first with the least excess.
//!
//! The result is whole nodes, or with `partial_node` one node holding exactly the cores
//! asked. Departures from ExPyRe, on purpose:
//!
//! - with `partial_node`, only partitions where the cores fit one node are candidates, and
//!   among them rule 3 still picks, the excess being the node's unused cores (20 cores on 36-
//!   and 32-core partitions go to the 32-core one); ExPyRe picked by excess among all of them
//!   and then failed when the cores did not fit the one it picked;
//! - regexps are anchored as `^(?:re)$`, so an alternation `a|b` also matches whole keys only
//!   (ExPyRe's `'^' + re + '$'` anchored only its first and last branch);
//! - on a system whose scheduler is `local` (no batch system, one machine) `partial_node` is
//!   implied: whole-node rounding means nothing there and would turn "1 core" into an error;
//! - a request nothing fits is a [`NodeFinderError`] that lists every partition with the
//!   reason it was rejected, instead of a bare "failed to find acceptable node type".

use std::fmt;

use regex::Regex;

use super::request::{CountRequest, MemRequest, Resources, quoted_list, whole_match_regex};
use crate::config::{Partition, SchedulerKind, System};
use crate::ids::SystemName;
use crate::units::{format_hms, format_mem};

/// Where a request lands: partition and node counts. Feeds the header template keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAllocation {
    /// The partition's config key.
    pub partition: String,
    /// The scheduler's name for the partition (`{partition}`).
    pub scheduler_partition: String,
    /// Nodes.
    pub num_nodes: u32,
    /// Cores in all.
    pub num_cores: u32,
    /// Cores used on each node.
    pub num_cores_per_node: u32,
    /// Cores per task (1 unless the request was in tasks; a whole node's cores for
    /// ExPyRe's `ncores_per_task = 0`).
    pub ncores_per_task: u32,
    /// Run time in seconds, if the request had one.
    pub max_time: Option<u64>,
    /// The request's memory limit, if any, as asked (total, per core or per task); the
    /// header keys derive the other forms from it and the counts above.
    pub mem: Option<MemRequest>,
    /// GPUs per node, if the request asked for any.
    pub gpus: Option<u32>,
    /// The account the job is charged to, if the request named one.
    pub account: Option<String>,
}

impl NodeAllocation {
    /// Tasks in all (`{tot_ntasks}`): `num_cores / ncores_per_task`.
    pub fn num_tasks(&self) -> u32 {
        self.num_cores / self.ncores_per_task.max(1)
    }

    /// Tasks per node (`{ntasks_per_node}`): `num_cores_per_node / ncores_per_task`.
    pub fn num_tasks_per_node(&self) -> u32 {
        self.num_cores_per_node / self.ncores_per_task.max(1)
    }

    /// The memory asked, in every form the header keys offer, or `None` when the request
    /// asked for none. See [`MemShares`].
    pub fn mem_shares(&self) -> Option<MemShares> {
        let mem = self.mem?;
        let cores = u64::from(self.num_cores.max(1));
        let nodes = u64::from(self.num_nodes.max(1));
        let per_task = u64::from(self.ncores_per_task.max(1));
        Some(match mem {
            MemRequest::Total(kb) => MemShares {
                total: kb,
                per_core: kb.div_ceil(cores),
                per_node: kb.div_ceil(nodes),
            },
            MemRequest::PerCore(kb) => MemShares {
                total: kb.saturating_mul(cores),
                per_core: kb,
                per_node: kb.saturating_mul(u64::from(self.num_cores_per_node)),
            },
            MemRequest::PerTask(kb) => MemShares {
                total: kb.saturating_mul(u64::from(self.num_tasks())),
                per_core: kb.div_ceil(per_task),
                per_node: kb.saturating_mul(u64::from(self.num_tasks_per_node())),
            },
        })
    }
}

/// A job's memory in kB (ExPyRe's unit), as a whole, per core and per node: the form the
/// request gave is exact, the others follow from the allocation's counts (a share is rounded
/// up to a whole kB, so the shares never add up to less than was asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemShares {
    /// For the whole job (`{max_mem_tot}`).
    pub total: u64,
    /// Per core (`{max_mem_per_core}`; Grid Engine's `h_vmem` is per slot).
    pub per_core: u64,
    /// Per node (`{mem_per_node}`; Slurm's `--mem`, a PBS chunk's `mem`, LSF's `rusage`).
    pub per_node: u64,
}

/// A request the node finder cannot place on a system.
///
/// Its `Display` names the system and the request, then (for [`NodeFinderErrorKind::NoFit`])
/// one line per partition with the reason it was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", self.render())]
pub struct NodeFinderError {
    /// The system searched.
    pub system: SystemName,
    /// The request, as given (boxed to keep the error small on the `Ok` path).
    pub request: Box<Resources>,
    /// What went wrong.
    pub kind: NodeFinderErrorKind,
}

impl NodeFinderError {
    /// Each partition of the system with the reason it was rejected, in config order; empty
    /// when the request itself was at fault.
    pub fn rejections(&self) -> &[Rejection] {
        match &self.kind {
            NodeFinderErrorKind::NoFit { rejections } => rejections,
            _ => &[],
        }
    }

    fn render(&self) -> String {
        let (system, request) = (&self.system, &self.request);
        match &self.kind {
            NodeFinderErrorKind::NoFit { rejections } if rejections.is_empty() => format!(
                "system '{system}' has no partitions to place {request} on \
                 (hint: add `partitions` to its config)"
            ),
            NodeFinderErrorKind::NoFit { rejections } => {
                let mut text = format!("no partition of system '{system}' fits {request}:");
                for r in rejections {
                    text.push_str(&format!("\n  {r}"));
                }
                text
            }
            NodeFinderErrorKind::BadRegex { pattern, message } => format!(
                "invalid partition regexp '{pattern}' in request for system '{system}' \
                 ({request}): {message}"
            ),
            NodeFinderErrorKind::EmptyRequest => format!(
                "request for system '{system}' asks for nothing: {request} \
                 (hint: ask for at least one node, core or task)"
            ),
        }
    }
}

/// Why [`find_nodes`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeFinderErrorKind {
    /// Every partition was rejected (or there are none); each with its reason, config order.
    NoFit {
        /// One entry per partition of the system.
        rejections: Vec<Rejection>,
    },
    /// A partition regexp of the request does not compile.
    BadRegex {
        /// The regexp as given.
        pattern: String,
        /// The regex compiler's message.
        message: String,
    },
    /// The request asks for zero nodes, cores or tasks.
    EmptyRequest,
}

/// One partition the node finder turned down, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The partition's config key.
    pub partition: String,
    /// Why it was rejected (the first check it failed, in the finder's order).
    pub reason: RejectReason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.partition, self.reason)
    }
}

/// Why one partition cannot take a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The key matches none of the request's partition regexps.
    NoRegexMatch {
        /// The regexps, as given.
        patterns: Vec<String>,
    },
    /// The partition's time limit is below the requested time.
    TimeTooLong {
        /// Requested seconds.
        requested: u64,
        /// The partition's limit in seconds.
        max: u64,
    },
    /// `exact_fit` and the cores are not a whole number of nodes.
    NotWholeNodes {
        /// Cores asked.
        cores: u64,
        /// The partition's cores per node.
        per_node: u32,
    },
    /// `partial_node` and the cores do not fit one node.
    NotOneNode {
        /// Cores asked.
        cores: u64,
        /// The partition's cores per node.
        per_node: u32,
    },
    /// On a system with no batch system (one machine, such as the built-in `local`): the
    /// cores are more than the machine has. Such a system always shares its one machine, so
    /// this is [`RejectReason::NotOneNode`] without blaming a `partial_node` nobody asked for.
    MoreThanTheMachine {
        /// Cores asked.
        cores: u64,
        /// The machine's cores.
        has: u32,
    },
    /// Memory per core above the node's memory shared among its cores.
    MemPerCore {
        /// Requested kB per core.
        requested: u64,
        /// The partition's kB per node.
        max_mem: u64,
        /// The partition's cores per node.
        per_node: u32,
    },
    /// Total memory above the nodes' memory.
    MemTotal {
        /// Requested kB in all.
        requested: u64,
        /// The partition's kB per node.
        max_mem: u64,
        /// Nodes the request would get.
        nodes: u64,
    },
    /// Memory per task (older form), times the tasks, above the nodes' memory.
    MemPerTask {
        /// Requested kB per task.
        requested: u64,
        /// Tasks the request would run.
        tasks: u64,
        /// The partition's kB per node.
        max_mem: u64,
        /// Nodes the request would get.
        nodes: u64,
    },
    /// The partition's config says 0 cores per node.
    NoCores,
    /// The counts do not fit xpr's 32-bit node and core counts.
    TooLarge {
        /// Cores the request would need.
        cores: u64,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRegexMatch { patterns } => {
                write!(f, "does not match --partitions {}", quoted_list(patterns))
            }
            Self::TimeTooLong { requested, max } => write!(
                f,
                "max_time {} < requested {} ({} < {})",
                format_hms(*max),
                format_hms(*requested),
                humantime::format_duration(std::time::Duration::from_secs(*max)),
                humantime::format_duration(std::time::Duration::from_secs(*requested)),
            ),
            Self::NotWholeNodes { cores, per_node } => write!(
                f,
                "{cores} cores is not a whole number of {per_node}-core nodes \
                 (hint: --no-exact-fit or --partial-node)"
            ),
            Self::NotOneNode { cores, per_node } => write!(
                f,
                "{cores} cores do not fit one {per_node}-core node, as --partial-node needs \
                 (hint: drop --partial-node to use whole nodes)"
            ),
            Self::MoreThanTheMachine { cores, has } => write!(
                f,
                "{cores} cores asked, this machine has {has} (a system with no batch system \
                 runs its tasks on one machine; hint: ask for at most {has} cores)"
            ),
            Self::MemPerCore {
                requested,
                max_mem,
                per_node,
            } => write!(
                f,
                "max_mem_per_core {} > {} per core ({} per node / {per_node} cores)",
                format_mem(*requested),
                format_mem(max_mem / u64::from(*per_node).max(1)),
                format_mem(*max_mem),
            ),
            Self::MemTotal {
                requested,
                max_mem,
                nodes,
            } => write!(
                f,
                "max_mem_tot {} > {} on {nodes} node{} ({} per node)",
                format_mem(*requested),
                format_mem(max_mem.saturating_mul(*nodes)),
                if *nodes == 1 { "" } else { "s" },
                format_mem(*max_mem),
            ),
            Self::MemPerTask {
                requested,
                tasks,
                max_mem,
                nodes,
            } => write!(
                f,
                "max_mem_per_task {} x {tasks} tasks = {} > {} on {nodes} node{} ({} per node)",
                format_mem(*requested),
                format_mem(requested.saturating_mul(*tasks)),
                format_mem(max_mem.saturating_mul(*nodes)),
                if *nodes == 1 { "" } else { "s" },
                format_mem(*max_mem),
            ),
            Self::NoCores => write!(
                f,
                "has 0 cores per node (hint: fix its num_cores in config.json)"
            ),
            Self::TooLarge { cores } => {
                write!(f, "{cores} cores is more than xpr can allocate")
            }
        }
    }
}

/// A request turned into counts for one partition.
struct Shape {
    nodes: u64,
    cores: u64,
    /// True for cores and tasks requests: only those can miss a whole number of nodes.
    cores_request: bool,
    ncores_per_task: u64,
    tasks: u64,
}

fn shape(count: CountRequest, pc: u64) -> Shape {
    let whole_nodes = |nodes: u64, cpt: u64| {
        // ExPyRe's `ncores_per_task = 0`: one task per node, each taking the whole node.
        let cpt = if cpt == 0 { pc } else { cpt };
        Shape {
            nodes,
            cores: nodes * pc,
            cores_request: false,
            ncores_per_task: cpt,
            tasks: nodes * pc / cpt,
        }
    };
    let cores = |cores: u64, cpt: u64, tasks: u64| Shape {
        nodes: cores.div_ceil(pc),
        cores,
        cores_request: true,
        ncores_per_task: cpt,
        tasks,
    };
    match count {
        CountRequest::Nodes(n) => whole_nodes(n.into(), 1),
        CountRequest::NodesOfTasks {
            nodes,
            cores_per_task,
        } => whole_nodes(nodes.into(), cores_per_task.into()),
        CountRequest::Cores(n) => cores(n.into(), 1, n.into()),
        CountRequest::Tasks {
            tasks,
            cores_per_task: 0,
        } => whole_nodes(tasks.into(), 0),
        CountRequest::Tasks {
            tasks,
            cores_per_task,
        } => cores(
            u64::from(tasks) * u64::from(cores_per_task),
            cores_per_task.into(),
            tasks.into(),
        ),
    }
}

/// Checks one partition; `Err` is the first reason it cannot take the request.
fn check(
    p: &Partition,
    request: &Resources,
    regexps: &[Regex],
    partial_node: bool,
) -> Result<Shape, RejectReason> {
    if !regexps.is_empty() && !regexps.iter().any(|re| re.is_match(&p.name)) {
        return Err(RejectReason::NoRegexMatch {
            patterns: request.partitions.clone(),
        });
    }
    if let (Some(max), Some(requested)) = (p.max_time, request.max_time)
        && requested > max
    {
        return Err(RejectReason::TimeTooLong { requested, max });
    }
    if p.num_cores == 0 {
        return Err(RejectReason::NoCores);
    }
    let pc = u64::from(p.num_cores);
    let s = shape(request.count, pc);
    if partial_node {
        if s.cores > pc {
            return Err(RejectReason::NotOneNode {
                cores: s.cores,
                per_node: p.num_cores,
            });
        }
    } else if request.exact_fit && s.cores_request && !s.cores.is_multiple_of(pc) {
        return Err(RejectReason::NotWholeNodes {
            cores: s.cores,
            per_node: p.num_cores,
        });
    }
    if let (Some(mem), Some(max_mem)) = (request.mem, p.max_mem) {
        // Compared in u128 products rather than ExPyRe's float division: the same order for
        // every value, with no rounding.
        let (max_mem_w, nodes_w) = (u128::from(max_mem), u128::from(s.nodes));
        match mem {
            MemRequest::PerCore(requested)
                if u128::from(requested) * u128::from(pc) > max_mem_w =>
            {
                return Err(RejectReason::MemPerCore {
                    requested,
                    max_mem,
                    per_node: p.num_cores,
                });
            }
            MemRequest::Total(requested) if u128::from(requested) > max_mem_w * nodes_w => {
                return Err(RejectReason::MemTotal {
                    requested,
                    max_mem,
                    nodes: s.nodes,
                });
            }
            MemRequest::PerTask(requested)
                if u128::from(requested) * u128::from(s.tasks) > max_mem_w * nodes_w =>
            {
                return Err(RejectReason::MemPerTask {
                    requested,
                    tasks: s.tasks,
                    max_mem,
                    nodes: s.nodes,
                });
            }
            _ => {}
        }
    }
    let final_cores = if partial_node { s.cores } else { s.nodes * pc };
    if u32::try_from(final_cores).is_err() || u32::try_from(s.nodes).is_err() {
        return Err(RejectReason::TooLarge { cores: final_cores });
    }
    Ok(s)
}

/// Picks the partition and node counts for `request` on `system` (ExPyRe's rules and the
/// departures in the module docs; see the reference's worked examples).
///
/// ```
/// use xpr::config::{Partition, System};
/// use xpr::resources::{Resources, find_nodes};
/// use xpr::scheduler::SchedulerKind;
///
/// let partition = |name: &str, num_cores| Partition {
///     name: name.into(), num_cores, max_time: None, max_mem: None,
///     header: vec![], partition: None,
/// };
/// let system = System {
///     name: "cluster".into(), host: None, scheduler: SchedulerKind::Slurm,
///     partitions: vec![partition("node16", 16), partition("node36", 36)],
///     header: vec![], no_default_header: false, script_exec: "/bin/bash".into(),
///     pre_submit_cmds: vec![], commands: vec![], rundir: None, remsh_cmd: None,
///     resource_lines: false,
///     max_queued: None,
///     max_array_size: None,
///     poll_interval: None,
///     vanish_timeout: None,
///     default_max_time: None,
///     directives_skip: Vec::new(),
///     job_name_prefix: None,
///     retries: Default::default(),
///     error_rules: Default::default(),
/// };
/// let alloc = find_nodes(&system, &Resources::cores(36).with_max_time(3600)).unwrap();
/// assert_eq!((alloc.partition.as_str(), alloc.num_nodes, alloc.num_cores), ("node36", 1, 36));
///
/// let err = find_nodes(&system, &Resources::cores(17)).unwrap_err();
/// assert!(err.to_string().contains("node16: 17 cores is not a whole number of 16-core nodes"));
/// ```
pub fn find_nodes(system: &System, request: &Resources) -> Result<NodeAllocation, NodeFinderError> {
    let fail = |kind| NodeFinderError {
        system: system.name.clone(),
        request: Box::new(request.clone()),
        kind,
    };
    let empty = match request.count {
        CountRequest::Nodes(n) | CountRequest::Cores(n) => n == 0,
        CountRequest::Tasks { tasks: n, .. } | CountRequest::NodesOfTasks { nodes: n, .. } => {
            n == 0
        }
    };
    if empty {
        return Err(fail(NodeFinderErrorKind::EmptyRequest));
    }
    let regexps = request
        .partitions
        .iter()
        .map(|pattern| {
            whole_match_regex(pattern).map_err(|e| {
                fail(NodeFinderErrorKind::BadRegex {
                    pattern: pattern.clone(),
                    message: e.to_string(),
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let partial_node = request.partial_node || system.scheduler == SchedulerKind::Local;

    let mut rejections = Vec::new();
    // (excess cores, partition, shape) of the best candidate so far; the first with the least
    // excess wins, and zero cannot be beaten.
    let mut best: Option<(u64, &Partition, Shape)> = None;
    for p in &system.partitions {
        match check(p, request, &regexps, partial_node) {
            Err(reason) => rejections.push(Rejection {
                partition: p.name.clone(),
                reason: match reason {
                    RejectReason::NotOneNode { cores, per_node } if !request.partial_node => {
                        RejectReason::MoreThanTheMachine {
                            cores,
                            has: per_node,
                        }
                    }
                    reason => reason,
                },
            }),
            Ok(shape) => {
                let pc = u64::from(p.num_cores);
                // Upstream's excess: the cores left unused on the last node. With
                // partial_node the one node's unused cores (`check` made sure the cores fit
                // it), so that 20 cores go to a 32-core node before a 36-core one.
                let excess = (pc - shape.cores % pc) % pc;
                if best.as_ref().is_none_or(|(e, _, _)| excess < *e) {
                    best = Some((excess, p, shape));
                }
            }
        }
    }
    let Some((_, p, shape)) = best else {
        return Err(fail(NodeFinderErrorKind::NoFit { rejections }));
    };

    // `check` has made sure these fit a u32.
    let narrow = |v: u64| u32::try_from(v).expect("checked by the node finder");
    let (num_cores, num_cores_per_node) = if partial_node {
        (narrow(shape.cores), narrow(shape.cores))
    } else {
        (narrow(shape.nodes) * p.num_cores, p.num_cores)
    };
    Ok(NodeAllocation {
        partition: p.name.clone(),
        scheduler_partition: p.scheduler_name().to_owned(),
        num_nodes: narrow(shape.nodes),
        num_cores,
        num_cores_per_node,
        ncores_per_task: narrow(shape.ncores_per_task),
        max_time: request.max_time,
        mem: request.mem,
        gpus: request.gpus,
        account: request.account.clone(),
    })
}
