//! `xpr discover` end to end on the test bed: the real Slurm (`xpr-hostA`, where only Slurm
//! answers), the real Grid Engine (`xpr-local`, which has Slurm too, so `--scheduler sge`), and
//! the PBS and LSF SIMULATORS on `xpr-sim` (test doubles, not PBS or LSF). Each discovered
//! entry is written to a config file and a task then runs on that system through a `Session`,
//! without any edit of the entry. And `add_system` keeps a file's other systems and keys and
//! refuses a same-name system without `force`.

mod common;
mod life_support;
mod sim_life;
mod sim_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Testbed;
use life_support::{Bed, one_core, options};
use serde_json::{Value, json};
use sim_life::SimLife;
use xpr::config::{LoadedConfig, SchedulerKind};
use xpr::db::TaskStatus;
use xpr::discover::{
    DiscoverErrorKind, DiscoverOptions, Discovered, EntryOptions, WriteOutcome, add_system,
    discover, system_entry,
};
use xpr::session::{Session, StartRequest};
use xpr::task::TaskSpec;
use xpr::transport::{SshTarget, SshTransport, Transport};

const DEADLINE: Duration = Duration::from_secs(180);

/// Discovers `host` (reached with `remsh`) and adds it as `name` to `file`, as
/// `xpr discover HOST --remsh-cmd REMSH --rundir RUNDIR --write FILE` does.
async fn discover_into(
    host: &str,
    remsh: &str,
    scheduler: Option<SchedulerKind>,
    file: &Path,
    name: &str,
    rundir: &str,
) -> Result<Discovered, xpr::discover::DiscoverError> {
    let transport = SshTransport::connect(SshTarget::new(host, Some(remsh)).unwrap())
        .await
        .unwrap();
    let found = discover(&transport, &DiscoverOptions { scheduler }).await;
    transport.close().await.unwrap();
    let found = found?;
    let entry = system_entry(
        &found,
        &EntryOptions {
            host: Some(host.to_owned()),
            remsh_cmd: Some(remsh.to_owned()),
            rundir: Some(rundir.to_owned()),
        },
    );
    add_system(file, name, &entry, false)?;
    Ok(found)
}

/// Runs one small task on `system` of the config `file` and checks it succeeds with its
/// stdout; cleans its run dirs.
async fn run_a_task(root: &Path, file: &Path, system: &str) {
    let loaded = LoadedConfig::from_files(&[file.to_path_buf()], root).unwrap();
    let session = Session::open_with(loaded, options(Duration::from_secs(60))).unwrap();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let spec = TaskSpec::argv(
        format!("discovered {system}"),
        ["sh", "-c", "echo \"ran on $0\"", system],
    );
    let started = session
        .start_many(vec![
            StartRequest::new(spec, system, one_core()).with_base_dir(&work),
        ])
        .await
        .unwrap();
    let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
    let done = session.wait(&ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    assert_eq!(
        done[0].status,
        TaskStatus::Succeeded,
        "{system}: {:?}",
        done[0]
    );
    assert_eq!(
        session.results(&ids[0]).unwrap().stdout_tail,
        format!("ran on {system}")
    );
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_slurm_runs_a_task() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    if Testbed::require("netns").is_none() {
        return;
    }
    let bed = Bed::new(Some(&tb), json!({}));
    let remsh = format!("ssh -F {}", tb.ssh_config().display());
    let found = discover_into(
        "xpr-hostA",
        &remsh,
        None,
        &bed.config,
        "hostA",
        &bed.remote_root,
    )
    .await
    .unwrap();
    assert_eq!(found.scheduler, SchedulerKind::Slurm);
    let names: Vec<&str> = found.partitions.iter().map(|p| p.name.as_str()).collect();
    for partition in tb.var("XPR_SLURM_PARTITIONS").split(',') {
        assert!(names.contains(&partition), "{partition} not in {names:?}");
    }
    let short = found.partitions.iter().find(|p| p.name == "short").unwrap();
    assert_eq!(short.max_time, Some(3600));
    assert_eq!(short.num_cores.to_string(), tb.var("XPR_SLURM_CPUS"));
    run_a_task(bed.root.path(), &bed.config, "hostA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_grid_engine_runs_a_task_and_two_schedulers_need_a_choice() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({}));
    let remsh = format!("ssh -F {}", tb.ssh_config().display());
    if Testbed::require("slurm").is_some() {
        // xpr-local has Slurm and Grid Engine: the user must pick.
        let err = discover_into("xpr-local", &remsh, None, &bed.config, "x", "x")
            .await
            .unwrap_err();
        assert!(
            matches!(*err.kind, DiscoverErrorKind::Ambiguous { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--scheduler"), "{err}");
    }
    let found = discover_into(
        "xpr-local",
        &remsh,
        Some(SchedulerKind::Sge),
        &bed.config,
        "sge_local",
        &bed.remote_root,
    )
    .await
    .unwrap();
    let queue = found
        .partitions
        .iter()
        .find(|p| p.name == tb.var("XPR_SGE_QUEUE"))
        .unwrap();
    assert_eq!(queue.num_cores.to_string(), tb.var("XPR_SGE_SLOTS"));
    assert_eq!(
        queue.header,
        [format!("#$ -pe {} {{num_cores}}", tb.var("XPR_SGE_PE"))]
    );
    run_a_task(bed.root.path(), &bed.config, "sge_local").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_pbs_simulator_runs_a_task() {
    discovered_simulator(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_lsf_simulator_runs_a_task() {
    discovered_simulator(SchedulerKind::Lsf).await;
}

/// The simulator of `kind` on `xpr-sim` (its own spool, through the test's ssh config),
/// discovered into a new config file.
async fn discovered_simulator(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let remsh = format!("ssh -F {}", life.root.path().join("ssh_config").display());
    let file = life.root.path().join("discovered.json");
    let name = format!("{kind}_discovered");
    let found = discover_into(
        &life.host,
        &remsh,
        Some(kind),
        &file,
        &name,
        &life.remote_root,
    )
    .await
    .unwrap();
    assert_eq!(found.scheduler, kind);
    let short = found.partitions.iter().find(|p| p.name == "short").unwrap();
    assert_eq!(short.max_time, Some(3600), "{found:?}");
    run_a_task(life.root.path(), &file, &name).await;
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn writing_keeps_the_file_and_refuses_a_same_name_system() {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("config.json");
    let before = json!({
        "local_stage_dir": "/tmp/stage",
        "systems": {
            "archer2": {"host": "login.archer2.ac.uk", "scheduler": "slurm",
                        "partitions": {"standard": {"num_cores": 128, "max_time": "24h", "max_mem": "256GB"}}}
        },
        "profiles": {"quick": {"resources": {"max_time": "10m", "num_cores": 1}}}
    });
    std::fs::write(&file, serde_json::to_string_pretty(&before).unwrap()).unwrap();
    let entry = json!({"host": "hpc", "scheduler": "sge", "rundir": "run_expyre",
                       "partitions": {"all.q": {"num_cores": 8, "max_time": null, "max_mem": null}}});
    assert_eq!(
        add_system(&file, "hpc", &entry, false).unwrap(),
        WriteOutcome::Added
    );
    let after = read_json(&file);
    assert_eq!(after["local_stage_dir"], before["local_stage_dir"]);
    assert_eq!(after["profiles"], before["profiles"]);
    assert_eq!(after["systems"]["archer2"], before["systems"]["archer2"]);
    assert_eq!(after["systems"]["hpc"], entry);
    let keys: Vec<&String> = after.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["local_stage_dir", "systems", "profiles"],
        "key order kept"
    );
    LoadedConfig::from_files(std::slice::from_ref(&file), dir.path()).unwrap();

    // The same name again: refused, naming file and system, and the file is untouched.
    let other = json!({"host": "hpc2", "scheduler": "slurm", "partitions": null});
    let err = add_system(&file, "archer2", &other, false).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&file.display().to_string()) && text.contains("archer2"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    assert_eq!(read_json(&file), after);
    // With force it is replaced, the rest kept.
    assert_eq!(
        add_system(&file, "archer2", &other, true).unwrap(),
        WriteOutcome::Replaced
    );
    let forced = read_json(&file);
    assert_eq!(forced["systems"]["archer2"], other);
    assert_eq!(forced["systems"]["hpc"], entry);
    // No temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["config.json"]);

    // A missing file is created; a file that is not a config object is left alone.
    let new = dir.path().join("sub-new.json");
    assert_eq!(
        add_system(&new, "hpc", &entry, false).unwrap(),
        WriteOutcome::Created
    );
    assert_eq!(read_json(&new)["systems"]["hpc"], entry);
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[1, 2").unwrap();
    let err = add_system(&broken, "hpc", &entry, false).unwrap_err();
    assert!(err.to_string().contains("broken.json"), "{err}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "[1, 2");
}
