//! Job script assembly: the full script for a Slurm-like system through a test double
//! scheduler, header order, `no_default_header`, `EXPYRE_HEADER_EXTRA`, error origins and the
//! quoting of a hostile job directory (checked by running the `cd` line in a real shell).

use std::process::Command;

use xpr::command::{CommandOutput, CommandSpec};
use xpr::config::{Partition, System};
use xpr::ids::{SchedulerJobId, SystemName};
use xpr::resources::NodeAllocation;
use xpr::scheduler::script::{
    HeaderSource, ScriptErrorKind, ScriptSpec, build_script, header_lines,
};
use xpr::scheduler::{JobStatus, ParseError, Scheduler, SchedulerKind};
use xpr::template::TemplateErrorKind;

/// A scheduler that only has Slurm's default header; it never builds or parses commands.
struct FakeSlurm;

impl Scheduler for FakeSlurm {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Slurm
    }
    fn default_header(&self) -> &'static [&'static str] {
        &[
            "#SBATCH --job-name={id}",
            "#SBATCH --partition={partition}",
            "#SBATCH --time={max_time}",
            "#SBATCH --output=job.{id}.stdout",
            "#SBATCH --error=job.{id}.stderr",
        ]
    }
    fn submit(&self, _: &str, _: &str) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn parse_submit(&self, _: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        unimplemented!("not used by script assembly")
    }
    fn status(&self, _: &[SchedulerJobId]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn parse_status(&self, _: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        unimplemented!("not used by script assembly")
    }
    fn accounting(&self, _: &[SchedulerJobId]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn parse_accounting(&self, _: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        unimplemented!("not used by script assembly")
    }
    fn find_by_name(&self, _: &[String]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn parse_find_by_name(&self, _: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        unimplemented!("not used by script assembly")
    }
    fn cancel(&self, _: &[SchedulerJobId]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn hold(&self, _: &[SchedulerJobId]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
    fn release(&self, _: &[SchedulerJobId]) -> CommandSpec {
        unimplemented!("not used by script assembly")
    }
}

fn system() -> System {
    System {
        name: SystemName::new("cluster"),
        host: Some("user@cluster".into()),
        scheduler: SchedulerKind::Slurm,
        partitions: vec![
            Partition {
                name: "debug".into(),
                num_cores: 40,
                max_time: Some(3600),
                max_mem: None,
                header: vec![],
                partition: None,
            },
            Partition {
                name: "std".into(),
                num_cores: 40,
                max_time: None,
                max_mem: None,
                header: vec!["#SBATCH --qos=standard".into()],
                partition: Some("standard".into()),
            },
        ],
        header: vec![
            "#SBATCH --nodes={num_nodes}".into(),
            "#SBATCH --ntasks-per-node={num_cores_per_node}   ".into(),
        ],
        no_default_header: false,
        script_exec: "/bin/bash -l".into(),
        pre_submit_cmds: vec![],
        commands: vec!["module load vasp".into(), "set -e".into()],
        rundir: Some("run_xpr".into()),
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

fn alloc() -> NodeAllocation {
    NodeAllocation {
        partition: "std".into(),
        scheduler_partition: "standard".into(),
        num_nodes: 2,
        num_cores: 80,
        num_cores_per_node: 40,
        ncores_per_task: 4,
        max_time: Some(3900),
        mem: None,
        gpus: None,
        account: None,
    }
}

fn spec() -> ScriptSpec {
    ScriptSpec::new("task_abc", "/scratch/u/run_xpr/task_abc")
        .with_extra_header(["#SBATCH --account=e89"])
        .with_header_extra_env(r##"["#SBATCH --mail-user={id}@x.org"]"##)
        .with_body(["python3 job.py > out.txt", "echo done"])
}

#[test]
fn full_script_for_a_slurm_system() {
    let script = build_script(&system(), &alloc(), &FakeSlurm, &spec()).unwrap();
    let want = "\
#!/bin/bash -l
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=40
#SBATCH --qos=standard
#SBATCH --account=e89
#SBATCH --job-name=task_abc
#SBATCH --partition=standard
#SBATCH --time=1:05:00
#SBATCH --output=job.task_abc.stdout
#SBATCH --error=job.task_abc.stderr
#SBATCH --mail-user=task_abc@x.org
export EXPYRE_NUM_NODES=2
export EXPYRE_NUM_CORES=80
export EXPYRE_NUM_CORES_PER_NODE=40
export EXPYRE_NNODES=2
export EXPYRE_TOT_NCORES=80
export EXPYRE_NCORES_PER_NODE=40
export EXPYRE_TOT_NTASKS=20
export EXPYRE_NTASKS_PER_NODE=10
export EXPYRE_NCORES_PER_TASK=4
cd -- /scratch/u/run_xpr/task_abc || exit 1
module load vasp
set -e
python3 job.py > out.txt
echo done
";
    assert_eq!(script, want);
}

#[test]
fn header_lines_are_the_script_header() {
    let header = header_lines(&system(), &alloc(), &FakeSlurm, &spec()).unwrap();
    let script = build_script(&system(), &alloc(), &FakeSlurm, &spec()).unwrap();
    let script_header: Vec<&str> = script.lines().skip(1).take(header.len()).collect();
    assert_eq!(header, script_header);
    assert_eq!(header.first().unwrap(), "#SBATCH --nodes=2");
    assert_eq!(header.last().unwrap(), "#SBATCH --mail-user=task_abc@x.org");
}

#[test]
fn no_default_header_leaves_the_scheduler_lines_out_only() {
    let mut sys = system();
    sys.no_default_header = true;
    let header = header_lines(&sys, &alloc(), &FakeSlurm, &spec()).unwrap();
    assert_eq!(
        header,
        [
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks-per-node=40",
            "#SBATCH --qos=standard",
            "#SBATCH --account=e89",
            "#SBATCH --mail-user=task_abc@x.org",
        ]
    );
}

#[test]
fn header_extra_env_unset_or_blank_adds_nothing_and_bad_json_is_an_error() {
    for value in [None, Some(""), Some("  "), Some("[]")] {
        let mut s = spec();
        s.header_extra_env = value.map(str::to_owned);
        let header = header_lines(&system(), &alloc(), &FakeSlurm, &s).unwrap();
        assert_eq!(
            header.last().unwrap(),
            "#SBATCH --error=job.task_abc.stderr",
            "{value:?}"
        );
    }
    for bad in ["#SBATCH -q x", r#"{"a": 1}"#, "[1, 2]"] {
        let s = spec().with_header_extra_env(bad);
        let err = header_lines(&system(), &alloc(), &FakeSlurm, &s).unwrap_err();
        assert!(
            matches!(err.kind, ScriptErrorKind::HeaderExtraEnv { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("EXPYRE_HEADER_EXTRA"), "{err}");
    }
}

#[test]
fn template_errors_name_their_origin_and_line() {
    // System header, line 2.
    let mut sys = system();
    sys.header[1] = "#SBATCH --ntasks={tot_ntask}".into();
    let err = header_lines(&sys, &alloc(), &FakeSlurm, &spec()).unwrap_err();
    let ScriptErrorKind::Template { origin, error } = &err.kind else {
        panic!("{err}")
    };
    assert_eq!(*origin, HeaderSource::System);
    assert_eq!(error.line_no, 2);
    let text = err.to_string();
    for needle in [
        "`cluster`",
        "task_abc",
        "system's `header`",
        "line 2",
        "tot_ntasks",
        "config.json",
    ] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }

    // Partition header.
    let mut sys = system();
    sys.partitions[1].header = vec!["#SBATCH {".into()];
    let err = header_lines(&sys, &alloc(), &FakeSlurm, &spec()).unwrap_err();
    assert!(err.to_string().contains("partition `std`"), "{err}");

    // Extra lines, line 1.
    let s = spec().with_extra_header(["#SBATCH {bogus}"]);
    let err = header_lines(&system(), &alloc(), &FakeSlurm, &s).unwrap_err();
    assert!(matches!(
        &err.kind,
        ScriptErrorKind::Template {
            origin: HeaderSource::Extra,
            ..
        }
    ));

    // EXPYRE_HEADER_EXTRA.
    let s = spec().with_header_extra_env(r#"["ok", "{nope}"]"#);
    let err = header_lines(&system(), &alloc(), &FakeSlurm, &s).unwrap_err();
    let ScriptErrorKind::Template { origin, error } = &err.kind else {
        panic!("{err}")
    };
    assert_eq!(*origin, HeaderSource::HeaderExtraEnv);
    assert_eq!(error.line_no, 2);
}

#[test]
fn no_time_limit_drops_the_default_time_line_but_not_a_users() {
    let mut a = alloc();
    a.max_time = None;
    let header = header_lines(&system(), &a, &FakeSlurm, &spec()).unwrap();
    assert!(!header.iter().any(|l| l.contains("--time")), "{header:?}");
    assert!(header.contains(&"#SBATCH --job-name=task_abc".to_owned()));

    let s = spec().with_extra_header(["#SBATCH -t {max_time}"]);
    let err = header_lines(&system(), &a, &FakeSlurm, &s).unwrap_err();
    let ScriptErrorKind::Template { origin, error } = &err.kind else {
        panic!("{err}")
    };
    assert_eq!(*origin, HeaderSource::Extra);
    assert!(matches!(error.kind, TemplateErrorKind::NoValue { .. }));
    assert!(err.to_string().contains("--max-time"), "{err}");
}

#[test]
fn bad_ids_partitions_and_dirs_are_refused() {
    for id in ["", "a b", "a\nb", "-x", ".x", "a/b", "a'b"] {
        let s = ScriptSpec::new(id, "/tmp/x");
        let err = build_script(&system(), &alloc(), &FakeSlurm, &s).unwrap_err();
        assert!(
            matches!(err.kind, ScriptErrorKind::InvalidId { .. }),
            "{id:?}: {err}"
        );
    }
    let mut a = alloc();
    a.partition = "gpu".into();
    let err = build_script(&system(), &a, &FakeSlurm, &spec()).unwrap_err();
    assert!(
        matches!(err.kind, ScriptErrorKind::UnknownPartition { .. }),
        "{err}"
    );
    for dir in ["", "~bob/x", "a\0b"] {
        let s = ScriptSpec::new("j", dir);
        let err = build_script(&system(), &alloc(), &FakeSlurm, &s).unwrap_err();
        assert!(
            matches!(err.kind, ScriptErrorKind::InvalidJobDir { .. }),
            "{dir:?}: {err}"
        );
    }
}

/// Runs a script's `cd` line and `pwd` in `sh` with `HOME` set; returns the directory.
fn cd_result(script: &str, home: &std::path::Path) -> String {
    // The quoted directory may span lines: take everything from `cd` to its `|| exit 1`.
    let start = script.find("\ncd -- ").expect("a cd line") + 1;
    let end = start
        + script[start..]
            .find(" || exit 1\n")
            .expect("cd ends in `|| exit 1`");
    let cd = &script[start..end];
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{cd}\npwd -P"))
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

#[test]
fn a_hostile_job_dir_is_one_quoted_word_for_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().canonicalize().unwrap();
    let hostile = "run 'x' $(touch pwned) `id`; \"q\" \n end";
    let abs = home.join(hostile);
    std::fs::create_dir(&abs).unwrap();

    // Absolute.
    let s = ScriptSpec::new("j", abs.to_str().unwrap());
    let script = build_script(&system(), &alloc(), &FakeSlurm, &s).unwrap();
    assert_eq!(cd_result(&script, &home), abs.to_str().unwrap());

    // Relative and `~/`: under $HOME.
    for dir in [hostile.to_owned(), format!("~/{hostile}")] {
        let s = ScriptSpec::new("j", dir.as_str());
        let script = build_script(&system(), &alloc(), &FakeSlurm, &s).unwrap();
        assert_eq!(cd_result(&script, &home), abs.to_str().unwrap(), "{dir:?}");
    }
    assert!(!home.join("pwned").exists(), "the job dir was executed");
    assert!(!std::env::current_dir().unwrap().join("pwned").exists());

    // A missing dir stops the script instead of running the body elsewhere.
    let s = ScriptSpec::new("j", home.join("missing").to_str().unwrap()).with_body(["echo ran"]);
    let script = build_script(&system(), &alloc(), &FakeSlurm, &s).unwrap();
    let body = script.split_once("\ncd ").unwrap().1;
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("cd {body}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
}

#[test]
fn local_scheduler_defaults_fit_the_local_queue() {
    let mut sys = system();
    sys.scheduler = SchedulerKind::Local;
    sys.header.clear();
    let header = header_lines(
        &sys,
        &alloc(),
        &xpr::scheduler::local::LocalScheduler,
        &ScriptSpec::new("t1", "/x"),
    )
    .unwrap();
    assert_eq!(
        header,
        [
            "#SBATCH --qos=standard",
            "#XPR-LOCAL --job-name=t1",
            "#XPR-LOCAL --cores=80",
            "#XPR-LOCAL --time=1:05:00",
            "#XPR-LOCAL --output=job.t1.stdout",
            "#XPR-LOCAL --error=job.t1.stderr",
        ]
    );
}

/// Every sample config, rendered as before resource lines existed: for each system it
/// defines and each partition, the whole job script of 1 node for 10 min, of 1 node with no
/// time, and of 1 node with `max_mem_per_core`, and of 1 core with `max_mem_tot`
/// (`partial_node`). Memory is only the node finder's in an ExPyRe config (no
/// `resource_lines`), so the scripts with and without it must stay what they were.
fn render_fixture_configs() -> String {
    use std::fmt::Write as _;
    use xpr::config::{Config, LoadedConfig};
    use xpr::resources::{Resources, find_nodes};
    use xpr::scheduler::scheduler_for;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut configs: Vec<(String, Config, Vec<String>)> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let defined: Vec<String> = doc["systems"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        configs.push((name, Config::from_json_str(&text, file).unwrap(), defined));
    }
    let layered = root.join("layered");
    let loaded = LoadedConfig::from_files(
        &[layered.join("home.json"), layered.join("project.json")],
        &layered,
    )
    .unwrap();
    let defined: Vec<String> = loaded.merged["systems"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    configs.push(("layered (merged)".into(), loaded.config.clone(), defined));

    let mut out = String::new();
    for (file, config, defined) in &configs {
        // The built-in `local` depends on this machine's cores: only systems the file defines.
        for system in config
            .systems
            .iter()
            .filter(|s| defined.contains(&s.name.to_string()))
        {
            for p in &system.partitions {
                let only = [regex::escape(&p.name)];
                let requests = [
                    ("1 node, 10m", Resources::nodes(1).with_max_time(600)),
                    ("1 node, no time", Resources::nodes(1)),
                    (
                        "1 node, 10m, max_mem_per_core 1kB",
                        Resources::nodes(1)
                            .with_max_time(600)
                            .with_max_mem_per_core(1),
                    ),
                    (
                        "1 core, partial node, 10m, max_mem_tot 1kB",
                        Resources::cores(1)
                            .with_partial_node(true)
                            .with_max_time(600)
                            .with_max_mem_tot(1),
                    ),
                ];
                for (what, request) in requests {
                    let request = request.with_partitions(only.clone());
                    writeln!(out, "== {file} / {} / {} / {what}", system.name, p.name).unwrap();
                    let spec = ScriptSpec::new("JOB_ID", "run_dir/JOB_ID").with_body(["echo hi"]);
                    let rendered = find_nodes(system, &request)
                        .map_err(|e| e.to_string())
                        .and_then(|alloc| {
                            build_script(
                                system,
                                &alloc,
                                scheduler_for(system.scheduler).as_ref(),
                                &spec,
                            )
                            .map_err(|e| e.to_string())
                        });
                    match rendered {
                        Ok(script) => out.push_str(&script),
                        Err(e) => writeln!(out, "error: {e}").unwrap(),
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_fixture_config_renders_what_it_did_before_resource_lines() {
    let actual = render_fixture_configs();
    let expected = include_str!("snapshots/fixture_config_scripts.txt");
    if actual != expected {
        let path =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixture_config_scripts.txt");
        std::fs::write(&path, &actual).unwrap();
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or(actual.lines().count().min(expected.lines().count()));
        panic!(
            "the sample configs render differently from tests/snapshots/fixture_config_scripts.txt \
             from line {} on (this rendering is in {}): an ExPyRe config must render as before",
            first + 1,
            path.display()
        );
    }
}

/// The header of `alloc` on `system()` turned into a `kind` system with `resource_lines`
/// and no header of its own, through the real adapter.
fn resource_header(kind: SchedulerKind, alloc: &NodeAllocation) -> Vec<String> {
    let mut sys = system();
    sys.scheduler = kind;
    sys.header.clear();
    sys.partitions[1].header.clear();
    sys.resource_lines = true;
    header_lines(
        &sys,
        alloc,
        xpr::scheduler::scheduler_for(kind).as_ref(),
        &ScriptSpec::new("t1", "/x"),
    )
    .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// `alloc()` (2 nodes of 40 cores, tasks of 4) with 200 MB in all, 2 GPUs per node and an
/// account.
fn alloc_with_resources() -> NodeAllocation {
    NodeAllocation {
        mem: Some(xpr::resources::MemRequest::Total(200 * 1024)),
        gpus: Some(2),
        account: Some("e89-camm".into()),
        ..alloc()
    }
}

/// The lines of `header` that are not in the header without resources.
fn added_lines(kind: SchedulerKind, with: &NodeAllocation) -> Vec<String> {
    let without = resource_header(kind, &alloc());
    resource_header(kind, with)
        .into_iter()
        .filter(|l| !without.contains(l))
        .collect()
}

#[test]
fn resource_lines_speak_each_schedulers_syntax() {
    let a = alloc_with_resources();
    // 200 MB = 204800 kB in all: 102400 kB on each of the 2 nodes, 2560 kB per core.
    assert_eq!(
        added_lines(SchedulerKind::Slurm, &a),
        [
            "#SBATCH --mem=102400K",
            "#SBATCH --gres=gpu:2",
            "#SBATCH --account=e89-camm"
        ]
    );
    assert_eq!(
        added_lines(SchedulerKind::Pbs, &a),
        [
            "#PBS -l select=2:ncpus=40:mpiprocs=10:mem=102400kb:ngpus=2",
            "#PBS -A e89-camm"
        ]
    );
    // PBS takes one select: with resource lines it is xpr's, asked for or not.
    assert!(
        resource_header(SchedulerKind::Pbs, &alloc())
            .contains(&"#PBS -l select=2:ncpus=40:mpiprocs=10".to_owned())
    );
    // Grid Engine has no standard GPU resource: the site's line carries them.
    let mut sge = a.clone();
    sge.gpus = None;
    assert_eq!(
        added_lines(SchedulerKind::Sge, &sge),
        ["#$ -l h_vmem=2560K", "#$ -A e89-camm"]
    );
    assert_eq!(
        added_lines(SchedulerKind::Lsf, &a),
        [
            "#BSUB -R \"rusage[mem=102400KB]\"",
            "#BSUB -gpu \"num=2\"",
            "#BSUB -P e89-camm"
        ]
    );
    let mut local = a.clone();
    local.account = None;
    assert_eq!(
        added_lines(SchedulerKind::Local, &local),
        ["#XPR-LOCAL --gpus=2"]
    );
}

#[test]
fn slurm_takes_memory_per_core_as_mem_per_cpu() {
    let mut a = alloc();
    a.mem = Some(xpr::resources::MemRequest::PerCore(2 * 1024 * 1024));
    assert_eq!(
        added_lines(SchedulerKind::Slurm, &a),
        ["#SBATCH --mem-per-cpu=2097152K"]
    );
    a.mem = Some(xpr::resources::MemRequest::PerTask(1000));
    // 10 tasks of 4 cores per node.
    assert_eq!(
        added_lines(SchedulerKind::Slurm, &a),
        ["#SBATCH --mem=10000K"]
    );
}

#[test]
fn resource_lines_come_after_the_configs_lines_and_before_header_extra() {
    let mut sys = system();
    sys.resource_lines = true;
    let s = spec().with_extra_header(["#SBATCH --account=from-the-task-lines"]);
    let mut a = alloc();
    a.account = Some("e89".into());
    let header = header_lines(
        &sys,
        &a,
        xpr::scheduler::scheduler_for(SchedulerKind::Slurm).as_ref(),
        &s,
    )
    .unwrap();
    let pos = |line: &str| {
        header
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line} not in {header:?}"))
    };
    // sbatch takes the last of two --account lines: the request's own.
    assert!(pos("#SBATCH --account=from-the-task-lines") < pos("#SBATCH --account=e89"));
    assert!(pos("#SBATCH --error=job.task_abc.stderr") < pos("#SBATCH --account=e89"));
    assert_eq!(header.last().unwrap(), "#SBATCH --mail-user=task_abc@x.org");

    // Independent of no_default_header.
    sys.no_default_header = true;
    let header = header_lines(
        &sys,
        &a,
        xpr::scheduler::scheduler_for(SchedulerKind::Slurm).as_ref(),
        &spec(),
    )
    .unwrap();
    assert!(
        header.contains(&"#SBATCH --account=e89".to_owned()),
        "{header:?}"
    );
    assert!(
        !header.iter().any(|l| l.contains("--job-name")),
        "{header:?}"
    );
}

#[test]
fn without_resource_lines_memory_stays_out_of_the_header() {
    let mut a = alloc();
    a.mem = Some(xpr::resources::MemRequest::Total(200 * 1024));
    let slurm = xpr::scheduler::scheduler_for(SchedulerKind::Slurm);
    assert_eq!(
        header_lines(&system(), &a, slurm.as_ref(), &spec()).unwrap(),
        header_lines(&system(), &alloc(), slurm.as_ref(), &spec()).unwrap()
    );
    // A key in the system's own line carries it.
    let mut sys = system();
    sys.header.push("#SBATCH --mem={mem_per_node}K".into());
    let header = header_lines(&sys, &a, slurm.as_ref(), &spec()).unwrap();
    assert!(
        header.contains(&"#SBATCH --mem=102400K".to_owned()),
        "{header:?}"
    );
}

#[test]
fn a_resource_key_in_a_config_line_without_a_value_is_an_error_naming_the_line() {
    let mut sys = system();
    sys.partitions[1].header = vec![
        "#SBATCH --qos=x".into(),
        "#SBATCH --mem={mem_per_node}K".into(),
    ];
    let err = header_lines(&sys, &alloc(), &FakeSlurm, &spec()).unwrap_err();
    let ScriptErrorKind::Template { origin, error } = &err.kind else {
        panic!("{err}")
    };
    assert_eq!(*origin, HeaderSource::Partition { name: "std".into() });
    assert_eq!(error.line_no, 2);
    assert!(matches!(error.kind, TemplateErrorKind::NoValue { .. }));
    let text = err.to_string();
    for needle in [
        "partition `std`",
        "line 2",
        "{mem_per_node}",
        "--mem",
        "config.json",
    ] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

#[test]
fn gpus_or_an_account_that_no_line_carries_are_an_error_not_dropped() {
    let slurm = xpr::scheduler::scheduler_for(SchedulerKind::Slurm);
    let mut a = alloc();
    a.gpus = Some(1);
    // An ExPyRe config: no resource lines, no line with {gpus}.
    let err = header_lines(&system(), &a, slurm.as_ref(), &spec()).unwrap_err();
    assert!(
        matches!(err.kind, ScriptErrorKind::NotInHeader { .. }),
        "{err}"
    );
    let text = err.to_string();
    for needle in [
        "--gpus 1",
        "would not reach the job",
        "{gpus}",
        "resource_lines",
        "`cluster`",
    ] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
    // Carried by the user's own line, it is fine.
    let s = spec().with_extra_header(["#SBATCH --gpus-per-node={gpus}"]);
    assert!(header_lines(&system(), &a, slurm.as_ref(), &s).is_ok());

    // Grid Engine's resource lines have no GPU line: the hint names the site's complex.
    let mut sys = system();
    sys.scheduler = SchedulerKind::Sge;
    sys.header.clear();
    sys.resource_lines = true;
    let sge = xpr::scheduler::scheduler_for(SchedulerKind::Sge);
    let err = header_lines(&sys, &a, sge.as_ref(), &spec()).unwrap_err();
    assert!(err.to_string().contains("#$ -l gpu={gpus}"), "{err}");

    // The local queue has no accounts.
    let mut b = alloc();
    b.account = Some("e89".into());
    sys.scheduler = SchedulerKind::Local;
    let local = xpr::scheduler::scheduler_for(SchedulerKind::Local);
    let err = header_lines(&sys, &b, local.as_ref(), &ScriptSpec::new("t", "/x")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("--account e89") && text.contains("no accounts"),
        "{text}"
    );
}
