//! The node finder against every worked example of the reference (expyre-compat.md,
//! "Node finder"), its departure for `partial_node`, and the content of its errors.

use serde_json::json;
use xpr::config::{Partition, System};
use xpr::resources::{
    CountRequest, MemRequest, NodeAllocation, NodeFinderError, NodeFinderErrorKind, RejectReason,
    Resources, find_nodes, parse_mem,
};
use xpr::scheduler::SchedulerKind;

const GB: u64 = 1024 * 1024;

fn partition(name: &str, num_cores: u32, max_time: Option<u64>, max_mem: Option<u64>) -> Partition {
    Partition {
        name: name.into(),
        num_cores,
        max_time,
        max_mem,
        header: Vec::new(),
        partition: None,
    }
}

fn system(name: &str, scheduler: SchedulerKind, partitions: Vec<Partition>) -> System {
    System {
        name: name.into(),
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
    }
}

/// The reference's first example system: five partitions, no time limits.
fn example_system() -> System {
    system(
        "example",
        SchedulerKind::Slurm,
        vec![
            partition("node16_1,node16_2", 16, None, Some(60 * GB)),
            partition("node36", 36, None, Some(180 * GB)),
            partition("node32", 32, None, Some(180 * GB)),
            partition("node_bigmem", 56, None, Some(1500 * GB)),
            partition("node_bigmem_72", 72, None, Some(1500 * GB)),
        ],
    )
}

/// The reference's second example system: `debug` (40 cores, 1 h), `standard` (40, 168 h).
fn debug_standard() -> System {
    system(
        "archer",
        SchedulerKind::Slurm,
        vec![
            partition("debug", 40, Some(3600), None),
            partition("standard", 40, Some(168 * 3600), None),
        ],
    )
}

/// (partition, nodes, cores, cores per node) of an allocation.
type Summary<'a> = (&'a str, u32, u32, u32);

fn summary(alloc: &NodeAllocation) -> Summary<'_> {
    (
        alloc.partition.as_str(),
        alloc.num_nodes,
        alloc.num_cores,
        alloc.num_cores_per_node,
    )
}

fn ok(system: &System, request: Resources) -> NodeAllocation {
    find_nodes(system, &request).unwrap_or_else(|e| panic!("{request}: {e}"))
}

fn err(system: &System, request: Resources) -> NodeFinderError {
    match find_nodes(system, &request) {
        Ok(alloc) => panic!("{request}: expected an error, got {alloc:?}"),
        Err(e) => e,
    }
}

#[test]
fn first_table_of_the_reference() {
    let sys = example_system();
    let n16 = "node16_1,node16_2";
    let cases: Vec<(Resources, Summary)> = vec![
        (Resources::cores(16), (n16, 1, 16, 16)),
        (Resources::cores(32), (n16, 2, 32, 16)),
        (Resources::cores(36), ("node36", 1, 36, 36)),
        (Resources::nodes(1), (n16, 1, 16, 16)),
        (
            Resources::nodes(1).with_partitions([".*bigmem"]),
            ("node_bigmem", 1, 56, 56),
        ),
        (Resources::cores(17).with_exact_fit(false), (n16, 2, 32, 16)),
        (
            Resources::cores(71).with_exact_fit(false),
            ("node36", 2, 72, 36),
        ),
        (
            Resources::nodes(1).with_max_mem_per_core(17 * GB),
            ("node_bigmem", 1, 56, 56),
        ),
        (
            Resources::nodes(1).with_max_mem_tot(1024 * GB),
            ("node_bigmem", 1, 56, 56),
        ),
        (Resources::cores(8).with_partial_node(true), (n16, 1, 8, 8)),
    ];
    for (request, expected) in cases {
        assert_eq!(summary(&ok(&sys, request.clone())), expected, "{request}");
    }
    // 17 cores with exact fit: no partition has a multiple of 17 cores per node.
    let e = err(&sys, Resources::cores(17));
    assert_eq!(e.rejections().len(), 5);
    assert!(
        e.rejections()
            .iter()
            .all(|r| matches!(r.reason, RejectReason::NotWholeNodes { cores: 17, .. }))
    );
}

#[test]
fn memory_from_strings_as_in_the_reference() {
    // "17GB per core" and "1TB total", spelled as a user would.
    let sys = example_system();
    let per_core = Resources::nodes(1).with_max_mem_per_core(parse_mem("17GB").unwrap());
    assert_eq!(summary(&ok(&sys, per_core)).0, "node_bigmem");
    let total =
        Resources::from_json(&json!({"max_time": "1h", "num_nodes": 1, "max_mem_tot": "1TB"}))
            .unwrap();
    assert_eq!(summary(&ok(&sys, total)).0, "node_bigmem");
}

#[test]
fn second_table_of_the_reference() {
    let sys = debug_standard();
    for t in [1800, 3600] {
        let alloc = ok(&sys, Resources::nodes(1).with_max_time(t));
        assert_eq!(summary(&alloc), ("debug", 1, 40, 40), "{t} s");
        assert_eq!(alloc.max_time, Some(t));
    }
    let t = 3900; // 1:05:00
    assert_eq!(
        summary(&ok(&sys, Resources::nodes(2).with_max_time(t))),
        ("standard", 2, 80, 40)
    );
    assert_eq!(
        summary(&ok(&sys, Resources::cores(80).with_max_time(t))),
        ("standard", 2, 80, 40)
    );
    let e = err(&sys, Resources::nodes(1).with_max_time(169 * 3600));
    assert_eq!(e.rejections().len(), 2);
    assert_eq!(
        summary(&ok(
            &sys,
            Resources::nodes(1)
                .with_max_time(60)
                .with_partitions(["deb.*"])
        )),
        ("debug", 1, 40, 40)
    );
    // Regexps match the whole key.
    let e = err(
        &sys,
        Resources::nodes(1)
            .with_max_time(60)
            .with_partitions(["deb"]),
    );
    assert!(
        e.rejections()
            .iter()
            .all(|r| matches!(r.reason, RejectReason::NoRegexMatch { .. }))
    );
}

#[test]
fn second_table_from_expyre_dicts() {
    let sys = debug_standard();
    let find = |v: serde_json::Value| find_nodes(&sys, &Resources::from_json(&v).unwrap());
    assert_eq!(
        find(json!({"max_time": "30m", "num_nodes": 1}))
            .unwrap()
            .partition,
        "debug"
    );
    assert_eq!(
        find(json!({"max_time": "1h", "num_nodes": 1}))
            .unwrap()
            .partition,
        "debug"
    );
    assert_eq!(
        find(json!({"max_time": "1:05:00", "num_cores": 80}))
            .unwrap()
            .partition,
        "standard"
    );
    assert!(find(json!({"max_time": "169h", "num_nodes": 1})).is_err());
    assert!(find(json!({"max_time": "1h", "num_nodes": 1, "partitions": ["deb"]})).is_err());
}

#[test]
fn partial_node_considers_only_partitions_one_node_holds() {
    // Upstream would pick node16_1,node16_2 by least excess (12) and then fail, as 20 cores
    // do not fit one 16-core node; xpr drops the partitions where they do not fit.
    let alloc = ok(
        &example_system(),
        Resources::cores(20).with_partial_node(true),
    );
    assert_eq!(alloc.partition, "node32");
    let e = err(
        &example_system(),
        Resources::cores(73).with_partial_node(true),
    );
    assert_eq!(e.rejections().len(), 5);
    assert!(
        e.to_string().contains(
            "node_bigmem_72: 73 cores do not fit one 72-core node, as --partial-node needs"
        )
    );
}

/// The reference's corrected departure: among the partitions one node of which holds the
/// cores, upstream's rule still picks (first with zero excess, else first with least excess;
/// excess being the node's unused cores), not config order alone.
#[test]
fn partial_node_keeps_upstreams_choice_rule() {
    let sys = example_system();
    let partial = |cores| Resources::cores(cores).with_partial_node(true);
    // 20 cores: node36 would leave 16 cores unused, node32 12, the bigmem ones 36 and 52.
    assert_eq!(summary(&ok(&sys, partial(20))), ("node32", 1, 20, 20));
    // 32 cores: node32 leaves none, so it beats node36 (4 unused), which comes first.
    assert_eq!(summary(&ok(&sys, partial(32))), ("node32", 1, 32, 32));
    // 56 cores fill a node_bigmem; 60 leave 12 on node_bigmem_72, the only one they fit.
    assert_eq!(summary(&ok(&sys, partial(56))), ("node_bigmem", 1, 56, 56));
    assert_eq!(
        summary(&ok(&sys, partial(60))),
        ("node_bigmem_72", 1, 60, 60)
    );

    // Ties go to the first in config order.
    let ties = system(
        "ties",
        SchedulerKind::Slurm,
        vec![
            partition("a48", 48, None, None),
            partition("b40", 40, None, None),
            partition("c40", 40, None, None),
            partition("d36", 36, None, None),
        ],
    );
    assert_eq!(summary(&ok(&ties, partial(30))), ("d36", 1, 30, 30));
    assert_eq!(summary(&ok(&ties, partial(38))), ("b40", 1, 38, 38));
    assert_eq!(summary(&ok(&ties, partial(40))), ("b40", 1, 40, 40));
    assert_eq!(summary(&ok(&ties, partial(41))), ("a48", 1, 41, 41));
}

#[test]
fn partial_node_with_a_whole_node_request() {
    let alloc = ok(
        &example_system(),
        Resources::nodes(1).with_partial_node(true),
    );
    assert_eq!(summary(&alloc), ("node16_1,node16_2", 1, 16, 16));
}

#[test]
fn local_scheduler_implies_partial_node() {
    let sys = system(
        "local",
        SchedulerKind::Local,
        vec![partition("local", 4, None, None)],
    );
    assert_eq!(summary(&ok(&sys, Resources::cores(1))), ("local", 1, 1, 1));
    assert!(find_nodes(&sys, &Resources::cores(5)).is_err());
}

#[test]
fn allocation_fields() {
    let mut sys = debug_standard();
    sys.partitions[1].partition = Some("standard_v2".into());
    let alloc = ok(&sys, Resources::nodes(2).with_max_time(7200));
    assert_eq!(
        alloc,
        NodeAllocation {
            partition: "standard".into(),
            scheduler_partition: "standard_v2".into(),
            num_nodes: 2,
            num_cores: 80,
            num_cores_per_node: 40,
            ncores_per_task: 1,
            max_time: Some(7200),
            mem: None,
            gpus: None,
            account: None,
        }
    );
    assert_eq!(ok(&sys, Resources::nodes(1)).scheduler_partition, "debug");
    assert_eq!(alloc.num_tasks(), 80);
}

#[test]
fn older_task_requests() {
    let sys = example_system();
    // 9 tasks of 4 cores = 36 cores -> node36 exactly.
    let tasks = Resources::new(CountRequest::Tasks {
        tasks: 9,
        cores_per_task: 4,
    });
    let alloc = ok(&sys, tasks);
    assert_eq!(summary(&alloc), ("node36", 1, 36, 36));
    assert_eq!(alloc.ncores_per_task, 4);
    assert_eq!((alloc.num_tasks(), alloc.num_tasks_per_node()), (9, 9));

    // ncores_per_task = 0: one task per whole node.
    let whole = Resources::new(CountRequest::Tasks {
        tasks: 2,
        cores_per_task: 0,
    });
    let alloc = ok(&sys, whole);
    assert_eq!(summary(&alloc), ("node16_1,node16_2", 2, 32, 16));
    assert_eq!((alloc.ncores_per_task, alloc.num_tasks()), (16, 2));

    let nodes_of_tasks = Resources::new(CountRequest::NodesOfTasks {
        nodes: 2,
        cores_per_task: 4,
    });
    let alloc = ok(&sys, nodes_of_tasks);
    assert_eq!(summary(&alloc), ("node16_1,node16_2", 2, 32, 16));
    assert_eq!((alloc.num_tasks(), alloc.num_tasks_per_node()), (8, 4));

    // 10 tasks with 10 GB each: 100 GB do not fit one 16-core node (60 GB); of the rest
    // node32 wastes the fewest cores (22, node36 26).
    let mem = Resources::new(CountRequest::Tasks {
        tasks: 10,
        cores_per_task: 1,
    })
    .with_mem(MemRequest::PerTask(10 * GB))
    .with_exact_fit(false);
    assert_eq!(summary(&ok(&sys, mem.clone())), ("node32", 1, 32, 32));
    let e = err(&sys, mem.with_mem(MemRequest::PerTask(200 * GB)));
    assert!(
        e.to_string()
            .contains("max_mem_per_task 200.0 GiB x 10 tasks"),
        "{e}"
    );
}

#[test]
fn ties_go_to_the_first_and_zero_excess_wins() {
    let sys = system(
        "ties",
        SchedulerKind::Slurm,
        vec![
            partition("a12", 12, None, None),
            partition("b10", 10, None, None),
            partition("c10", 10, None, None),
            partition("d8", 8, None, None),
        ],
    );
    // 18 cores: excess a12 6, b10 2, c10 2, d8 6 -> first least excess: b10.
    assert_eq!(
        summary(&ok(&sys, Resources::cores(18).with_exact_fit(false))),
        ("b10", 2, 20, 10)
    );
    // 24 cores: a12 exact (0), d8 exact too; the first zero wins.
    assert_eq!(
        summary(&ok(&sys, Resources::cores(24).with_exact_fit(false))),
        ("a12", 2, 24, 12)
    );
    // 40 cores, exact fit: b10 is first with a whole number of nodes.
    assert_eq!(summary(&ok(&sys, Resources::cores(40))), ("b10", 4, 40, 10));
}

#[test]
fn error_names_system_request_and_every_partition() {
    let sys = system(
        "mixed",
        SchedulerKind::Slurm,
        vec![
            partition("node16", 16, None, Some(60 * GB)),
            partition("debug", 40, Some(3600), None),
            partition("x", 32, None, None),
            partition("small", 8, None, Some(8 * GB)),
        ],
    );
    let request = Resources::cores(17)
        .with_max_time(169 * 3600)
        .with_max_mem_per_core(2 * GB)
        .with_partitions(["node16", "debug", "small"]);
    let e = err(&sys, request.clone());
    let text = e.to_string();
    assert!(
        text.starts_with("no partition of system 'mixed' fits 17 cores, max_time 169:00:00"),
        "{text}"
    );
    assert!(text.contains("max_mem_per_core 2.0 GiB"), "{text}");
    assert!(
        text.contains("partitions 'node16', 'debug', 'small'"),
        "{text}"
    );
    assert!(
        text.contains(
            "\n  node16: 17 cores is not a whole number of 16-core nodes (hint: --no-exact-fit or --partial-node)"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n  debug: max_time 1:00:00 < requested 169:00:00"),
        "{text}"
    );
    assert!(
        text.contains("\n  x: does not match --partitions 'node16', 'debug', 'small'"),
        "{text}"
    );
    assert_eq!(e.system.as_str(), "mixed");
    assert_eq!(*e.request, request);
    let names: Vec<&str> = e
        .rejections()
        .iter()
        .map(|r| r.partition.as_str())
        .collect();
    assert_eq!(names, ["node16", "debug", "x", "small"]);

    // Memory: both figures shown. `small` passes the core check without exact fit and fails
    // on memory (2 GiB per core > 1 GiB per core).
    let e = err(
        &sys,
        Resources::cores(4)
            .with_max_mem_per_core(2 * GB)
            .with_partitions(["small"])
            .with_exact_fit(false),
    );
    assert_eq!(
        e.rejections()[3].reason,
        RejectReason::MemPerCore {
            requested: 2 * GB,
            max_mem: 8 * GB,
            per_node: 8
        }
    );
    assert!(
        e.to_string().contains(
            "small: max_mem_per_core 2.0 GiB > 1.0 GiB per core (8.0 GiB per node / 8 cores)"
        ),
        "{e}"
    );
    let e = err(
        &sys,
        Resources::nodes(2)
            .with_max_mem_tot(1024 * GB)
            .with_partitions(["node16"]),
    );
    assert!(
        e.to_string()
            .contains("node16: max_mem_tot 1.0 TiB > 120.0 GiB on 2 nodes (60.0 GiB per node)"),
        "{e}"
    );
}

#[test]
fn memory_limits_are_inclusive() {
    // Exactly the node's memory is allowed (ExPyRe rejects only what is strictly above).
    let sys = system(
        "m",
        SchedulerKind::Slurm,
        vec![partition("p", 16, None, Some(64 * GB))],
    );
    assert!(find_nodes(&sys, &Resources::nodes(1).with_max_mem_per_core(4 * GB)).is_ok());
    assert!(find_nodes(&sys, &Resources::nodes(1).with_max_mem_per_core(4 * GB + 1)).is_err());
    assert!(find_nodes(&sys, &Resources::nodes(2).with_max_mem_tot(128 * GB)).is_ok());
    assert!(find_nodes(&sys, &Resources::nodes(2).with_max_mem_tot(128 * GB + 1)).is_err());
    // Unknown memory on either side is not checked.
    let unknown = system(
        "u",
        SchedulerKind::Slurm,
        vec![partition("p", 16, None, None)],
    );
    assert!(find_nodes(&unknown, &Resources::nodes(1).with_max_mem_tot(u64::MAX)).is_ok());
}

#[test]
fn bad_regexp_is_named() {
    let e = err(
        &example_system(),
        Resources::nodes(1).with_partitions(["node.*", "node(16"]),
    );
    assert!(
        matches!(&e.kind, NodeFinderErrorKind::BadRegex { pattern, .. } if pattern == "node(16"),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("invalid partition regexp 'node(16'"),
        "{e}"
    );
    assert!(e.to_string().contains("'example'"), "{e}");
}

#[test]
fn regexps_are_anchored_even_with_alternation() {
    // `node16|node36` must not match `node16_1,node16_2` by its prefix.
    let alloc = ok(
        &example_system(),
        Resources::nodes(1).with_partitions(["node16|node36"]),
    );
    assert_eq!(alloc.partition, "node36");
}

#[test]
fn empty_request_and_empty_system() {
    let e = err(&example_system(), Resources::cores(0));
    assert_eq!(e.kind, NodeFinderErrorKind::EmptyRequest);
    let none = system("bare", SchedulerKind::Slurm, Vec::new());
    let e = err(&none, Resources::nodes(1));
    assert!(e.rejections().is_empty());
    assert!(
        e.to_string().contains("system 'bare' has no partitions"),
        "{e}"
    );
}

#[test]
fn zero_core_partition_is_rejected_not_a_panic() {
    let sys = system(
        "z",
        SchedulerKind::Slurm,
        vec![
            partition("broken", 0, None, None),
            partition("ok", 4, None, None),
        ],
    );
    assert_eq!(ok(&sys, Resources::cores(4)).partition, "ok");
    let e = err(&sys, Resources::cores(3));
    assert_eq!(e.rejections()[0].reason, RejectReason::NoCores);
}

#[test]
fn gpus_and_account_do_not_move_a_request_and_the_allocation_carries_what_was_asked() {
    let sys = example_system();
    for request in [
        Resources::cores(36),
        Resources::nodes(1),
        Resources::nodes(1).with_max_mem_per_core(17 * GB),
        Resources::cores(17).with_exact_fit(false),
    ] {
        let plain = ok(&sys, request.clone());
        let asked = ok(&sys, request.clone().with_gpus(4).with_account("e89"));
        assert_eq!(summary(&asked), summary(&plain), "{request}");
        assert_eq!(asked.mem, request.mem, "{request}");
        assert_eq!(asked.gpus, Some(4));
        assert_eq!(asked.account.as_deref(), Some("e89"));
        assert_eq!((plain.gpus, plain.account), (None, None));
    }
}

#[test]
fn memory_shares_of_an_allocation_follow_its_counts() {
    // 1 TB in all lands on node_bigmem: 1 node of 56 cores.
    let alloc = ok(
        &example_system(),
        Resources::nodes(1).with_max_mem_tot(1024 * GB),
    );
    assert_eq!(alloc.partition, "node_bigmem");
    let shares = alloc.mem_shares().unwrap();
    assert_eq!(shares.total, 1024 * GB);
    assert_eq!(shares.per_node, 1024 * GB);
    assert_eq!(shares.per_core, (1024 * GB).div_ceil(56));
    assert!(
        ok(&example_system(), Resources::nodes(1))
            .mem_shares()
            .is_none()
    );
}
