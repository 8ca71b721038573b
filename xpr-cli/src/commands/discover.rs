//! `xpr discover HOST`: detect the scheduler and partitions of a host, print the `systems`
//! entry or add it to a config file (all the work is the library's `xpr::discover`).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use xpr::config::SchedulerKind;
use xpr::discover::{
    DiscoverOptions, EntryOptions, WriteOutcome, add_system, check_system_name, default_name,
    discover as probe, system_entry, systems_document,
};
use xpr::transport::{LocalTransport, SshTarget, SshTransport, Transport};

use crate::cli::DiscoverArgs;
use crate::exit;

/// Host names meaning this machine.
const THIS_MACHINE: [&str; 2] = ["localhost", "local"];

/// Runs `xpr discover`.
pub fn discover(args: &DiscoverArgs) -> anyhow::Result<u8> {
    // Arguments first, no I/O.
    let scheduler = match args.scheduler.as_deref() {
        None => None,
        Some(name) => Some(SchedulerKind::from_name(name).ok_or_else(|| {
            exit::usage(format!(
                "--scheduler: unknown scheduler {name:?} (accepted: slurm, pbs, sge, lsf, local)"
            ))
        })?),
    };
    let local = THIS_MACHINE.contains(&args.host.as_str());
    if local && args.remsh_cmd.is_some() {
        return Err(exit::usage(
            "--remsh-cmd: this machine is reached without ssh (host `localhost`/`local`)",
        ));
    }
    let target = if local {
        None
    } else {
        Some(SshTarget::new(&args.host, args.remsh_cmd.as_deref())?)
    };
    let host = (!local).then(|| args.host.clone());
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(host.as_deref()));
    if let Err(e) = check_system_name(&name) {
        let why = std::error::Error::source(&*e.kind).map_or(e.to_string(), |s| s.to_string());
        return Err(exit::usage(format!("--name: {why}")));
    }

    let rt = super::tasks::runtime()?;
    let found = rt.block_on(async {
        let transport: Arc<dyn Transport> = match target {
            None => Arc::new(LocalTransport::new()),
            Some(target) => Arc::new(SshTransport::connect(target).await?),
        };
        let found = probe(transport.as_ref(), &DiscoverOptions { scheduler }).await;
        let closed = transport.close().await;
        let found = found?;
        closed?;
        anyhow::Ok(found)
    })?;

    let entry = system_entry(
        &found,
        &EntryOptions {
            host,
            remsh_cmd: args.remsh_cmd.clone(),
            rundir: args.rundir.clone(),
        },
    );
    let doc = systems_document(&name, &entry)?;
    let written = match &args.write {
        None => None,
        Some(file) => Some((file, add_system(file, &name, &entry, args.force)?)),
    };

    let mut stderr = std::io::stderr().lock();
    for note in &found.notes {
        let _ = writeln!(stderr, "xpr: note: {note}");
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let report = json!({
            "name": name,
            "host": found.host,
            "scheduler": found.scheduler.as_str(),
            "version": found.version,
            "notes": found.notes,
            "entry": entry,
            "written": written.as_ref().map(|(file, _)| file.display().to_string()),
        });
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else if let Some((file, outcome)) = &written {
        let verb = match outcome {
            WriteOutcome::Created => "created with",
            WriteOutcome::Added => "added to",
            WriteOutcome::Replaced => "replaced in",
        };
        writeln!(
            stdout,
            "system {name} ({}, {} partitions) {verb} {}",
            found.scheduler,
            found.partitions.len(),
            file.display()
        )?;
    } else {
        serde_json::to_writer_pretty(&mut stdout, &doc).context("printing the entry")?;
        writeln!(stdout)?;
    }
    Ok(exit::SUCCESS)
}
