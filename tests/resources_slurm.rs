//! Memory that reaches the job, on the test bed's real Slurm over SSH: a task asking for 200 MB
//! on a system with `"resource_lines": true` is a Slurm job whose requested memory is 200 MB
//! (Slurm's accounting says so, and the job itself sees `SLURM_MEM_PER_NODE`). (An account
//! is only checked in the script tests: the test bed's Slurm may refuse one without an
//! association.)

mod common;
mod life_support;

use std::time::Duration;

use common::{Testbed, wait_for};
use life_support::{Bed, one_core};
use serde_json::json;
use xpr::db::TaskStatus;
use xpr::session::StartRequest;
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_request_reaches_the_slurm_job() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(
        Some(&tb),
        json!({"slurm": {
            "host": "xpr-local", "scheduler": "slurm", "resource_lines": true,
            "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}
        }}),
    );
    let session = bed.session(Duration::from_secs(120));
    let spec = TaskSpec::argv("mem", ["sh", "-c", "echo \"$SLURM_MEM_PER_NODE\""]);
    let resources = one_core().with_max_mem_tot(200 * 1024);
    let started = session
        .start(StartRequest::new(spec, "slurm", resources))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let job = started.record.scheduler_job_id.clone().expect("submitted");
    let done = session.wait(std::slice::from_ref(&id), DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(std::slice::from_ref(&id)).await;
    }
    let done = done.unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    // Slurm's environment for the job: its memory per node in MB.
    assert_eq!(session.results(&id).unwrap().stdout_tail, "200");

    // Accounting: slurmdbd completes the job's record a moment after it ends (until then
    // sacct may show the job COMPLETED with a placeholder ReqMem such as `16?` and no
    // requested TRES).
    let (req_mem, req_tres) = wait_for("sacct to record the job's request", DEADLINE, || {
        let out = bed.ssh(
            "xpr-local",
            &format!("sacct -n -X -P -o State,ReqMem,ReqTRES -j {}", job.as_str()),
        );
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let mut fields = text.split('|');
        let (state, req_mem, req_tres) = (fields.next()?, fields.next()?, fields.next()?);
        (state == "COMPLETED" && req_tres.contains("cpu="))
            .then(|| (req_mem.to_owned(), req_tres.to_owned()))
    });
    assert!(
        req_tres.split(',').any(|t| t == "mem=200M"),
        "sacct ReqTRES of job {}: {req_tres:?}",
        job.as_str()
    );
    // `200M` (Slurm 21.08 and later), `200Mn` (per node, older versions).
    assert!(
        req_mem == "200M" || req_mem == "200Mn",
        "sacct ReqMem of job {}: {req_mem:?}",
        job.as_str()
    );
    session.clean(&[id]).await.unwrap();
    session.close().await.unwrap();
}
