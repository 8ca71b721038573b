//! `xpr nodes`: the node finder and the job header it leads to.

use std::io::Write;

use serde_json::json;
use xpr::resources::{Resources, check_account, find_nodes, parse_mem, parse_time};
use xpr::scheduler::scheduler_for;
use xpr::scheduler::script::{ScriptSpec, header_lines};

use super::{lenient_config, print_json};
use crate::cli::{NodesArgs, ResourceArgs};
use crate::exit::{self, bad_flag};

/// The `{id}` shown in a header printed without a real task.
const SAMPLE_ID: &str = "JOB_ID";

/// Builds the request from the flags (no I/O), then finds the nodes and renders the header.
pub fn nodes(args: &NodesArgs) -> anyhow::Result<u8> {
    let request = request_from(&args.resources)?;
    let loaded = lenient_config()?;
    let system = loaded.system(&args.system)?;
    let request = if resource_flags_given(&args.resources) {
        request.with_default_time(system)
    } else {
        Resources::first_run_default(Some(system))
    };
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
        let mut out = std::io::stdout().lock();
        writeln!(out, "partition:          {}", alloc.partition)?;
        writeln!(out, "num_nodes:          {}", alloc.num_nodes)?;
        writeln!(out, "num_cores:          {}", alloc.num_cores)?;
        writeln!(out, "num_cores_per_node: {}", alloc.num_cores_per_node)?;
        writeln!(out, "header ({{id}} shown as {SAMPLE_ID}):")?;
        for line in header {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(exit::SUCCESS)
}

/// Whether any resource flag is given (none: the library's first-run default applies).
pub fn resource_flags_given(r: &ResourceArgs) -> bool {
    r.max_time.is_some()
        || r.num_nodes.is_some()
        || r.num_cores.is_some()
        || r.max_mem_tot.is_some()
        || r.max_mem_per_core.is_some()
        || r.gpus.is_some()
        || r.account.is_some()
        || !r.partitions.is_empty()
        || r.no_exact_fit
        || r.partial_node
}

/// The request the flags describe (one core on a partial node when they name no count: one
/// core is rarely a whole node); a value that does not parse is a usage error naming its
/// flag. No I/O.
pub fn request_from(args: &ResourceArgs) -> anyhow::Result<Resources> {
    let max_time = match &args.max_time {
        Some(t) => parse_time(t).map_err(|e| bad_flag("--max-time", e))?,
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
        request = request
            .with_max_mem_tot(parse_mem(m).map_err(|e| bad_flag("--max-mem-tot (--mem)", e))?);
    }
    if let Some(m) = &args.max_mem_per_core {
        request = request.with_max_mem_per_core(
            parse_mem(m).map_err(|e| bad_flag("--max-mem-per-core (--mem-per-core)", e))?,
        );
    }
    if !args.partitions.is_empty() {
        request = request.with_partitions(args.partitions.iter().cloned());
    }
    if let Some(n) = args.gpus {
        request = request.with_gpus(n);
    }
    if let Some(account) = &args.account {
        check_account(account).map_err(|why| bad_flag("--account", why))?;
        request = request.with_account(account.clone());
    }
    let no_count = args.num_nodes.is_none() && args.num_cores.is_none();
    Ok(request
        .with_exact_fit(!args.no_exact_fit)
        .with_partial_node(args.partial_node || no_count))
}
