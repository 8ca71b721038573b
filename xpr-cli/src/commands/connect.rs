//! `xpr connect` and `xpr disconnect`: a master connection the user opens by hand.

use std::io::Write;

use xpr::config::LoadedConfig;
use xpr::transport::{SshTarget, close_user_master, open_user_master};

use crate::exit;

fn target(system: &str) -> anyhow::Result<SshTarget> {
    let loaded = LoadedConfig::from_env()?;
    let system = loaded.system(system)?;
    let Some(host) = &system.host else {
        anyhow::bail!(
            "system {} runs on this machine (host null): there is nothing to connect to",
            system.name
        );
    };
    Ok(SshTarget::new(host, system.remsh_cmd.as_deref())?)
}

/// Opens the master in the foreground, so password and two-factor prompts reach the user.
pub fn connect(system: &str) -> anyhow::Result<u8> {
    let path = open_user_master(&target(system)?)?;
    writeln!(
        std::io::stdout(),
        "connected to {system}; xpr reuses this connection until `xpr disconnect {system}` (control socket {})",
        path.display()
    )?;
    Ok(exit::SUCCESS)
}

/// Closes the master opened by `xpr connect`.
pub fn disconnect(system: &str) -> anyhow::Result<u8> {
    if close_user_master(&target(system)?)? {
        writeln!(std::io::stdout(), "disconnected from {system}")?;
    } else {
        writeln!(std::io::stdout(), "no connection to {system} was open")?;
    }
    Ok(exit::SUCCESS)
}
