//! `xpr nodes`: the node finder and the job header it leads to.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::resources::{Resources, find_nodes, parse_mem, parse_time};
use xpr::scheduler::scheduler_for;
use xpr::scheduler::script::{ScriptSpec, header_lines};

use super::print_json;
use crate::cli::{NodesArgs, ResourceArgs};

/// The `{id}` shown in a header printed without a real task.
const SAMPLE_ID: &str = "JOB_ID";

/// Builds the request from the flags (no I/O), then finds the nodes and renders the header.
pub fn nodes(args: &NodesArgs) -> anyhow::Result<ExitCode> {
    let request = request_from(&args.resources)?;
    let loaded = LoadedConfig::from_env()?;
    let system = loaded.system(&args.system)?;
    let alloc = find_nodes(system, &request)?;
    let mut spec = ScriptSpec::new(SAMPLE_ID, ".");
    if let Ok(extra) = std::env::var("EXPYRE_HEADER_EXTRA") {
        spec = spec.with_header_extra_env(extra);
    }
    let header = header_lines(
        system,
        &alloc,
        scheduler_for(system.scheduler).as_ref(),
        &spec,
    )?;
    if args.json {
        print_json(&json!({
            "partition": alloc.partition,
            "num_nodes": alloc.num_nodes,
            "num_cores": alloc.num_cores,
            "num_cores_per_node": alloc.num_cores_per_node,
            "header": header,
        }))?;
    } else {
        println!("partition:          {}", alloc.partition);
        println!("num_nodes:          {}", alloc.num_nodes);
        println!("num_cores:          {}", alloc.num_cores);
        println!("num_cores_per_node: {}", alloc.num_cores_per_node);
        println!("header ({{id}} shown as {SAMPLE_ID}):");
        for line in header {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The request the flags describe; `None` when they name no count (the caller picks a
/// default). No I/O.
pub fn request_from(args: &ResourceArgs) -> anyhow::Result<Resources> {
    let max_time = match &args.max_time {
        Some(t) => parse_time(t).context("--max-time")?,
        None => None,
    };
    let mut request = match (args.num_nodes, args.num_cores) {
        (Some(n), _) => Resources::nodes(n),
        (None, Some(n)) => Resources::cores(n),
        (None, None) => Resources::cores(1),
    };
    if let Some(t) = max_time {
        request = request.with_max_time(t);
    }
    if let Some(m) = &args.max_mem_tot {
        request = request.with_max_mem_tot(parse_mem(m).context("--max-mem-tot")?);
    }
    if let Some(m) = &args.max_mem_per_core {
        request = request.with_max_mem_per_core(parse_mem(m).context("--max-mem-per-core")?);
    }
    if !args.partitions.is_empty() {
        request = request.with_partitions(args.partitions.iter().cloned());
    }
    Ok(request
        .with_exact_fit(!args.no_exact_fit)
        .with_partial_node(args.partial_node))
}
