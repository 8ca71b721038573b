//! The `xpr` command as a library: [`main_with_args`] parses a command line, calls
//! [`commands`]' function for it, prints errors with their cause chain and returns the
//! documented exit code (see [`exit`]). All the work is in the xpr library; this crate only
//! prints. The `xpr` binary (`main.rs`) and the Python package's `xpr` command both call
//! [`main_with_args`], so the two are the same command.

mod cli;
mod commands;
mod exit;
mod verbosity;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

/// Runs the `xpr` command line `args` (the program's name first, as `std::env::args_os`
/// gives it) and returns its exit code.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match cli::Cli::try_parse_from(args) {
        Ok(args) => args,
        Err(err) => {
            // clap's own words: usage errors on stderr, `--help`/`--version` on stdout.
            let _ = err.print();
            return u8::try_from(err.exit_code()).unwrap_or(exit::USAGE);
        }
    };
    verbosity::init(args.verbose);
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`xpr ls | head`) is not an error worth a message.
            if is_broken_pipe(&err) {
                return exit::SUCCESS;
            }
            let _ = std::io::stderr().lock().write_all(report(&err).as_bytes());
            exit::code_for(&err)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error as printed: `error: ...`, then `  caused by: ...` for each cause that says
/// something new. Many library errors put their cause's message in their own (`{source}`) and
/// also return it as their `source()`, or forward it whole (`#[error(transparent)]`); a cause
/// whose text was already printed is left out, so each is said once. A message of several
/// lines (a config with several problems) keeps them aligned under the first.
fn report(err: &anyhow::Error) -> String {
    render(err, "error: ")
}

/// [`report`] with `first` before the first line instead of `error: ` (for warnings).
fn render(err: &anyhow::Error, first: &str) -> String {
    let mut said: Vec<String> = Vec::new();
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        let prefix = if said.is_empty() {
            first
        } else {
            "  caused by: "
        };
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                out.push_str(prefix);
            } else {
                out.extend(std::iter::repeat_n(' ', prefix.len()));
            }
            out.push_str(line);
            out.push('\n');
        }
        said.push(text);
        if already_warned(cause) {
            break;
        }
    }
    out
}

/// True for a system or profile made unusable by config problems that the command already
/// printed as a warning: they are not repeated as causes.
fn already_warned(cause: &(dyn std::error::Error + 'static)) -> bool {
    commands::config_warned()
        && cause
            .downcast_ref::<xpr::config::ConfigError>()
            .is_some_and(|e| matches!(*e.kind, xpr::config::ConfigErrorKind::Unusable { .. }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use anyhow::Context;

    use super::report;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let doc = r#"{"systems": {"s": {"host": null, "scheduler": "slurm",
            "partitions": {"p": {"num_cores": 1, "max_time": "1x"}}}}}"#;
        let err = xpr::config::Config::from_json_str(doc, Path::new("/c/config.json")).unwrap_err();
        let text = report(&anyhow::Error::new(err));
        assert_eq!(text.matches("invalid time").count(), 1, "{text}");
        assert!(text.starts_with("error: /c/config.json: systems.s.partitions.p.max_time: "));
        assert!(!text.contains("caused by"), "{text}");

        // A context above a cause it does not repeat: both, the cause under "caused by:".
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Err::<(), _>(io).context("reading /x").unwrap_err();
        assert_eq!(
            report(&err),
            "error: reading /x\n  caused by: no such file\n"
        );
    }

    #[test]
    fn a_stage_error_of_several_tasks_names_no_task() {
        let err = xpr::session::SessionError::Stage {
            task: None,
            source: xpr::stage::StageError::MissingInput {
                pattern: "in.dat".to_owned(),
                base: "/work".into(),
            },
        };
        let text = report(&anyhow::Error::new(err));
        assert!(!text.contains("task -"), "{text}");
        assert_eq!(
            text.lines().next().unwrap(),
            "error: input \"in.dat\" matches no file (hint: paths are relative to /work)"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn several_lines_stay_aligned() {
        let err = anyhow::anyhow!("first\nsecond");
        assert_eq!(report(&err), "error: first\n       second\n");
    }
}
