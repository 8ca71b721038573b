//! Delimited tables as `squeue --format` and `sacct --parsable2` print them, turned into
//! validated [`SlurmRecord`]s.
//!
//! A [`TableLayout`] names the columns (only the ones xpr reads get a meaning; the rest are
//! [`Field::Ignored`]) and the delimiter. Every row must have exactly as many fields as the
//! layout, except that a last column holding the job name absorbs any extra delimiters: job
//! names are the one value a user controls, so the adapter puts the name last.
//!
//! Nothing in a reply is trusted: job ids must match Slurm's id grammar ([`is_valid_job_id`]),
//! and no value may hold control characters. A row that breaks these rules fails the whole
//! parse with the row in the error, rather than being skipped, because a skipped row is a job
//! whose state silently goes missing.

use std::sync::LazyLock;

use regex::Regex;

use super::state::ExitCode;
use crate::ids::SchedulerJobId;
use crate::scheduler::{ParseError, SchedulerKind, memory_kb};

/// What one column of a table holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The job id, possibly with a step suffix (`123`, `123_4`, `2_[0-4]`, `123.batch`).
    JobId,
    /// The job name.
    Name,
    /// The state, long (`PENDING`) or compact (`PD`), possibly decorated (`CANCELLED by 0`).
    State,
    /// `CODE:SIGNAL`.
    ExitCode,
    /// The pending reason (`Resources`, `JobHeldUser`; `None` when there is none).
    Reason,
    /// The compressed node list (`nid0[0099,0156-0157]`, `(null)`, `None assigned`).
    NodeList,
    /// The run time: seconds (`ElapsedRaw`) or `[D-][HH:]MM:SS` (`Elapsed`, squeue's `%M`).
    Elapsed,
    /// A peak memory (`MaxRSS`: `215800K`, `2.50G`; a bare number is kB); empty on job rows,
    /// which is why accounting reads the steps.
    MaxRss,
    /// A column xpr does not read.
    Ignored,
}

/// The columns and delimiter of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    delimiter: String,
    fields: Vec<Field>,
    trailing_delimiter: bool,
}

impl TableLayout {
    /// A layout of `fields` separated by `delimiter` (not empty).
    pub fn new(delimiter: impl Into<String>, fields: impl Into<Vec<Field>>) -> Self {
        let delimiter = delimiter.into();
        assert!(!delimiter.is_empty(), "a table delimiter cannot be empty");
        Self {
            delimiter,
            fields: fields.into(),
            trailing_delimiter: false,
        }
    }

    /// Rows end with one extra delimiter, as `sacct --parsable` (not `--parsable2`) prints.
    pub fn with_trailing_delimiter(mut self) -> Self {
        self.trailing_delimiter = true;
        self
    }

    /// The layout a sacct header line (`JobID|State|ExitCode`) names; unknown columns are
    /// ignored. `JobID` and `JobIDRaw` are both read as the id.
    pub fn from_sacct_header(header: &str, delimiter: &str) -> Self {
        let mut header = header.trim_end_matches(['\r', '\n']);
        let trailing = header.ends_with(delimiter);
        if trailing {
            header = &header[..header.len() - delimiter.len()];
        }
        let fields: Vec<Field> = header
            .split(delimiter)
            .map(|name| match name.trim().to_ascii_lowercase().as_str() {
                "jobid" | "jobidraw" => Field::JobId,
                "jobname" => Field::Name,
                "state" => Field::State,
                "exitcode" => Field::ExitCode,
                "reason" => Field::Reason,
                "nodelist" => Field::NodeList,
                "elapsed" | "elapsedraw" => Field::Elapsed,
                "maxrss" => Field::MaxRss,
                _ => Field::Ignored,
            })
            .collect();
        let layout = Self::new(delimiter, fields);
        if trailing {
            layout.with_trailing_delimiter()
        } else {
            layout
        }
    }

    /// The columns, in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
}

/// One row of a table, validated. Absent columns and empty or placeholder values are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmRecord {
    /// The job part of the id (`123`, `123_4`, `2_[0-4]`, `7+1`).
    pub id: Option<SchedulerJobId>,
    /// The step part of the id, after the first `.` (`batch`, `extern`, `0`).
    pub step: Option<String>,
    /// The job name.
    pub name: Option<String>,
    /// The state as printed (`CANCELLED by 1001` kept whole).
    pub state: Option<String>,
    /// The exit code.
    pub exit: Option<ExitCode>,
    /// The reason; Slurm's `None` becomes `None`.
    pub reason: Option<String>,
    /// The first node of the node list.
    pub node: Option<String>,
    /// The run time in seconds.
    pub elapsed_secs: Option<u64>,
    /// The peak memory in kB.
    pub max_rss_kb: Option<u64>,
}

/// Seconds of a Slurm duration: plain seconds (`ElapsedRaw`), or `[D-][[HH:]MM:]SS[.frac]`
/// (`Elapsed`, `RunTime=`, squeue's `%M`). `None` for anything else (`INVALID`, `UNLIMITED`).
pub fn parse_slurm_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut seconds: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        // Only the last part may have a fraction (`MM:SS.mmm` of short steps).
        let whole = if i + 1 == parts.len() {
            part.split_once('.').map_or(*part, |(w, _)| w)
        } else {
            part
        };
        if !whole.bytes().all(|b| b.is_ascii_digit()) || whole.is_empty() {
            return None;
        }
        seconds = seconds.checked_mul(60)?.checked_add(whole.parse().ok()?)?;
    }
    days.checked_mul(86_400)?.checked_add(seconds)
}

/// Slurm's job id grammar for a job (not a step): a number, optionally an array part
/// (`_7`, `_[0-4]`, `_[2,4-12]`, `_[2-4%25]`), optionally a heterogeneous-job offset (`+1`).
static JOB_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]+(_([0-9]+|\[[0-9][0-9,\-%:]*\]))?(\+[0-9]+)?$").expect("valid regex")
});

/// A step suffix: `batch`, `extern`, `interactive`, a number, a het step `0+1`, or sacct's
/// truncated `ext+`.
static STEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]+(\+[0-9]*)?$").expect("valid regex"));

/// True when `id` is a Slurm job id (no step): `123`, `123_4`, `2_[0-4]`, `20956421_[2-4%25]`,
/// `7+1`.
pub fn is_valid_job_id(id: &str) -> bool {
    JOB_ID.is_match(id)
}

/// Splits `123_4.batch` into a validated job id and step; `None` when it is not an id.
pub fn split_job_id(text: &str) -> Option<(SchedulerJobId, Option<String>)> {
    let (job, step) = match text.split_once('.') {
        Some((job, step)) => (job, Some(step)),
        None => (text, None),
    };
    if !is_valid_job_id(job) || step.is_some_and(|s| !STEP.is_match(s)) {
        return None;
    }
    Some((SchedulerJobId::new(job), step.map(str::to_owned)))
}

/// True when `text` holds a control character (a newline would let one value forge a row).
pub(super) fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The first host of a Slurm hostlist: `nid0[0099,0156-0157],x1` -> `nid00099`,
/// `wn-ca-[01-02],wn-db-[01-06]` -> `wn-ca-01`. `None` for the placeholders Slurm prints when
/// no node is allocated (empty, `(null)`, `None assigned`, `n/a`). `Err` when the result is
/// not a plain host name.
pub fn first_node(list: &str) -> Result<Option<String>, String> {
    let list = list.trim();
    if list.is_empty()
        || list == "(null)"
        || list.eq_ignore_ascii_case("n/a")
        || list.eq_ignore_ascii_case("none assigned")
        || list.eq_ignore_ascii_case("none")
    {
        return Ok(None);
    }
    let mut host = String::new();
    let mut chars = list.chars();
    while let Some(c) = chars.next() {
        match c {
            ',' => break,
            '[' => {
                // First element of the bracket: digits up to ',', '-' or ']'; skip the rest.
                let mut first = String::new();
                let mut in_first = true;
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == ',' || d == '-' {
                        in_first = false;
                    } else if in_first {
                        first.push(d);
                    }
                }
                host.push_str(&first);
            }
            c => host.push(c),
        }
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if host.is_empty() || !host.chars().all(plain) {
        return Err(format!(
            "node list {list:?} does not start with a host name"
        ));
    }
    Ok(Some(host))
}

/// A parse error of a Slurm reply.
pub(super) fn parse_error(
    what: &'static str,
    message: impl Into<String>,
    snippet: Option<&str>,
) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Slurm,
        what,
        message: message.into(),
        snippet: snippet.map(|s| s.chars().take(200).collect()),
    }
}

/// Parses every non-blank line of `text` as a row of `layout`. `what` names the reply in
/// errors (`"squeue output"`).
pub fn parse_table(
    text: &str,
    layout: &TableLayout,
    what: &'static str,
) -> Result<Vec<SlurmRecord>, ParseError> {
    let n = layout.fields.len();
    let last_absorbs = matches!(layout.fields.last(), Some(Field::Name | Field::Ignored));
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| {
            parse_error(what, format!("line {}: {message}", index + 1), Some(line))
        };
        let mut row = line;
        if layout.trailing_delimiter {
            row = row
                .strip_suffix(layout.delimiter.as_str())
                .ok_or_else(|| err(format!("row does not end with {:?}", layout.delimiter)))?;
        }
        let values: Vec<&str> = row.splitn(n, layout.delimiter.as_str()).collect();
        if values.len() != n {
            return Err(err(format!("expected {n} fields, found {}", values.len())));
        }
        if !last_absorbs && values[n - 1].contains(layout.delimiter.as_str()) {
            return Err(err(format!("expected {n} fields, found more")));
        }
        let mut record = SlurmRecord {
            id: None,
            step: None,
            name: None,
            state: None,
            exit: None,
            reason: None,
            node: None,
            elapsed_secs: None,
            max_rss_kb: None,
        };
        for (field, value) in layout.fields.iter().zip(values) {
            if *field == Field::Ignored {
                continue;
            }
            if has_control(value) {
                return Err(err(format!("{field:?} holds a control character")));
            }
            let value = value.trim();
            match field {
                Field::JobId => {
                    let (id, step) = split_job_id(value)
                        .ok_or_else(|| err(format!("{value:?} is not a Slurm job id")))?;
                    record.id = Some(id);
                    record.step = step;
                }
                Field::Name => record.name = (!value.is_empty()).then(|| value.to_owned()),
                Field::State => {
                    if value.is_empty() {
                        return Err(err("empty job state".into()));
                    }
                    record.state = Some(value.to_owned());
                }
                Field::ExitCode => {
                    if !value.is_empty() {
                        record.exit = Some(ExitCode::parse(value).ok_or_else(|| {
                            err(format!("exit code {value:?} is not CODE:SIGNAL"))
                        })?);
                    }
                }
                Field::Reason => {
                    record.reason =
                        (!value.is_empty() && value != "None").then(|| value.to_owned());
                }
                Field::NodeList => record.node = first_node(value).map_err(err)?,
                Field::Elapsed => {
                    if !value.is_empty() {
                        record.elapsed_secs =
                            Some(parse_slurm_duration(value).ok_or_else(|| {
                                err(format!("run time {value:?} is not seconds or [D-]HH:MM:SS"))
                            })?);
                    }
                }
                Field::MaxRss => {
                    if !value.is_empty() {
                        record.max_rss_kb = Some(memory_kb(value, 1024).ok_or_else(|| {
                            err(format!("memory {value:?} is not a number with a unit"))
                        })?);
                    }
                }
                Field::Ignored => {}
            }
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_grammar() {
        for ok in [
            "1",
            "123_4",
            "2_[0-4]",
            "20956421_[2-4%25]",
            "12_[2,4-12]",
            "7+1",
        ] {
            assert!(is_valid_job_id(ok), "{ok}");
        }
        for bad in [
            "", "-1", "12a", "1 2", "1;x", "1_", "1_[]", "abc", "1\n2", "1.batch",
        ] {
            assert!(!is_valid_job_id(bad), "{bad:?}");
        }
        assert_eq!(
            split_job_id("5610980.ext+"),
            Some(("5610980".into(), Some("ext+".into())))
        );
        assert_eq!(split_job_id("1.batch;rm"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_slurm_duration("40"), Some(40));
        assert_eq!(parse_slurm_duration("00:00:40"), Some(40));
        assert_eq!(parse_slurm_duration("1-02:03:04"), Some(93_784));
        assert_eq!(parse_slurm_duration("03:04"), Some(184));
        assert_eq!(parse_slurm_duration("00:01.234"), Some(1));
        for bad in ["", "INVALID", "UNLIMITED", "1:2:3:4", "a:00", "-1", "1-"] {
            assert_eq!(parse_slurm_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn first_nodes() {
        assert_eq!(
            first_node("nid0[0099,0156-0157]").unwrap().as_deref(),
            Some("nid00099")
        );
        assert_eq!(
            first_node("wn-ca-[01-02],wn-db-[01-06]")
                .unwrap()
                .as_deref(),
            Some("wn-ca-01")
        );
        assert_eq!(first_node("node[3-4]").unwrap().as_deref(), Some("node3"));
        assert_eq!(first_node("(null)").unwrap(), None);
        assert_eq!(first_node("None assigned").unwrap(), None);
        assert!(first_node("a b").is_err());
    }

    #[test]
    fn name_last_absorbs_delimiters() {
        let layout = TableLayout::new("|", [Field::JobId, Field::State, Field::Name]);
        let rows = parse_table("1|RUNNING|a|b\n", &layout, "test").unwrap();
        assert_eq!(rows[0].name.as_deref(), Some("a|b"));
        let layout = TableLayout::new("|", [Field::JobId, Field::Name, Field::State]);
        assert!(parse_table("1|a|b|RUNNING\n", &layout, "test").is_err());
    }
}
