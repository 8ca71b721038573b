//! The Torque `qstat -x` XML dialect.
//!
//! ```text
//! <Data><Job><Job_Id>22005.pbsserver</Job_Id><job_state>C</job_state>
//!   <resources_used><walltime>00:00:06</walltime></resources_used>...</Job></Data>
//! ```
//!
//! Torque prints the whole document on one line; nested elements (`Resource_List`,
//! `resources_used`) are flattened to the dotted names the text dialect uses
//! (`resources_used.walltime`). Before Torque 6.1.0, `qstat -x` printed nothing at all when no
//! job matched (TRQ-3622), so an empty reply is "no jobs", handled by the caller.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use super::{QstatDialect, QstatJob, parse_error, validate_job_id};
use crate::scheduler::ParseError;

const WHAT: &str = "qstat -x (XML) output";

/// One open element: its name, and whether a child element appeared inside it.
struct Open {
    name: String,
    has_children: bool,
    text: String,
}

/// Parses the whole document into jobs in output order.
pub(super) fn parse(text: &str) -> Result<Vec<QstatJob>, ParseError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Open> = Vec::new();
    let mut jobs = Vec::new();
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();

    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            parse_error(WHAT, format!("malformed XML at byte {position}: {e}"), None)
        })?;
        match event {
            Event::Start(start) => {
                if let Some(parent) = stack.last_mut() {
                    parent.has_children = true;
                }
                let name = start.name().as_ref().to_owned();
                if stack.len() == 1 && name == "Job" {
                    attrs.clear();
                }
                stack.push(Open {
                    name,
                    has_children: false,
                    text: String::new(),
                });
            }
            Event::Empty(empty) => {
                // `<comment/>`: an attribute with an empty value.
                if let Some(parent) = stack.last_mut() {
                    parent.has_children = true;
                }
                if stack.len() >= 2 {
                    let mut path: Vec<&str> = stack[2..].iter().map(|o| o.name.as_str()).collect();
                    let name = empty.name().as_ref().to_owned();
                    path.push(&name);
                    attrs.insert(path.join("."), String::new());
                }
            }
            Event::Text(t) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_predefined_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => format!("&{};", &*r),
                    },
                    Err(e) => {
                        return Err(parse_error(
                            WHAT,
                            format!("bad character reference: {e}"),
                            None,
                        ));
                    }
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let Some(open) = stack.pop() else {
                    return Err(parse_error(
                        WHAT,
                        "closing tag without an opening one".into(),
                        None,
                    ));
                };
                match stack.len() {
                    // </Job>: the record is complete.
                    1 if open.name == "Job" => {
                        let Some(id) = attrs.remove("Job_Id") else {
                            return Err(parse_error(WHAT, "a <Job> has no <Job_Id>".into(), None));
                        };
                        let id = id.trim().to_owned();
                        validate_job_id(&id, WHAT)?;
                        jobs.push(QstatJob {
                            id: id.into(),
                            attributes: std::mem::take(&mut attrs),
                            dialect: QstatDialect::Xml,
                        });
                    }
                    // Something other than a job directly under the root: not ours.
                    0 | 1 => attrs.clear(),
                    _ if !open.has_children => {
                        let mut path: Vec<&str> =
                            stack[2..].iter().map(|o| o.name.as_str()).collect();
                        path.push(&open.name);
                        attrs.insert(path.join("."), open.text.trim().to_owned());
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            // Declarations, comments (BatchEuphoria's samples open with one), PIs, doctypes.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(parse_error(
            WHAT,
            format!(
                "the document ends inside <{}>",
                stack.last().map(|o| o.name.as_str()).unwrap_or("")
            ),
            None,
        ));
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_document_with_entities() {
        let xml = "<Data><Job><Job_Id>7.srv</Job_Id><Job_Name>a&amp;b&#33;</Job_Name>\
                   <Resource_List><walltime>01:00:00</walltime></Resource_List>\
                   <comment/></Job></Data>";
        let jobs = parse(xml).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].id.as_str(), "7.srv");
        assert_eq!(jobs[0].attributes["Job_Name"], "a&b!");
        assert_eq!(jobs[0].attributes["Resource_List.walltime"], "01:00:00");
        assert_eq!(jobs[0].attributes["comment"], "");
    }

    #[test]
    fn truncated_document_is_an_error() {
        assert!(parse("<Data><Job><Job_Id>7.srv</Job_Id>").is_err());
        assert!(parse("<Data><Job><Job_Name>x</Job_Name></Job></Data>").is_err());
    }

    #[test]
    fn empty_data_is_no_jobs() {
        assert!(parse("<Data></Data>").unwrap().is_empty());
        assert!(parse("<Data/>").unwrap().is_empty());
    }
}
