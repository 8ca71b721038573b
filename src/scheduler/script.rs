//! Assembling a job script from a system's templates: pure text in, text out.
//!
//! [`build_script`] writes the whole script for any scheduler; [`header_lines`] gives just its
//! rendered header (what `xpr nodes` prints). Neither reads the environment or a file: the
//! caller passes `EXPYRE_HEADER_EXTRA`'s value in [`ScriptSpec::header_extra_env`], and the
//! scheduler (for its default lines) as a `&dyn Scheduler`.
//!
//! # The script, in order
//!
//! ```text
//! #!{script_exec}
//! <system header>                 System::header
//! <partition header>              the allocated Partition::header
//! <caller's extra lines>          ScriptSpec::extra_header
//! <scheduler default lines>       Scheduler::default_header(), unless no_default_header
//! <resource lines>                Scheduler::resource_header(), if System::resource_lines
//! <EXPYRE_HEADER_EXTRA lines>     ScriptSpec::header_extra_env, a JSON list of strings
//! export EXPYRE_NUM_NODES=... (and the other EXPYRE_* counts, current and older names)
//! cd -- <job dir> || exit 1       quoted with shell_quote; relative = under $HOME
//! <System::commands>
//! <ScriptSpec::body>
//! ```
//!
//! Every header line is a template ([`crate::template`]); an error names which of the six
//! sources the line came from and its number there. The `cd` matters: PBS and LSF start jobs
//! in `$HOME`, not in the submit directory. The script after the header is POSIX shell.
//!
//! # Rules worth knowing
//!
//! - A *default* scheduler line that uses `{max_time}` (or `{max_time_HMS}`) is left out when
//!   the request has no time limit, so the scheduler applies its own default limit. The same
//!   key in any other line is an error asking for a time.
//! - Resource lines (xpr's addition, `"resource_lines": true` on the system, independent of
//!   `no_default_header`) carry the request's memory, GPUs and account in the scheduler's own
//!   syntax (each adapter's module docs list its lines). They come after the lines of the
//!   config and the caller, so that the request of this one task wins where a scheduler takes
//!   the last of two directives, and before `EXPYRE_HEADER_EXTRA`, the user's last word. A
//!   system without them (every ExPyRe config) renders exactly what it did before: memory
//!   then only steers the node finder, as in ExPyRe.
//! - A key without a value (`{max_mem_tot}` when no memory is asked, `{gpus}`, `{account}`)
//!   in a line of the config, the caller or `EXPYRE_HEADER_EXTRA` is an error naming the key,
//!   the line and where it came from; xpr's own lines (scheduler defaults, resource lines)
//!   are left out instead.
//! - GPUs and an account must reach the job: a request with them whose header has no line
//!   using `{gpus}` / `{num_gpus}` or `{account}` is an error
//!   ([`ScriptErrorKind::NotInHeader`]) saying how to opt in, never a job silently without
//!   them. (Memory has a use without such a line, the node finder's, so it is not checked.)
//! - `EXPYRE_HEADER_EXTRA` unset or empty means no lines; otherwise it must be a JSON list of
//!   strings.
//! - The job id goes into header directives and file names (`job.{id}.stdout`), so it must be
//!   1-200 characters from `A-Z a-z 0-9 . _ - + = @ % , :` and not start with `-` or `.`.
//! - The job dir: `/abs/path` as is, `~` or `~/rel` and `rel` under `$HOME`.

use std::ffi::OsStr;
use std::fmt;

use crate::command::shell_quote;
use crate::config::System;
use crate::resources::NodeAllocation;
use crate::scheduler::{Scheduler, SchedulerKind};
use crate::template::{HeaderVars, TemplateError, TemplateErrorKind, render_line_using};

/// The name of the environment variable whose JSON list of lines ends every header.
pub const EXPYRE_HEADER_EXTRA: &str = "EXPYRE_HEADER_EXTRA";

/// What one job's script needs beyond the system, allocation and scheduler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptSpec {
    /// The job's name, the `{id}` key (xpr puts the task id there).
    pub id: String,
    /// The remote job directory: absolute, or relative to `$HOME`.
    pub job_dir: String,
    /// The caller's extra header template lines (after the system's and partition's).
    pub extra_header: Vec<String>,
    /// The value of `EXPYRE_HEADER_EXTRA` (a JSON list of strings), if the caller has one.
    pub header_extra_env: Option<String>,
    /// Shell lines run last, in the job directory.
    pub body: Vec<String>,
    /// True for the script of a job array: the scheduler's default lines are then
    /// [`Scheduler::array_default_header`] (PBS Pro refuses `-r n` in arrays).
    pub array: bool,
    /// Directives of an adopted batch script, written as they are (no template) after the
    /// scheduler's default and resource lines, so that they win.
    pub script_directives: Vec<String>,
}

impl ScriptSpec {
    /// A spec for job `id` running in `job_dir`, with no extra lines and no body.
    pub fn new(id: impl Into<String>, job_dir: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            job_dir: job_dir.into(),
            ..Self::default()
        }
    }

    /// Sets an adopted batch script's directives (see [`ScriptSpec::script_directives`]).
    pub fn with_script_directives(mut self, lines: Vec<String>) -> Self {
        self.script_directives = lines;
        self
    }

    /// Sets the caller's extra header lines.
    pub fn with_extra_header<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_header = lines.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the value of `EXPYRE_HEADER_EXTRA` (read from the environment by the caller).
    pub fn with_header_extra_env(mut self, json: impl Into<String>) -> Self {
        self.header_extra_env = Some(json.into());
        self
    }

    /// Sets the body lines.
    pub fn with_body<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body = lines.into_iter().map(Into::into).collect();
        self
    }
}

/// Where a header line came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderSource {
    /// The system's `header`.
    System,
    /// The allocated partition's `header`.
    Partition {
        /// The partition's config key.
        name: String,
    },
    /// The caller's extra lines.
    Extra,
    /// The scheduler's default lines.
    SchedulerDefault {
        /// Which scheduler's.
        scheduler: SchedulerKind,
    },
    /// The scheduler's resource lines (`"resource_lines": true`).
    ResourceLines {
        /// Which scheduler's.
        scheduler: SchedulerKind,
    },
    /// The `EXPYRE_HEADER_EXTRA` list.
    HeaderExtraEnv,
    /// An adopted batch script's own directives.
    BatchScript,
}

impl fmt::Display for HeaderSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("the system's `header`"),
            Self::Partition { name } => write!(f, "partition `{name}`'s `header`"),
            Self::Extra => f.write_str("the extra header lines"),
            Self::BatchScript => f.write_str("the batch script's directives"),
            Self::SchedulerDefault { scheduler } => {
                write!(f, "the {scheduler} default header")
            }
            Self::ResourceLines { scheduler } => write!(f, "the {scheduler} resource lines"),
            Self::HeaderExtraEnv => f.write_str(EXPYRE_HEADER_EXTRA),
        }
    }
}

/// A job script that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the job script of `{id}` on system `{system}`: {kind}")]
pub struct ScriptError {
    /// The system's name.
    pub system: String,
    /// The job's id (`ScriptSpec::id`).
    pub id: String,
    /// What is wrong.
    pub kind: ScriptErrorKind,
}

/// What is wrong with a job script's inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptErrorKind {
    /// A header line does not render.
    #[error("in {origin}: {error}{}", template_hint(.origin, .error))]
    Template {
        /// Which list the line came from.
        origin: HeaderSource,
        /// The line and what is wrong with it (boxed: errors stay small).
        error: Box<TemplateError>,
    },
    /// `EXPYRE_HEADER_EXTRA` is not a JSON list of strings.
    #[error(
        "{EXPYRE_HEADER_EXTRA} is not a JSON list of strings: {message} \
         (hint: e.g. {EXPYRE_HEADER_EXTRA}='[\"#SBATCH --qos=high\"]', or unset it)"
    )]
    HeaderExtraEnv {
        /// What the JSON parser or the type check said.
        message: String,
    },
    /// The allocation names a partition the system does not have.
    #[error("the allocation's partition `{partition}` is not one of the system's partitions")]
    UnknownPartition {
        /// The allocation's partition key.
        partition: String,
    },
    /// The job id cannot go into a header or a file name.
    #[error("invalid job id {id:?}: {why}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The job directory is empty, holds a NUL byte or starts with `~user`.
    #[error("invalid job directory {dir:?}: {why}")]
    InvalidJobDir {
        /// The directory as given.
        dir: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The request asks for GPUs or an account and no header line carries them.
    #[error("{asked} would not reach the job: no header line uses {} (hint: {hint})", key_list(.keys))]
    NotInHeader {
        /// What was asked, e.g. `--gpus 2` or `--account e89`.
        asked: String,
        /// The template keys that would carry it.
        keys: &'static [&'static str],
        /// How to make it reach the job on this system.
        hint: String,
    },
    /// A `directives_skip` pattern matches the job name line, which xpr finds its jobs by
    /// after a crash: without it a job could be submitted twice.
    #[error(
        "directives_skip {pattern:?} would drop the job name line {line:?}, which xpr finds its \
         jobs by after a crash (hint: make the pattern more specific)"
    )]
    SkipsJobName {
        /// The pattern.
        pattern: String,
        /// The rendered job name line.
        line: String,
    },
    /// `script_exec` would not make a one-line `#!`.
    #[error("invalid script_exec {script_exec:?}: it must be a non-empty single line")]
    InvalidScriptExec {
        /// The value as configured.
        script_exec: String,
    },
}

fn key_list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{{{k}}}`")).collect();
    quoted.join(" or ")
}

fn template_hint(origin: &HeaderSource, error: &TemplateError) -> &'static str {
    match (origin, &error.kind) {
        (
            HeaderSource::SchedulerDefault { .. } | HeaderSource::ResourceLines { .. },
            TemplateErrorKind::UnknownKey { .. },
        ) => " (this is a bug in xpr's default header)",
        (HeaderSource::System | HeaderSource::Partition { .. }, _) => {
            " (hint: fix the line in config.json)"
        }
        _ => "",
    }
}

/// The characters a job id may hold besides ASCII letters and digits.
const ID_PUNCTUATION: &str = "._-+=@%,:";

/// Checks a job id: see the module docs.
fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 200 {
        return Err("it must be 1 to 200 characters long");
    }
    if id.starts_with(['-', '.']) {
        return Err("it must not start with `-` or `.`");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(c))
    {
        return Err("it may hold only letters, digits and `._-+=@%,:`");
    }
    Ok(())
}

/// The rendered header lines (no `#!` line): system, partition, extra, scheduler defaults
/// (unless `system.no_default_header`), resource lines (if `system.resource_lines`),
/// `EXPYRE_HEADER_EXTRA`. A scheduler default or resource line that holds one of the
/// system's `directives_skip` substrings is left out (never the job name line).
pub fn header_lines(
    system: &System,
    alloc: &NodeAllocation,
    scheduler: &dyn Scheduler,
    spec: &ScriptSpec,
) -> Result<Vec<String>, ScriptError> {
    let err = |kind| ScriptError {
        system: system.name.to_string(),
        id: spec.id.clone(),
        kind,
    };
    check_id(&spec.id).map_err(|why| {
        err(ScriptErrorKind::InvalidId {
            id: spec.id.clone(),
            why,
        })
    })?;
    let partition = system
        .partitions
        .iter()
        .find(|p| p.name == alloc.partition)
        .ok_or_else(|| {
            err(ScriptErrorKind::UnknownPartition {
                partition: alloc.partition.clone(),
            })
        })?;
    let env_lines = parse_header_extra(spec.header_extra_env.as_deref()).map_err(err)?;
    let defaults: &[&str] = if system.no_default_header {
        &[]
    } else if spec.array {
        scheduler.array_default_header()
    } else {
        scheduler.default_header()
    };

    let resource_lines = if system.resource_lines {
        scheduler.resource_header(alloc)
    } else {
        Vec::new()
    };

    // The scheduler's job name: the id, after the system's prefix (py-cluster-api's
    // `job_name_prefix`, for sites that want jobs named by project). The system driver finds
    // jobs by the same name after a crash.
    let job_name = format!(
        "{}{}",
        system.job_name_prefix.as_deref().unwrap_or_default(),
        spec.id
    );
    let vars = HeaderVars::new(alloc, &spec.id).with_job_name(&job_name);
    // Taken as they are: braces in a user's directive are not template keys.
    let script_lines: Vec<String> = spec
        .script_directives
        .iter()
        .map(|l| l.replace('{', "{{").replace('}', "}}"))
        .collect();
    let sources: [(HeaderSource, Vec<&str>); 7] = [
        (HeaderSource::System, to_strs(&system.header)),
        (
            HeaderSource::Partition {
                name: partition.name.clone(),
            },
            to_strs(&partition.header),
        ),
        (HeaderSource::Extra, to_strs(&spec.extra_header)),
        (
            HeaderSource::SchedulerDefault {
                scheduler: scheduler.kind(),
            },
            defaults.to_vec(),
        ),
        (
            HeaderSource::ResourceLines {
                scheduler: scheduler.kind(),
            },
            resource_lines,
        ),
        (HeaderSource::BatchScript, to_strs(&script_lines)),
        (HeaderSource::HeaderExtraEnv, to_strs(&env_lines)),
    ];

    let mut out = Vec::new();
    // The keys of the lines that made it into the header.
    let mut used = Vec::new();
    for (origin, lines) in sources {
        for (i, line) in lines.iter().enumerate() {
            let mut keys = Vec::new();
            match render_line_using(line, &vars, &mut keys) {
                Ok(rendered) => {
                    let own = matches!(
                        origin,
                        HeaderSource::SchedulerDefault { .. } | HeaderSource::ResourceLines { .. }
                    );
                    let skip = system
                        .directives_skip
                        .iter()
                        .find(|pattern| own && rendered.contains(pattern.as_str()));
                    match skip {
                        // The scheduler's first default line names the job.
                        Some(pattern)
                            if i == 0
                                && matches!(origin, HeaderSource::SchedulerDefault { .. }) =>
                        {
                            return Err(err(ScriptErrorKind::SkipsJobName {
                                pattern: pattern.clone(),
                                line: rendered,
                            }));
                        }
                        Some(_) => {}
                        None => {
                            out.push(rendered);
                            used.extend(keys);
                        }
                    }
                }
                // A value not asked for: xpr's own line is left out, so that the scheduler
                // applies its default (see the module docs).
                Err(TemplateErrorKind::NoValue { .. })
                    if matches!(
                        origin,
                        HeaderSource::SchedulerDefault { .. } | HeaderSource::ResourceLines { .. }
                    ) => {}
                Err(kind) => {
                    return Err(err(ScriptErrorKind::Template {
                        origin,
                        error: Box::new(TemplateError {
                            line_no: i + 1,
                            line: (*line).to_owned(),
                            kind,
                        }),
                    }));
                }
            }
        }
    }
    if let Some(kind) = not_in_header(system, alloc, scheduler.kind(), &used) {
        return Err(err(kind));
    }
    Ok(out)
}

/// The error for GPUs or an account the request asks for and no rendered line carries.
fn not_in_header(
    system: &System,
    alloc: &NodeAllocation,
    scheduler: SchedulerKind,
    used: &[&str],
) -> Option<ScriptErrorKind> {
    let asks: [(Option<String>, &'static [&'static str]); 2] = [
        (
            alloc.gpus.map(|n| format!("--gpus {n}")),
            &["gpus", "num_gpus"],
        ),
        (
            alloc.account.as_ref().map(|a| format!("--account {a}")),
            &["account"],
        ),
    ];
    let (asked, keys) = asks.into_iter().find_map(|(asked, keys)| {
        Some((asked?, keys)).filter(|_| !keys.iter().any(|k| used.contains(k)))
    })?;
    let key = keys[0];
    // Where the scheduler has no line for it, opting in would not help: say what does.
    let hint = match (scheduler, key, system.resource_lines) {
        (SchedulerKind::Sge, "gpus", _) => format!(
            "Grid Engine has no standard GPU resource: add your site's line to system `{}`'s \
             or its partition's header, e.g. `#$ -l gpu={{gpus}}`",
            system.name
        ),
        (SchedulerKind::Local, "account", _) => {
            "the local scheduler has no accounts; leave the account out".to_owned()
        }
        (_, _, false) => format!(
            "set `\"resource_lines\": true` on system `{}` for the {scheduler} line, or use \
             `{{{key}}}` in a header line of its config or the task's",
            system.name
        ),
        (_, _, true) => format!(
            "the {scheduler} resource lines have no line for it; use `{{{key}}}` in a header \
             line of system `{}`'s config or the task's",
            system.name
        ),
    };
    Some(ScriptErrorKind::NotInHeader { asked, keys, hint })
}

/// The whole job script (see the module docs for its layout), ending in a newline.
pub fn build_script(
    system: &System,
    alloc: &NodeAllocation,
    scheduler: &dyn Scheduler,
    spec: &ScriptSpec,
) -> Result<String, ScriptError> {
    let err = |kind| ScriptError {
        system: system.name.to_string(),
        id: spec.id.clone(),
        kind,
    };
    let exec = system.script_exec.trim();
    if exec.is_empty() || exec.contains(['\n', '\r']) {
        return Err(err(ScriptErrorKind::InvalidScriptExec {
            script_exec: system.script_exec.clone(),
        }));
    }
    let cd = cd_line(&spec.job_dir).map_err(|why| {
        err(ScriptErrorKind::InvalidJobDir {
            dir: spec.job_dir.clone(),
            why,
        })
    })?;
    let header = header_lines(system, alloc, scheduler, spec)?;

    let per_task = alloc.ncores_per_task.max(1);
    let exports: [(&str, u32); 9] = [
        ("EXPYRE_NUM_NODES", alloc.num_nodes),
        ("EXPYRE_NUM_CORES", alloc.num_cores),
        ("EXPYRE_NUM_CORES_PER_NODE", alloc.num_cores_per_node),
        ("EXPYRE_NNODES", alloc.num_nodes),
        ("EXPYRE_TOT_NCORES", alloc.num_cores),
        ("EXPYRE_NCORES_PER_NODE", alloc.num_cores_per_node),
        ("EXPYRE_TOT_NTASKS", alloc.num_cores / per_task),
        (
            "EXPYRE_NTASKS_PER_NODE",
            alloc.num_cores_per_node / per_task,
        ),
        ("EXPYRE_NCORES_PER_TASK", per_task),
    ];

    let mut script = format!("#!{exec}\n");
    for line in &header {
        script.push_str(line);
        script.push('\n');
    }
    for (name, value) in exports {
        script.push_str(&format!("export {name}={value}\n"));
    }
    script.push_str(&cd);
    script.push('\n');
    for line in system.commands.iter().chain(&spec.body) {
        script.push_str(line);
        script.push('\n');
    }
    Ok(script)
}

/// `cd -- DIR || exit 1`, with relative and `~` paths under `$HOME`.
fn cd_line(dir: &str) -> Result<String, &'static str> {
    Ok(format!("cd -- {} || exit 1", dir_word(dir)?))
}

/// A remote directory as one shell word that names it whatever characters it holds: an
/// absolute path quoted, `~` and relative paths under `"$HOME"`. Fails (saying why) for an
/// empty path, a NUL byte or a `~user` path.
pub fn dir_word(dir: &str) -> Result<String, &'static str> {
    if dir.is_empty() {
        return Err("it is empty");
    }
    if dir.contains('\0') {
        return Err("it holds a NUL byte");
    }
    if dir.starts_with('~') && dir != "~" && !dir.starts_with("~/") {
        return Err("`~user` paths are not supported (hint: give the absolute path)");
    }
    let quoted =
        |s: &str| String::from_utf8(shell_quote(OsStr::new(s))).expect("quoting keeps UTF-8");
    let target = if dir.starts_with('/') {
        quoted(dir)
    } else if dir == "~" {
        "\"$HOME\"".to_owned()
    } else {
        let rel = dir.strip_prefix("~/").unwrap_or(dir);
        // "$HOME" and the quoted word concatenate into one shell word.
        format!("\"$HOME\"/{}", quoted(rel))
    };
    Ok(target)
}

/// The lines of `EXPYRE_HEADER_EXTRA`: none when unset or blank.
fn parse_header_extra(value: Option<&str>) -> Result<Vec<String>, ScriptErrorKind> {
    let Some(text) = value.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    serde_json::from_str::<Vec<String>>(text).map_err(|e| ScriptErrorKind::HeaderExtraEnv {
        message: e.to_string(),
    })
}

fn to_strs(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).collect()
}
