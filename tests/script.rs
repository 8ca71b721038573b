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
