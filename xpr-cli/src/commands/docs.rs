//! `xpr completions` and `xpr man`: the command line describing itself, generated from the
//! same clap definitions that parse it, so they cannot drift from it.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit;

/// Prints the completion script for the shell asked.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    // Into memory first: clap_complete panics on a write error, and a closed pipe
    // (`xpr completions bash | head`) is not worth a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "xpr", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// Writes xpr.1 and a page per subcommand into the dir asked, or xpr.1 on stdout.
pub fn man(args: &ManArgs) -> anyhow::Result<u8> {
    let command = Cli::command();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&command, dir)?;
            eprintln!(
                "xpr: man pages written to {} (hint: MANPATH={}:$MANPATH man xpr)",
                dir.display(),
                dir.parent().unwrap_or(dir).display()
            );
        }
    }
    Ok(exit::SUCCESS)
}

/// xpr.1, and xpr-SUB.1 for each subcommand (clap_mangen's own naming).
fn write_pages(command: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    clap_mangen::generate_to(command.clone(), dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    Ok(())
}
