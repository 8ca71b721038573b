//! A site's own cap on a user's jobs, read from the scheduler with no config: the test bed's
//! Slurm association gets `MaxSubmitJobs=3` (set with `sacctmgr` as root, removed at the end;
//! in a test binary of its own, so no other test runs under the cap), and 10 tasks on a
//! system without `max_queued` never have more than 3 jobs in `squeue` and all finish.

mod common;
mod life_support;

use std::process::Command;
use std::time::Duration;

use common::Testbed;
use life_support::{Bed, QueueSampler, one_core, slurm_system};
use serde_json::json;
use xpr::db::TaskStatus;
use xpr::session::StartRequest;
use xpr::task::TaskSpec;

const ACCOUNT: &str = "xprlimit";

fn sacctmgr(args: &[&str]) -> std::process::Output {
    Command::new("sacctmgr")
        .arg("-i")
        .args(args)
        .output()
        .unwrap()
}

/// The test user's association with a job cap, removed on drop.
struct Cap;

impl Cap {
    fn set(max: u32) -> Cap {
        let out = sacctmgr(&["add", "account", ACCOUNT]);
        assert!(out.status.success(), "sacctmgr (needs root): {out:?}");
        let max = format!("maxsubmitjobs={max}");
        let out = sacctmgr(&[
            "add",
            "user",
            "xprtest",
            &format!("account={ACCOUNT}"),
            &max,
        ]);
        assert!(out.status.success(), "{out:?}");
        Cap
    }
}

impl Drop for Cap {
    fn drop(&mut self) {
        let _ = sacctmgr(&["delete", "user", "xprtest", &format!("account={ACCOUNT}")]);
        let _ = sacctmgr(&["delete", "account", ACCOUNT]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_association_cap_is_respected_without_config() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let _cap = Cap::set(3);
    let bed = Bed::new(Some(&tb), json!({ "slurm": slurm_system(json!({})) }));
    let session = bed.session(Duration::from_secs(120));
    let requests: Vec<StartRequest> = (0..10)
        .map(|i| {
            let mut spec = TaskSpec::argv(format!("capped {i}"), ["sh", "-c", "sleep 1"]);
            spec.outputs = vec![];
            StartRequest::new(spec, "slurm", one_core().with_max_time(300))
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
    let submitted = started
        .iter()
        .filter(|s| s.record.status == TaskStatus::Submitted)
        .count();
    assert_eq!(submitted, 3, "three submitted at once, the rest staged");
    let sampler = QueueSampler::start(&bed, &ids);
    let done = session.wait(&ids, Duration::from_secs(240)).await;
    let samples = sampler.stop();
    if done.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let done = done.unwrap();
    assert!(
        done.iter().all(|t| t.status == TaskStatus::Succeeded),
        "{done:?}"
    );
    let most = samples.iter().max().copied().unwrap_or(0);
    assert!(most <= 3, "at most 3 in Slurm's queue: {samples:?}");
    assert!(
        samples.len() >= 5 && most >= 1,
        "the queue was sampled: {samples:?}"
    );
}
