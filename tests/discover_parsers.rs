//! The pure parsers of `xpr discover` (`src/discover/`) against their fixtures: the test bed's
//! real Slurm and Grid Engine (`fixtures/{slurm,sge}/<command>/testbed-*.txt`), the PBS and LSF
//! SIMULATORS (`simulator-*.txt`: test doubles, not PBS or LSF), and hand-written replies in the
//! documented formats of what the test bed cannot show (mixed nodes, Torque, limits, host
//! groups, hostile names). Then `interpret` on whole probe replies, and the config entry.

use std::path::Path;

use xpr::config::SchedulerKind;
use xpr::discover::{
    DiscoverErrorKind, DiscoverOptions, EntryOptions, FoundPartition, LsfHosts, ProbeReply,
    interpret, parse_bqueues, parse_frames, parse_lshosts, parse_pbsnodes, parse_pbsnodes_json,
    parse_qconf_queues, parse_qhost, parse_qstat_queues, parse_qstat_queues_json,
    parse_scontrol_partitions, parse_sinfo, system_entry, systems_document,
};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// --- Slurm -----------------------------------------------------------------------------------

/// One sinfo row as a test expects it: partition, cpus, mem_kb, time_limit, nodes.
type Row<'a> = (&'a str, u32, Option<u64>, Option<u64>, u32);

#[test]
fn sinfo_rows() {
    let cases: Vec<(String, Vec<Row>)> = vec![
        (
            fixture("slurm/sinfo-partitions/testbed-xpr-local.txt"),
            vec![
                ("debug", 16, Some(8000 * 1024), None, 1),
                ("short", 16, Some(8000 * 1024), Some(3600), 1),
                ("tiny", 16, Some(8000 * 1024), Some(60), 1),
            ],
        ),
        // Hand-written: a partition of two node kinds, `+` without -e, no RealMemory (1 MB).
        (
            "std|32|192000|2-00:00:00|10|up\nstd|64|256000|2-00:00:00|4|up\nbig|128+|1|infinite|2|drain\n"
                .into(),
            vec![
                ("std", 32, Some(192_000 * 1024), Some(172_800), 10),
                ("std", 64, Some(256_000 * 1024), Some(172_800), 4),
                ("big", 128, None, None, 2),
            ],
        ),
    ];
    for (text, expected) in cases {
        let rows = parse_sinfo(&text).unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.partition.as_str(),
                    r.cpus,
                    r.mem_kb,
                    r.time_limit,
                    r.nodes,
                )
            })
            .collect();
        assert_eq!(got, expected, "{text}");
    }
}

#[test]
fn sinfo_refuses_what_is_not_its_reply() {
    for (text, what) in [
        ("de bug|16|8000|infinite|1|up", "name"),
        ("x;rm -rf|16|8000|infinite|1|up", "name"),
        ("debug|sixteen|8000|infinite|1|up", "CPUs"),
        ("debug|0|8000|infinite|1|up", "CPUs"),
        ("debug|16|-5|infinite|1|up", "memory"),
        ("debug|16|8000|soon|1|up", "time"),
        ("debug|16|8000", "six"),
    ] {
        let err = parse_sinfo(text).unwrap_err();
        assert!(err.to_string().contains(what), "{text}: {err}");
        assert!(err.to_string().contains("sinfo -h -e"), "{err}");
    }
}

#[test]
fn scontrol_partitions() {
    let parts = parse_scontrol_partitions(&fixture(
        "slurm/scontrol-show-partition/testbed-xpr-local.txt",
    ))
    .unwrap();
    let got: Vec<_> = parts
        .iter()
        .map(|p| (p.name.as_str(), p.default, p.state.as_str(), p.max_time))
        .collect();
    assert_eq!(
        got,
        [
            ("debug", true, "UP", None),
            ("short", false, "UP", Some(3600)),
            ("tiny", false, "UP", Some(60)),
        ]
    );
    assert!(parts.iter().all(|p| p.max_mem_per_node_kb.is_none()));
    // Hand-written after the same layout: caps set.
    let capped = parse_scontrol_partitions(
        "PartitionName=gpu Default=NO MaxTime=1-12:00:00 MaxCPUsPerNode=32 State=DOWN \
         MaxMemPerCPU=4000 TRES=cpu=64\n",
    )
    .unwrap();
    assert_eq!(capped[0].max_time, Some(129_600));
    assert_eq!(capped[0].max_cpus_per_node, Some(32));
    assert_eq!(capped[0].max_mem_per_cpu_kb, Some(4000 * 1024));
    assert!(parse_scontrol_partitions("PartitionName=a MaxTime=eventually\n").is_err());
}

// --- PBS (simulator and hand-written) --------------------------------------------------------

#[test]
fn pbs_queues_and_nodes() {
    // The PBS SIMULATOR's replies (tests/simulators: a test double, not PBS).
    let queues = parse_qstat_queues(&fixture("pbs/qstat-Q-f/simulator-xpr-sim.txt")).unwrap();
    let got: Vec<_> = queues
        .iter()
        .map(|q| {
            (
                q.name.as_str(),
                q.execution,
                q.max_walltime,
                q.max_mem_kb,
                q.max_ncpus,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("workq", true, None, None, None),
            ("short", true, Some(3600), Some(8 << 20), Some(4)),
        ]
    );
    let nodes = parse_pbsnodes(&fixture("pbs/pbsnodes-a/simulator-xpr-sim.txt")).unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].ncpus.unwrap() >= 1 && nodes[0].mem_kb.unwrap() > 0);

    // Hand-written after the Torque layout (`np`, `status` with physmem, TAB continuation,
    // routing queue) of the Torque 6 Administrator Guide.
    let torque_nodes = "n001\n     state = free\n     np = 28\n     ntype = cluster\n     \
        status = rectime=1,ncpus=28,physmem=131900000kb,\n\tavailmem=1kb\n\nn002\n     state = down\n     np = 16\n";
    let nodes = parse_pbsnodes(torque_nodes).unwrap();
    assert_eq!(
        nodes
            .iter()
            .map(|n| (n.ncpus, n.mem_kb))
            .collect::<Vec<_>>(),
        [(Some(28), Some(131_900_000)), (Some(16), None)]
    );
    let torque_queues = "Queue: batch\n    queue_type = Execution\n    resources_max.walltime = 720:00:00\n    \
        enabled = True\n    started = True\n\nQueue: route\n    queue_type = Route\n    enabled = True\n";
    let queues = parse_qstat_queues(torque_queues).unwrap();
    assert_eq!(queues[0].max_walltime, Some(2_592_000));
    assert!(!queues[1].execution);
    for bad in [
        "Queue: work q\n    queue_type = Execution\n",
        "Queue: w\n    resources_max.mem = lots\n",
        "    orphan = 1\n",
    ] {
        assert!(parse_qstat_queues(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn pbs_pro_json_forms() {
    // Real PBS Pro 23.06.06 replies (a container test setup), from eth-cscs/firecrest-v2 (see
    // fixtures/public/SOURCES.md).
    let queues =
        parse_qstat_queues_json(&fixture("public/pbspro/qstat-F-json-f-Q__firecrest.json"))
            .unwrap();
    let got: Vec<_> = queues
        .iter()
        .map(|q| {
            (
                q.name.as_str(),
                q.execution,
                q.enabled,
                q.started,
                q.max_walltime,
            )
        })
        .collect();
    assert_eq!(got, [("workq", true, true, true, None)]);
    let nodes =
        parse_pbsnodes_json(&fixture("public/pbspro/pbsnodes-a-F-json__firecrest.json")).unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(
        (
            nodes[0].name.as_str(),
            nodes[0].ncpus,
            nodes[0].mem_kb,
            nodes[0].state.as_str()
        ),
        ("pbs", Some(1), Some(1024 * 1024), "free")
    );
    // Hand-written after the same layout: limits as numbers and strings, a node tied to a queue.
    let queues = parse_qstat_queues_json(
        r#"{"Queue":{"long":{"queue_type":"Execution","resources_max":{"walltime":"168:00:00",
            "mem":"512gb","ncpus":96},"enabled":"True","started":"True"}}}"#,
    )
    .unwrap();
    assert_eq!(
        (
            queues[0].max_walltime,
            queues[0].max_mem_kb,
            queues[0].max_ncpus
        ),
        (Some(168 * 3600), Some(512 << 20), Some(96))
    );
    let nodes = parse_pbsnodes_json(
        r#"{"nodes":{"n1":{"state":"free","queue":"long","resources_available":{"ncpus":"48"}}}}"#,
    )
    .unwrap();
    assert_eq!(nodes[0].queue.as_deref(), Some("long"));
    assert!(parse_qstat_queues_json(r#"{"Queue":{"bad name":{}}}"#).is_err());
    assert!(parse_pbsnodes_json("{not json").is_err());
}

// --- Grid Engine -----------------------------------------------------------------------------

#[test]
fn sge_queues_and_hosts() {
    let queues = parse_qconf_queues(&fixture("sge/qconf-sq/testbed-xpr-local.txt")).unwrap();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].name, "all.q");
    assert!(queues[0].batch);
    assert_eq!(queues[0].pe_list, ["smp"]);
    assert_eq!((queues[0].max_time, queues[0].h_vmem_kb), (None, None));
    let hosts = parse_qhost(&fixture("sge/qhost-q/testbed-xpr-local.txt")).unwrap();
    assert_eq!(hosts.len(), 1, "global is not a host");
    assert_eq!(hosts[0].queues, [("all.q".to_owned(), 8)]);
    assert!(hosts[0].ncpu.is_some() && hosts[0].mem_total_kb.is_some());

    // Hand-written after sge_queue_conf(5): continued lines, per-host overrides, limits; and an
    // older qhost without NSOC/NCOR/NTHR, with a host whose execd is down.
    let conf = "qname                 long.q\nhostlist              @allhosts\nqtype                 BATCH\n\
        pe_list               make mpi smp\nslots                 1,[n01=16], \\\n                      [n02=32]\n\
        s_rt                  47:00:00\nh_rt                  48:00:00\nh_vmem                4G\n\n\
        qname                 interactive.q\nqtype                 INTERACTIVE\npe_list               NONE\n";
    let queues = parse_qconf_queues(conf).unwrap();
    assert_eq!(queues[0].max_time, Some(47 * 3600));
    assert_eq!(queues[0].h_vmem_kb, Some(4 << 20));
    assert_eq!(queues[0].pe_list, ["make", "mpi", "smp"]);
    assert!(!queues[1].batch);
    let old = "HOSTNAME ARCH NCPU LOAD MEMTOT MEMUSE SWAPTO SWAPUS\n---\nglobal - - - - - - -\n\
        hx00 lx26-amd64 48 0.38 125.1G 3.0G 128.0G 0.0\n   long.q BP 0/3/16\nhx01 - - - - - - -\n";
    let hosts = parse_qhost(old).unwrap();
    assert_eq!(hosts[0].ncpu, Some(48));
    assert_eq!(hosts[0].queues, [("long.q".to_owned(), 16)]);
    assert_eq!((hosts[1].ncpu, hosts[1].mem_total_kb), (None, None));
    assert!(parse_qconf_queues("qname a$b\n").is_err());
}

// --- LSF (simulator and hand-written) --------------------------------------------------------

#[test]
fn lsf_queues_and_hosts() {
    // The LSF SIMULATOR's replies (tests/simulators: a test double, not LSF).
    let queues = parse_bqueues(&fixture("lsf/bqueues-l/simulator-xpr-sim.txt")).unwrap();
    let got: Vec<_> = queues
        .iter()
        .map(|q| (q.name.as_str(), q.status.as_str(), q.run_limit))
        .collect();
    assert_eq!(
        got,
        [
            ("normal", "Open:Active", None),
            ("short", "Open:Active", Some(3600))
        ]
    );
    assert_eq!(queues[0].hosts, LsfHosts::All);
    let hosts = parse_lshosts(&fixture("lsf/lshosts-w/simulator-xpr-sim.txt")).unwrap();
    assert_eq!(hosts.len(), 1);
    assert!(hosts[0].server && hosts[0].ncpus.is_some());

    // Hand-written after IBM LSF 10.1 `bqueues -l` (limits with `of HOST`, default limits
    // that are not caps, host groups) and `lshosts` as quoted in LSF guides (`-` values, a
    // client host).
    let text = "QUEUE: gpu\n  -- GPU jobs\n\nPARAMETERS/STATISTICS\n\
        PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS\n\
        \x20 40   20  Open:Active       -    -    -    -     0     0     0     0     0    0     0\n\n\
        DEFAULT LIMITS:\n RUNLIMIT\n 60.0 min of hostA\n\nMAXIMUM LIMITS:\n CPULIMIT                RUNLIMIT\n \
        20.0 min of hostA       1440.0 min of hostA\n\n MEMLIMIT\n      64 G\n\n\
        USERS: all\nHOSTS:  gpunodes/ hostZ\n\nQUEUE: closed\n\nPARAMETERS/STATISTICS\n\
        PRIO NICE STATUS\n 1 0 Closed:Inact\n";
    let queues = parse_bqueues(text).unwrap();
    assert_eq!(queues[0].run_limit, Some(1440 * 60));
    assert_eq!(queues[0].mem_limit_kb, Some(64 << 20));
    assert_eq!(
        queues[0].hosts,
        LsfHosts::Named {
            hosts: vec!["hostZ".into()],
            groups: vec!["gpunodes".into()]
        }
    );
    assert!(!queues[1].is_open());
    let hosts = parse_lshosts(
        "HOST_NAME      type    model  cpuf ncpus maxmem maxswp server RESOURCES\n\
         node211      X86_64 Intel_EM  60.0     8  15.3G      -    Yes (mg)\n\
         node212      X86_64    !        1.0     8      -      -    Yes ()\n\
         client1     UNKNOWN UNKNOWN_   1.0     -      -      -     No ()\n",
    )
    .unwrap();
    assert_eq!(
        hosts
            .iter()
            .map(|h| (h.ncpus, h.maxmem_kb, h.server))
            .collect::<Vec<_>>(),
        [
            (Some(8), Some(16_043_212), true),
            (Some(8), None, true),
            (None, None, false)
        ]
    );
    assert!(parse_bqueues("QUEUE: a|b\n").is_err());
}

// --- whole replies ---------------------------------------------------------------------------

/// A probe reply with `frames` (kind, step, status, stdout).
fn reply(frames: &[(&str, &str, i32, &str)]) -> ProbeReply {
    let mut bytes = Vec::new();
    for (kind, step, status, out) in frames {
        bytes.extend(
            format!(
                "@xpr-discover {kind} {step} {status} {} 0\n{out}",
                out.len()
            )
            .into_bytes(),
        );
    }
    parse_frames(&bytes).unwrap()
}

fn slurm_frames() -> Vec<(&'static str, &'static str, i32, String)> {
    vec![
        ("slurm", "version", 0, "slurm-wlm 22.05.8\n".into()),
        (
            "slurm",
            "sinfo",
            0,
            fixture("slurm/sinfo-partitions/testbed-xpr-local.txt"),
        ),
        (
            "slurm",
            "scontrol",
            0,
            fixture("slurm/scontrol-show-partition/testbed-xpr-local.txt"),
        ),
    ]
}

#[test]
fn interpret_picks_the_scheduler_that_answers() {
    let mut frames = slurm_frames();
    frames.push(("pbs", "absent", 127, String::new()));
    frames.push(("sge", "version", 0, "SGE 8.1.9\n".into()));
    frames.push(("sge", "hosts", 1, "error: commlib error\n".into()));
    frames.push(("lsf", "absent", 127, String::new()));
    frames.push(("local", "cpus", 0, "2\n".into()));
    let borrowed: Vec<(&str, &str, i32, &str)> = frames
        .iter()
        .map(|(k, s, c, o)| (*k, *s, *c, o.as_str()))
        .collect();
    let found = interpret("xpr-hostA", &reply(&borrowed), &DiscoverOptions::default()).unwrap();
    assert_eq!(found.scheduler, SchedulerKind::Slurm);
    assert_eq!(found.version.as_deref(), Some("slurm-wlm 22.05.8"));
    assert_eq!(
        found.partitions[1],
        FoundPartition {
            name: "short".into(),
            num_cores: 16,
            max_time: Some(3600),
            max_mem: Some(8000 * 1024),
            header: vec![],
        }
    );
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("sge's commands are there but do not answer")),
        "{:?}",
        found.notes
    );

    // Slurm and Grid Engine both answering: ambiguous, unless one is asked for.
    let mut both = borrowed.clone();
    both.retain(|(k, s, _, _)| !(*k == "sge" && *s == "hosts"));
    let queues = fixture("sge/qconf-sq/testbed-xpr-local.txt");
    let hosts = fixture("sge/qhost-q/testbed-xpr-local.txt");
    both.push(("sge", "hosts", 0, &hosts));
    both.push(("sge", "queues", 0, &queues));
    let err = interpret("xpr-local", &reply(&both), &DiscoverOptions::default()).unwrap_err();
    assert!(
        matches!(*err.kind, DiscoverErrorKind::Ambiguous { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("xpr-local") && err.to_string().contains("--scheduler"));
    let sge = interpret(
        "xpr-local",
        &reply(&both),
        &DiscoverOptions {
            scheduler: Some(SchedulerKind::Sge),
        },
    )
    .unwrap();
    assert_eq!(sge.partitions[0].header, ["#$ -pe smp {num_cores}"]);

    // Nothing answers: the host's own cores.
    let none = reply(&[
        ("slurm", "absent", 127, ""),
        ("pbs", "absent", 127, ""),
        ("sge", "absent", 127, ""),
        ("lsf", "absent", 127, ""),
        ("local", "cpus", 0, "4\n"),
        ("local", "meminfo", 0, "MemTotal:  16318504 kB\n"),
    ]);
    let local = interpret("box", &none, &DiscoverOptions::default()).unwrap();
    assert_eq!(local.scheduler, SchedulerKind::Local);
    assert_eq!(local.partitions[0].num_cores, 4);
}

#[test]
fn pbs_like_commands_of_another_scheduler_do_not_count() {
    // Slurm's Torque wrappers (`qstat`, `pbsnodes`) answer, but `qstat --version` names no PBS.
    let mut frames = slurm_frames();
    frames.push(("pbs", "version", 0, "slurm 22.05.8\n".into()));
    frames.push(("pbs", "queues", 0, String::new()));
    frames.push(("pbs", "nodes", 0, String::new()));
    let borrowed: Vec<(&str, &str, i32, &str)> = frames
        .iter()
        .map(|(k, s, c, o)| (*k, *s, *c, o.as_str()))
        .collect();
    let found = interpret("hpc", &reply(&borrowed), &DiscoverOptions::default()).unwrap();
    assert_eq!(found.scheduler, SchedulerKind::Slurm);
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("names neither PBS Pro")),
        "{:?}",
        found.notes
    );
    // The real PBS Pro version line counts (and the JSON replies are read).
    let pbs = reply(&[
        ("pbs", "version", 0, "pbs_version = 23.06.06\n"),
        (
            "pbs",
            "queues",
            0,
            &fixture("public/pbspro/qstat-F-json-f-Q__firecrest.json"),
        ),
        (
            "pbs",
            "nodes",
            0,
            &fixture("public/pbspro/pbsnodes-a-F-json__firecrest.json"),
        ),
    ]);
    let found = interpret(
        "pbs",
        &pbs,
        &DiscoverOptions {
            scheduler: Some(SchedulerKind::Pbs),
        },
    )
    .unwrap();
    assert_eq!(found.pbs_flavour, Some(xpr::discover::PbsFlavour::Pro));
    assert_eq!(found.partitions[0].name, "workq");
    assert_eq!(found.partitions[0].num_cores, 1);
}

#[test]
fn a_bad_value_names_host_command_and_value() {
    let err = interpret(
        "hpc1",
        &reply(&[
            ("slurm", "version", 0, "slurm 23.02\n"),
            (
                "slurm",
                "sinfo",
                0,
                "ok|16|8000|infinite|1|up\n`reboot`|8|1|infinite|1|up\n",
            ),
            ("slurm", "scontrol", 0, "PartitionName=ok\n"),
        ]),
        &DiscoverOptions {
            scheduler: Some(SchedulerKind::Slurm),
        },
    )
    .unwrap_err();
    let text = err.to_string();
    for part in ["hpc1", "sinfo -h -e", "`reboot`"] {
        assert!(text.contains(part), "{text}");
    }
    // A scheduler asked for that is not there.
    let err = interpret(
        "hpc1",
        &reply(&[("lsf", "absent", 127, "")]),
        &DiscoverOptions {
            scheduler: Some(SchedulerKind::Lsf),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("lsf is not there"), "{err}");
}

#[test]
fn the_entry_is_a_valid_config_in_its_units() {
    let frames = slurm_frames();
    let borrowed: Vec<(&str, &str, i32, &str)> = frames
        .iter()
        .map(|(k, s, c, o)| (*k, *s, *c, o.as_str()))
        .collect();
    let found = interpret(
        "xpr-hostA",
        &reply(&borrowed),
        &DiscoverOptions {
            scheduler: Some(SchedulerKind::Slurm),
        },
    )
    .unwrap();
    let entry = system_entry(
        &found,
        &EntryOptions {
            host: Some("me@xpr-hostA".into()),
            remsh_cmd: Some("ssh -F cfg".into()),
            rundir: None,
        },
    );
    assert_eq!(entry["host"], "me@xpr-hostA");
    assert_eq!(entry["rundir"], "run_expyre");
    assert_eq!(entry["partitions"]["short"]["max_time"], "1h");
    assert_eq!(entry["partitions"]["tiny"]["max_time"], "1m");
    assert_eq!(
        entry["partitions"]["debug"]["max_time"],
        serde_json::Value::Null
    );
    assert_eq!(entry["partitions"]["debug"]["max_mem"], "8000MB");
    let doc = systems_document("hostA", &entry).unwrap();
    let config = xpr::config::Config::from_json_str(&doc.to_string(), Path::new("x")).unwrap();
    let system = config.system("hostA").unwrap();
    assert_eq!(system.partitions.len(), 3);
    assert_eq!(system.partitions[2].max_time, Some(60));
    assert!(systems_document("bad name", &entry).is_err());
}

#[test]
fn capture_script_runs_the_probe_commands() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/capture/discover.sh"),
    )
    .unwrap();
    let probe = include_str!("../src/discover/probe.sh");
    for command in [
        "sinfo -h -e -o '%R|%c|%m|%l|%D|%a'",
        "scontrol show partition --oneliner",
        "qconf -sq \"$q\"",
        "qhost -q",
        "qstat -Q -f",
        "pbsnodes -a",
        "bqueues -l",
        "lshosts -w",
    ] {
        assert!(script.contains(command), "capture script lacks {command}");
        assert!(probe.contains(command), "probe lacks {command}");
    }
}
