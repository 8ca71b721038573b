//! `xpr sweep`: a parameter sweep as tasks, through the library's [`SweepRequest`].

use serde_json::json;
use xpr::session::{PackSize, Submission, SweepRequest};
use xpr::sweep::{Param, SweepSpec, load_points};

use super::print_json;
use super::tasks::{
    open_session, print_dry_runs, print_statuses, runtime, start_request, task_from,
};
use crate::cli::{SubmissionArgs, SweepArgs};
use crate::exit::{self, bad_flag, usage};

/// The submission mode the flags ask for.
pub fn submission_from(args: &SubmissionArgs) -> Submission {
    match (args.array, args.pack, args.jobs) {
        (true, _, _) => Submission::Array,
        (_, Some(k), _) => Submission::Packed(PackSize::PerJob(k)),
        (_, _, Some(j)) => Submission::Packed(PackSize::Jobs(j)),
        _ => Submission::Individual,
    }
}

/// The points the flags give: a grid or zip of `-p`, or a points file.
fn spec_from(args: &SweepArgs) -> anyhow::Result<SweepSpec> {
    if let Some(path) = &args.points {
        return Ok(SweepSpec::Points(load_points(path)?));
    }
    if args.params.is_empty() {
        return Err(usage(
            "a sweep needs its points: -p NAME=V1,V2 (repeatable) or --points FILE",
        ));
    }
    let params = args
        .params
        .iter()
        .map(|p| Param::parse(p).map_err(|e| bad_flag("-p", e)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(if args.zip {
        SweepSpec::Zip(params)
    } else {
        SweepSpec::Grid(params)
    })
}

/// `xpr sweep NAME ...`: starts the points that have no usable result; with `--wait`,
/// follows them all to their end.
pub fn sweep(args: &SweepArgs) -> anyhow::Result<u8> {
    let spec = spec_from(args)?;
    let count = spec.len()?;
    let (template, options) = task_from(&args.task)?;
    let rt = runtime()?;
    let session = open_session()?;
    let template = start_request(template, options, &args.task, &session)?;
    let mut request = SweepRequest::new(&args.sweep, spec, template);
    request.task_name = args.task.name.clone();
    request.submission = submission_from(&args.submission);
    if args.task.dry_run {
        let runs = request
            .requests()?
            .iter()
            .map(|r| session.dry_run(r))
            .collect::<Result<Vec<_>, _>>()?;
        return print_dry_runs(&runs, args.task.json);
    }
    let started = rt.block_on(session.start_sweep(&request))?;
    let ids: Vec<_> = started.tasks.iter().map(|t| t.record.id.clone()).collect();
    if !args.task.json {
        eprintln!(
            "sweep {}: {count} points, {} submitted, {} already have a task that can produce \
             results",
            args.sweep,
            started.submitted,
            count - started.submitted
        );
    }
    if !args.wait {
        if args.task.json {
            print_json(&json!({
                "sweep": args.sweep,
                "points": count,
                "submitted": started.submitted,
                "tasks": started.tasks.iter().map(|t| json!({
                    "id": t.record.id, "name": t.record.name, "reused": t.reused,
                    "status": t.record.status,
                })).collect::<Vec<_>>(),
            }))?;
        } else {
            for task in &started.tasks {
                println!("{}", task.record.id);
            }
        }
        rt.block_on(session.close())?;
        return Ok(exit::SUCCESS);
    }
    let done = rt.block_on(super::progress::wait_with_progress(&session, &ids, None))?;
    print_statuses(&done, args.task.json)?;
    rt.block_on(session.close())?;
    let all_ok = done
        .iter()
        .all(|t| t.status.is_finished() && t.end_state == Some(xpr::db::EndState::Succeeded));
    Ok(if all_ok {
        exit::SUCCESS
    } else {
        exit::TASK_FAILED
    })
}
