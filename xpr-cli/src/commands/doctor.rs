//! `xpr doctor [SYSTEM...]`: the library's checks of each system, printed or as JSON.

use std::io::Write;

use serde_json::json;
use xpr::doctor::{Outcome, SystemReport, check_system};

use super::print_json;
use super::tasks::{open_session, runtime};
use crate::cli::DoctorArgs;
use crate::exit;

/// Checks the systems asked (default: every configured one); exit 1 when a check failed.
pub fn doctor(args: &DoctorArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let session = open_session()?;
    let names: Vec<String> = if args.systems.is_empty() {
        session
            .config()
            .config
            .systems
            .iter()
            .map(|s| s.name.to_string())
            .collect()
    } else {
        args.systems.clone()
    };
    let reports: Vec<SystemReport> = rt.block_on(async {
        let mut reports = Vec::new();
        for name in &names {
            reports.push(check_system(&session, name).await);
        }
        reports
    });
    let _ = rt.block_on(session.close());
    if args.json {
        print_json(&json!(reports))?;
    } else {
        print_reports(&reports)?;
    }
    Ok(if reports.iter().any(|r| r.worst() == Outcome::Fail) {
        exit::OTHER
    } else {
        exit::SUCCESS
    })
}

fn print_reports(reports: &[SystemReport]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for report in reports {
        let host = report.host.as_deref().unwrap_or("this machine");
        writeln!(out, "{} ({host})", report.system)?;
        for check in &report.checks {
            writeln!(
                out,
                "  {:<4}  {:<10}  {}",
                check.outcome.as_str(),
                check.kind.as_str(),
                check.detail
            )?;
            if let Some(hint) = &check.hint {
                writeln!(out, "{:18}hint: {hint}", "")?;
            }
        }
    }
    out.flush()
}
