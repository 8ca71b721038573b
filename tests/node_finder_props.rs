//! Property tests of the node finder on random partition lists and requests.
//!
//! The invariants are those of the reference's rules, checked from outside: an allocation is
//! consistent (nodes × cores per node = cores, at least the cores asked, within the partition's
//! node size, time and memory, matching the regexps, no excess under exact fit); an error lists
//! every partition. The choice among several partitions is checked against single-partition
//! systems: a partition is acceptable exactly when the finder accepts it alone, and the winner
//! is the first acceptable one with the least excess (unused cores on its nodes, also with
//! `partial_node`).

use proptest::prelude::*;
use xpr::config::{Partition, System};
use xpr::resources::{
    CountRequest, MemRequest, NodeAllocation, NodeFinderErrorKind, Resources, find_nodes,
};
use xpr::scheduler::SchedulerKind;

const GB: u64 = 1024 * 1024;
const NAMES: [&str; 6] = [
    "node16", "node36", "debug", "standard", "x_bigmem", "gpu,gpu2",
];
const REGEXPS: [&str; 5] = [".*bigmem", "node.*", "deb", "debug|standard", "gpu.*"];

fn arb_partition() -> impl Strategy<Value = Partition> {
    (
        0..NAMES.len(),
        0u32..1000,
        1u32..=128,
        prop::option::of(60u64..=200 * 3600),
        prop::option::of(1u64..=2048),
    )
        .prop_map(|(name, tag, num_cores, max_time, mem_gb)| Partition {
            // A tag keeps names distinct enough to tell partitions apart in messages while
            // the prefix decides which regexps match.
            name: format!("{}_{tag}", NAMES[name]),
            num_cores,
            max_time,
            max_mem: mem_gb.map(|g| g * GB),
            header: Vec::new(),
            partition: None,
        })
}

fn arb_count() -> impl Strategy<Value = CountRequest> {
    prop_oneof![
        (1u32..=8).prop_map(CountRequest::Nodes),
        (1u32..=300).prop_map(CountRequest::Cores),
        (1u32..=40, 0u32..=8).prop_map(|(tasks, cores_per_task)| CountRequest::Tasks {
            tasks,
            cores_per_task
        }),
        (1u32..=4, 0u32..=8).prop_map(|(nodes, cores_per_task)| CountRequest::NodesOfTasks {
            nodes,
            cores_per_task
        }),
    ]
}

fn arb_mem() -> impl Strategy<Value = Option<MemRequest>> {
    prop::option::of(prop_oneof![
        (1u64..=4096 * GB).prop_map(MemRequest::Total),
        (1u64..=64 * GB).prop_map(MemRequest::PerCore),
        (1u64..=64 * GB).prop_map(MemRequest::PerTask),
    ])
}

fn arb_request() -> impl Strategy<Value = Resources> {
    (
        arb_count(),
        prop::option::of(60u64..=250 * 3600),
        arb_mem(),
        prop::sample::subsequence(REGEXPS.to_vec(), 0..=2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(count, max_time, mem, partitions, exact_fit, partial_node)| Resources {
                max_time,
                count,
                mem,
                partitions: partitions.into_iter().map(String::from).collect(),
                exact_fit,
                partial_node,
                gpus: None,
                account: None,
            },
        )
}

fn arb_system() -> impl Strategy<Value = System> {
    (
        prop::collection::vec(arb_partition(), 0..6),
        prop_oneof![4 => Just(SchedulerKind::Slurm), 1 => Just(SchedulerKind::Local)],
    )
        .prop_map(|(partitions, scheduler)| System {
            name: "prop".into(),
            host: None,
            scheduler,
            partitions,
            header: Vec::new(),
            no_default_header: false,
            script_exec: "/bin/bash".into(),
            pre_submit_cmds: Vec::new(),
            commands: Vec::new(),
            rundir: None,
            remsh_cmd: None,
            resource_lines: false,
            max_queued: None,
            max_array_size: None,
            poll_interval: None,
            vanish_timeout: None,
            default_max_time: None,
            directives_skip: Vec::new(),
            job_name_prefix: None,
            retries: Default::default(),
            error_rules: Default::default(),
        })
}

/// Cores the request asks for on a partition with `pc` cores per node, and its tasks.
fn requested(count: CountRequest, pc: u64) -> (u64, u64) {
    match count {
        CountRequest::Nodes(n) => (u64::from(n) * pc, u64::from(n) * pc),
        CountRequest::Cores(n) => (n.into(), n.into()),
        CountRequest::Tasks {
            tasks,
            cores_per_task: 0,
        } => (u64::from(tasks) * pc, tasks.into()),
        CountRequest::Tasks {
            tasks,
            cores_per_task,
        } => (u64::from(tasks) * u64::from(cores_per_task), tasks.into()),
        CountRequest::NodesOfTasks {
            nodes,
            cores_per_task: 0,
        } => (u64::from(nodes) * pc, nodes.into()),
        CountRequest::NodesOfTasks {
            nodes,
            cores_per_task,
        } => (
            u64::from(nodes) * pc,
            u64::from(nodes) * pc / u64::from(cores_per_task),
        ),
    }
}

fn matches_whole(pattern: &str, name: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .unwrap()
        .is_match(name)
}

fn check_allocation(
    system: &System,
    request: &Resources,
    alloc: &NodeAllocation,
) -> Result<(), TestCaseError> {
    let p = system
        .partitions
        .iter()
        .find(|p| p.name == alloc.partition)
        .expect("allocation names a partition of the system");
    let partial = request.partial_node || system.scheduler == SchedulerKind::Local;
    let pc = u64::from(p.num_cores);
    let (cores, tasks) = requested(request.count, pc);

    prop_assert_eq!(alloc.num_nodes * alloc.num_cores_per_node, alloc.num_cores);
    prop_assert!(alloc.num_cores_per_node <= p.num_cores);
    prop_assert!(alloc.num_nodes >= 1);
    if partial {
        prop_assert_eq!(u64::from(alloc.num_cores), cores);
        prop_assert_eq!(alloc.num_nodes, 1);
    } else {
        prop_assert!(u64::from(alloc.num_cores) >= cores);
        prop_assert_eq!(alloc.num_cores_per_node, p.num_cores);
        // Whole nodes, and no more of them than needed.
        prop_assert_eq!(u64::from(alloc.num_nodes), cores.div_ceil(pc));
    }
    if request.exact_fit && !partial {
        prop_assert_eq!(u64::from(alloc.num_cores), cores, "exact fit has no excess");
    }
    if let (Some(max), Some(t)) = (p.max_time, request.max_time) {
        prop_assert!(t <= max);
    }
    prop_assert_eq!(alloc.max_time, request.max_time);
    if let (Some(max_mem), Some(mem)) = (p.max_mem, request.mem) {
        let nodes = u128::from(alloc.num_nodes);
        let max_mem = u128::from(max_mem);
        match mem {
            MemRequest::PerCore(m) => prop_assert!(u128::from(m) * u128::from(pc) <= max_mem),
            MemRequest::Total(m) => prop_assert!(u128::from(m) <= max_mem * nodes),
            MemRequest::PerTask(m) => {
                prop_assert!(u128::from(m) * u128::from(tasks) <= max_mem * nodes)
            }
        }
    }
    if !request.partitions.is_empty() {
        prop_assert!(
            request
                .partitions
                .iter()
                .any(|re| matches_whole(re, &alloc.partition))
        );
    }
    prop_assert_eq!(&alloc.scheduler_partition, p.scheduler_name());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn allocations_are_consistent_and_errors_list_every_partition(
        system in arb_system(),
        request in arb_request(),
    ) {
        match find_nodes(&system, &request) {
            Ok(alloc) => check_allocation(&system, &request, &alloc)?,
            Err(e) => {
                prop_assert!(matches!(e.kind, NodeFinderErrorKind::NoFit { .. }), "{e}");
                let listed: Vec<&str> =
                    e.rejections().iter().map(|r| r.partition.as_str()).collect();
                let all: Vec<&str> = system.partitions.iter().map(|p| p.name.as_str()).collect();
                prop_assert_eq!(listed, all);
                let text = e.to_string();
                prop_assert!(text.contains("'prop'"));
                for p in &system.partitions {
                    let line = format!("\n  {}: ", p.name);
                    prop_assert!(text.contains(&line), "{}", text);
                }
            }
        }
    }

    #[test]
    fn the_first_acceptable_partition_with_least_excess_wins(
        system in arb_system(),
        request in arb_request(),
    ) {
        // A partition is acceptable exactly when it is accepted alone.
        let alone: Vec<(u32, NodeAllocation)> = system
            .partitions
            .iter()
            .filter_map(|p| {
                let single = System { partitions: vec![p.clone()], ..system.clone() };
                find_nodes(&single, &request).ok().map(|a| (p.num_cores, a))
            })
            .collect();
        // Excess: the cores of the allocation's nodes that the cores asked leave unused
        // (with partial_node, of its one node), whatever the flags.
        let excess = |(pc, a): &(u32, NodeAllocation)| {
            let pc = u64::from(*pc);
            u64::from(a.num_nodes) * pc - requested(request.count, pc).0
        };
        let best = alone
            .iter()
            .min_by_key(|a| excess(a)) // min_by_key keeps the first of equal keys
            .map(|(_, a)| a);
        match (find_nodes(&system, &request), best) {
            (Ok(alloc), Some(best)) => prop_assert_eq!(&alloc, best),
            (Err(_), None) => {}
            (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
        }
    }
}
