//! `xpr systems` and `xpr config check`.

use std::io::Write;

use serde_json::json;
use xpr::config::{ConfigError, LoadedConfig, StageRootOrigin, System};
use xpr::resources::{format_hms, format_mem};

use super::{print_json, print_table};
use crate::exit;

/// `xpr systems`: one row per system.
pub fn systems(as_json: bool) -> anyhow::Result<u8> {
    let loaded = LoadedConfig::from_env()?;
    if as_json {
        let systems: Vec<_> = loaded.config.systems.iter().map(system_json).collect();
        print_json(&json!(systems))?;
        return Ok(exit::SUCCESS);
    }
    let rows: Vec<Vec<String>> = loaded
        .config
        .systems
        .iter()
        .map(|s| {
            let partitions: Vec<String> = s
                .partitions
                .iter()
                .map(|p| format!("{}({})", p.name, p.num_cores))
                .collect();
            vec![
                s.name.to_string(),
                s.scheduler.to_string(),
                s.host.clone().unwrap_or_else(|| "(this machine)".into()),
                partitions.join(" "),
            ]
        })
        .collect();
    print_table(
        &["SYSTEM", "SCHEDULER", "HOST", "PARTITIONS (cores/node)"],
        &rows,
    )?;
    Ok(exit::SUCCESS)
}

/// `xpr config check`: the merged config and the provenance of each system; or every
/// problem of the config, each naming its file and JSON path (exit 3).
pub fn check(as_json: bool) -> anyhow::Result<u8> {
    let loaded = match LoadedConfig::from_env() {
        Ok(loaded) => loaded,
        Err(err) => return report_problems(&err, as_json),
    };
    let origin = match &loaded.stage_root_origin {
        StageRootOrigin::LocalStageDir { file } => format!("local_stage_dir in {}", file.display()),
        StageRootOrigin::ExpyreRoot => "EXPYRE_ROOT".to_owned(),
        StageRootOrigin::DeepestConfigDir => "deepest .expyre/_expyre directory".to_owned(),
        _ => "default (no config directory found)".to_owned(),
    };
    let sources: Vec<_> = loaded
        .system_sources
        .iter()
        .map(|(name, files)| {
            json!({"system": name, "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()})
        })
        .collect();
    if as_json {
        print_json(&json!({
            "ok": true,
            "files": loaded.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "stage_root": loaded.stage_root.display().to_string(),
            "stage_root_origin": origin,
            "system_sources": sources,
            "systems": loaded.config.systems.iter().map(system_json).collect::<Vec<_>>(),
            "merged": loaded.merged,
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "config OK")?;
    if loaded.files.is_empty() {
        writeln!(out, "files: none found (only the built-in `local` system)")?;
    } else {
        writeln!(out, "files (merged in this order, later wins):")?;
        for file in &loaded.files {
            writeln!(out, "  {}", file.display())?;
        }
    }
    writeln!(
        out,
        "stage root: {} ({origin})",
        loaded.stage_root.display()
    )?;
    writeln!(out, "systems:")?;
    for (name, files) in &loaded.system_sources {
        let from = if files.is_empty() {
            "built in".to_owned()
        } else {
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(out, "  {name}: from {from}")?;
    }
    writeln!(out, "merged config:")?;
    writeln!(out, "{}", serde_json::to_string_pretty(&loaded.merged)?)?;
    Ok(exit::SUCCESS)
}

/// Every problem of a config that does not load: one `error:` line each on stderr, or with
/// `--json` `{"ok": false, "errors": [{"files", "path", "message"}]}` on stdout. Exit 3.
fn report_problems(err: &ConfigError, as_json: bool) -> anyhow::Result<u8> {
    let problems = err.errors();
    if as_json {
        let errors: Vec<_> = problems
            .iter()
            .map(|e| {
                json!({
                    "files": e.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                    "path": e.path.as_ref().map(|p| p.to_string()),
                    "message": e.to_string(),
                })
            })
            .collect();
        print_json(&json!({"ok": false, "errors": errors}))?;
    } else {
        let mut stderr = std::io::stderr().lock();
        for problem in problems {
            writeln!(stderr, "error: {problem}")?;
        }
        if problems.len() > 1 {
            writeln!(stderr, "xpr: the config has {} problems", problems.len())?;
        }
    }
    Ok(exit::CONFIG)
}

fn system_json(system: &System) -> serde_json::Value {
    json!({
        "name": system.name,
        "scheduler": system.scheduler,
        "host": system.host,
        "partitions": system.partitions.iter().map(|p| json!({
            "name": p.name,
            "num_cores": p.num_cores,
            "max_time": p.max_time.map(format_hms),
            "max_mem": p.max_mem.map(format_mem),
        })).collect::<Vec<_>>(),
    })
}
