//! The `qstat -f` text dialect (PBS Pro and Torque print the same layout).
//!
//! ```text
//! Job Id: 80005196.gadi-pbs
//!     Job_Name = test1
//!     Error_Path = gadi.nci.org.au:/scratch/a01/asd562/VASP/test/test1/test1.e800
//!         05196
//!     exit_status = 271
//! ```
//!
//! A record starts at `Job Id:`; an attribute line is exactly four spaces, a name, ` = `, the
//! value. qstat wraps long values at about 80 columns, in the middle of a token, onto
//! continuation lines that start with a TAB (PBS Pro, Torque) or, when something converted the
//! tabs, eight spaces (the NCI Gadi sample): those are glued on with nothing in between. A value
//! holding raw newlines (Torque's `sched_hint` after a failed copy) continues on lines with no
//! indent at all, and even with blank lines in between; those are joined with `\n`.

use std::collections::BTreeMap;

use super::{QstatDialect, QstatJob, parse_error, validate_job_id};
use crate::scheduler::ParseError;

const WHAT: &str = "qstat -f output";

/// Parses the whole text into jobs in output order.
pub(super) fn parse(text: &str) -> Result<Vec<QstatJob>, ParseError> {
    let mut jobs = Vec::new();
    let mut current: Option<(String, BTreeMap<String, String>)> = None;
    let mut last_key: Option<String> = None;

    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(id) = line.strip_prefix("Job Id:") {
            if let Some((id, attrs)) = current.take() {
                jobs.push(finish(id, attrs)?);
            }
            let id = id.trim();
            validate_job_id(id, WHAT)?;
            current = Some((id.to_owned(), BTreeMap::new()));
            last_key = None;
            continue;
        }
        let Some((_, attrs)) = current.as_mut() else {
            return Err(parse_error(
                WHAT,
                format!("line {} comes before any `Job Id:` line", index + 1),
                Some(line),
            ));
        };
        if let Some((key, value)) = attribute_line(line) {
            attrs.insert(key.to_owned(), value.to_owned());
            last_key = Some(key.to_owned());
            continue;
        }
        let Some(key) = last_key.as_ref() else {
            return Err(parse_error(
                WHAT,
                format!(
                    "line {} continues a value but no attribute came before it",
                    index + 1
                ),
                Some(line),
            ));
        };
        let value = attrs.entry(key.clone()).or_default();
        if let Some(rest) = line.strip_prefix('\t') {
            // Wrapped at a column: the break fell inside a token.
            value.push_str(rest);
        } else if line.starts_with("        ") {
            // The same wrap with the TAB expanded to spaces.
            value.push_str(line.trim_start());
        } else {
            // A raw newline inside the value.
            value.push('\n');
            value.push_str(line);
        }
    }
    if let Some((id, attrs)) = current.take() {
        jobs.push(finish(id, attrs)?);
    }
    Ok(jobs)
}

fn finish(id: String, attributes: BTreeMap<String, String>) -> Result<QstatJob, ParseError> {
    Ok(QstatJob {
        id: id.into(),
        attributes,
        dialect: QstatDialect::Text,
    })
}

/// `    name = value` (exactly four spaces) -> `(name, value)`.
fn attribute_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("    ")?;
    if rest.starts_with([' ', '\t']) {
        return None;
    }
    let (key, value) = match rest.split_once(" = ") {
        Some(kv) => kv,
        // An empty value prints as `name = ` and may have lost its trailing space.
        None => (rest.strip_suffix(" =")?, ""),
    };
    let valid = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    valid.then_some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lines_need_exactly_four_spaces() {
        assert_eq!(
            attribute_line("    job_state = R"),
            Some(("job_state", "R"))
        );
        assert_eq!(
            attribute_line("    Account_Name ="),
            Some(("Account_Name", ""))
        );
        assert_eq!(
            attribute_line("    Resource_List.select = 1:ncpus=2"),
            Some(("Resource_List.select", "1:ncpus=2"))
        );
        assert_eq!(attribute_line("        05196"), None);
        assert_eq!(attribute_line("     x = y"), None);
        assert_eq!(attribute_line("*** error from copy"), None);
    }

    #[test]
    fn continuations_glue_or_join() {
        let text = "Job Id: 1.s\n    a = abc\n\tdef\n    b = x\n        yz\n    c = one\n\ntwo\n";
        let jobs = parse(text).unwrap();
        let attrs = &jobs[0].attributes;
        assert_eq!(attrs["a"], "abcdef");
        assert_eq!(attrs["b"], "xyz");
        assert_eq!(attrs["c"], "one\ntwo");
    }

    #[test]
    fn text_before_the_first_job_is_an_error() {
        let err = parse("qstat: something odd\nJob Id: 1.s\n").unwrap_err();
        assert!(err.to_string().contains("before any `Job Id:`"), "{err}");
    }
}
