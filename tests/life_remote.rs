//! A task's life on the real test bed, over SSH: Slurm (xpr-local and xpr-hostA), Grid Engine
//! (xpr-local), and the `local` scheduler on a plain host (xpr-hostB), all followed by one
//! session at once; Slurm's own accounting for cancelled and failed jobs.

mod common;
mod life_support;

use std::time::Duration;

use common::Testbed;
use life_support::{Bed, one_core, write};
use serde_json::json;
use xpr::db::TaskStatus;
use xpr::session::StartRequest;
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

fn systems() -> serde_json::Value {
    json!({
        "slurm": {
            "host": "xpr-local", "scheduler": "slurm",
            "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}
        },
        "slurm_a": {
            "host": "xpr-hostA", "scheduler": "slurm",
            "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}
        },
        "sge": {
            "host": "xpr-local", "scheduler": "sge",
            "partitions": {"all.q": {"num_cores": 8, "max_time": null, "max_mem": null}}
        },
        "plain_b": {
            "host": "xpr-hostB", "scheduler": "local",
            "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_to_outputs_on_slurm_and_a_plain_host_followed_at_once() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    if Testbed::require("netns").is_none() {
        return;
    }
    copy_round_trip(&tb, &["slurm", "slurm_a", "plain_b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_to_outputs_on_grid_engine() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    copy_round_trip(&tb, &["sge"]).await;
}

/// Runs one copy task per system in `names`, all started in one call and followed by one
/// wait, and checks outputs byte for byte.
async fn copy_round_trip(tb: &Testbed, names: &[&str]) {
    let bed = Bed::new(Some(tb), systems());
    let work = bed.work_dir();
    let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let input = "in dir/it's data.bin";
    write(&work, input, &data);
    let hostile_arg = "a 'quoted' $(touch pwned) `x`\nnewline; ..";
    let session = bed.session(Duration::from_secs(120));
    let requests: Vec<StartRequest> = names
        .iter()
        .map(|system| {
            let mut spec = TaskSpec::argv(
                format!("copy on {system}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "cat -- \"$1\" > out.bin && printf '%s' \"$2\" > arg.txt && echo \"$3\""
                        .to_owned(),
                    "sh".to_owned(),
                    input.to_owned(),
                    hostile_arg.to_owned(),
                    system.to_string(),
                ],
            );
            spec.inputs = vec![input.to_owned()];
            spec.outputs = vec!["out.bin".into(), "arg.txt".into()];
            StartRequest::new(spec, *system, one_core()).with_base_dir(&work)
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
    for s in &started {
        assert!(!s.reused);
        assert!(s.record.scheduler_job_id.is_some(), "{:?}", s.record);
    }
    let done = session.wait(&ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    for (record, system) in done.iter().zip(names) {
        assert_eq!(record.status, TaskStatus::Succeeded, "{system}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(results.stdout_tail, *system);
        assert_eq!(
            std::fs::read(results.local_dir.join("out.bin")).unwrap(),
            data,
            "{system}"
        );
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("arg.txt")).unwrap(),
            hostile_arg
        );
    }
    let pwned = bed.ssh(
        "xpr-local",
        "ls ~/pwned xpr-life-tests/*/*/run_*/pwned 2>/dev/null",
    );
    assert!(pwned.stdout.is_empty(), "an argument ran as a command");
    session.clean(&ids).await.unwrap();
    let left = bed.ssh(
        "xpr-local",
        &format!("ls -d {}/*/run_* 2>/dev/null", bed.remote_root),
    );
    assert!(
        left.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slurm_reports_failures_from_accounting() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    failures_from_accounting(&tb, "slurm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_engine_reports_failures_from_accounting() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    failures_from_accounting(&tb, "sge").await;
}

/// A non-zero exit and a cancelled job on `system`.
async fn failures_from_accounting(tb: &Testbed, system: &str) {
    let bed = Bed::new(Some(tb), systems());
    let session = bed.session(Duration::from_secs(120));
    let spec = |name: &str, line: &str| TaskSpec::argv(name, ["sh", "-c", line]);
    let started = session
        .start_many(vec![
            StartRequest::new(
                spec("exit", "echo 'it says no' >&2; exit 7"),
                system,
                one_core(),
            ),
            StartRequest::new(spec("long", "sleep 300"), system, one_core()),
        ])
        .await
        .unwrap();
    let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
    let cancelled = session.cancel(&ids[1..]).await.unwrap();
    assert_eq!(cancelled.len(), 1);
    let done = session.wait(&ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    assert_eq!(done[0].status, TaskStatus::Failed, "{:?}", done[0]);
    assert_eq!(done[0].exit_code, Some(7));
    assert_eq!(done[0].end_state, Some(xpr::db::EndState::Failed));
    assert_eq!(
        session.results(&done[0].id).unwrap().stderr_tail,
        "it says no"
    );
    assert_eq!(done[1].status, TaskStatus::Failed, "{:?}", done[1]);
    assert_eq!(
        done[1].end_state,
        Some(xpr::db::EndState::Cancelled),
        "{:?}",
        done[1]
    );
    session.close().await.unwrap();
}

/// The modes a Slurm job gives its files arrive with them, under the login's umask (not the
/// batch program's 077, which `sbatch` would hand on to the job), while the run dirs stay
/// private to the user on the cluster and here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_keep_their_modes_on_slurm_and_run_dirs_stay_private() {
    use std::os::unix::fs::PermissionsExt;
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), systems());
    let login_umask = bed.ssh("xpr-local", "umask");
    let login_umask = u32::from_str_radix(String::from_utf8_lossy(&login_umask.stdout).trim(), 8)
        .expect("the login's umask");
    let session = bed.session(Duration::from_secs(120));
    let mut spec = TaskSpec::argv(
        "modes",
        [
            "sh",
            "-c",
            "echo x > out.txt && chmod 644 out.txt && echo y > default.txt",
        ],
    );
    spec.outputs = vec!["out.txt".into(), "default.txt".into()];
    let started = session
        .start(StartRequest::new(spec, "slurm", one_core()))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let done = session.wait(std::slice::from_ref(&id), DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(std::slice::from_ref(&id)).await;
    }
    assert_eq!(done.unwrap()[0].status, TaskStatus::Succeeded);
    let local = session.results(&id).unwrap().local_dir;
    let mode = |name: &str| {
        let path = local.join(name);
        std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode(""), 0o700, "the local run dir is not private");
    assert_eq!(mode("out.txt"), 0o644);
    assert_eq!(
        mode("default.txt"),
        0o666 & !login_umask,
        "not under the login's umask {login_umask:03o}"
    );
    let remote = bed.ssh(
        "xpr-local",
        &format!("stat -c %a {}/*/run_{id}", bed.remote_root),
    );
    assert_eq!(
        String::from_utf8_lossy(&remote.stdout).trim(),
        "700",
        "the remote run dir is not private: {}",
        String::from_utf8_lossy(&remote.stderr)
    );
    session.clean(std::slice::from_ref(&id)).await.unwrap();
    session.close().await.unwrap();
}
