//! `{name}` placeholders in a task's command and name, replaced by a point's values.

use std::ffi::OsStr;

use super::SweepError;
use super::spec::Point;
use crate::command::shell_quote;
use crate::task::TaskCommand;

/// `command` with every `{name}` replaced by the value of parameter `name` of `point`.
///
/// A value's text is a JSON string's own text (`abc`, not `"abc"`) or, for anything else, its
/// JSON text (`0.001`, `true`, `[1,2]`). `{{` and `}}` are literal `{` and `}`: a shell line's
/// `${HOME}` or `awk '{print $1}'` is written `${{HOME}}`, `awk '{{print $1}}'`.
///
/// - [`TaskCommand::Argv`]: the text goes into its word verbatim, and each word stays one word
///   (the job script quotes every word).
/// - [`TaskCommand::Shell`]: the text goes in as one shell-quoted word
///   ([`shell_quote`]), never as raw shell text, so a value `a b; rm -rf x` is one argument.
///   This holds inside a quoted region too: `echo "lr={lr}"` with `lr` = `a b` gives
///   `echo "lr='a b'"`, which prints the quotes. Let placeholders stand as whole words
///   (`--lr {lr}`, or `--lr={lr}`, which the shell joins into one word).
///
/// Errors: an unknown name (the error lists the point's names), a `{` without its `}`, a `}`
/// without its `{`, or a value holding a NUL byte (no program can receive one).
pub fn substitute(command: &TaskCommand, point: &Point) -> Result<TaskCommand, SweepError> {
    Ok(match command {
        TaskCommand::Argv(words) => TaskCommand::Argv(
            words
                .iter()
                .map(|word| render(word, point, |text| text.to_owned()))
                .collect::<Result<_, _>>()?,
        ),
        TaskCommand::Shell(line) => TaskCommand::Shell(render(line, point, |text| {
            String::from_utf8(shell_quote(OsStr::new(text)))
                .expect("quoting UTF-8 text adds only ASCII")
        })?),
    })
}

/// A task name from `template` (e.g. `train-{lr}-{seed}`): placeholders as in [`substitute`],
/// values as their verbatim text, then every character other than ASCII letters, digits and
/// `-_.+=` turned into `_`.
///
/// Task names may hold anything, but they are shown one per line in listings, matched by
/// `--after NAME`, and turned into task ids (only letters, digits and `_`, see
/// [`crate::task::new_task_id`]); names without spaces, slashes or quotes stay readable in all
/// of these. A name is part of a task's identity, so the same point always gets the same name.
pub fn substitute_str(template: &str, point: &Point) -> Result<String, SweepError> {
    render(template, point, |text| text.to_owned()).map(|name| sanitise(&name))
}

/// The default name of a point: `<sweep>-<index>`, e.g. `train-0`, `train-17` (the sweep name
/// sanitised as in [`substitute_str`]).
///
/// The index is not zero-padded: a name is part of a task's identity, and a width that grew
/// with the sweep (`train-7` -> `train-07` when a points file reaches 10 rows) would make
/// every point a new task. Points appended to a file keep the names, and so the identities,
/// of those before them. A grid that gains values renumbers its points, though: to re-run only
/// what is new, name points by their values (`train-{lr}-{seed}`).
pub fn point_name(sweep_name: &str, point: &Point) -> String {
    format!("{}-{}", sanitise(sweep_name), point.index())
}

/// `name` with characters outside `[A-Za-z0-9._+=-]` turned into `_`.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `template` with each `{name}` replaced by `insert(text of the value)`, `{{` by `{` and `}}`
/// by `}`.
fn render(
    template: &str,
    point: &Point,
    insert: impl Fn(&str) -> String,
) -> Result<String, SweepError> {
    let bad = |why: String| SweepError::BadTemplate {
        template: template.to_owned(),
        why,
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let brace = &rest[i..=i];
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix(brace) {
            out.push_str(brace);
            rest = after;
            continue;
        }
        if brace == "}" {
            return Err(bad(format!(
                "a `}}` at byte {} has no `{{` before it (hint: write `}}}}` for a literal `}}`)",
                template.len() - rest.len() + i
            )));
        }
        let Some(end) = after.find('}') else {
            return Err(bad(format!(
                "the `{{` at byte {} is not closed (hint: write `{{{{` for a literal `{{`)",
                template.len() - rest.len() + i
            )));
        };
        let name = &after[..end];
        let value = point
            .get(name)
            .ok_or_else(|| SweepError::UnknownPlaceholder {
                name: name.to_owned(),
                template: template.to_owned(),
                known: point.names().map(str::to_owned).collect(),
            })?;
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.contains('\0') {
            return Err(bad(format!(
                "the value of {{{name}}} holds a NUL byte, which no command can receive \
                 (hint: remove it from the sweep's values)"
            )));
        }
        out.push_str(&insert(&text));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point(args: serde_json::Value) -> Point {
        let serde_json::Value::Object(map) = args else {
            unreachable!()
        };
        Point::new(3, map)
    }

    #[test]
    fn braces_and_errors_point_at_the_fault() {
        let p = point(json!({"a": "x", "b": 2}));
        let r = |t: &str| render(t, &p, |s| s.to_owned());
        assert_eq!(r("{{a}}={a}{b}").unwrap(), "{a}=x2");
        assert_eq!(r("{{{a}}}").unwrap(), "{x}");
        assert_eq!(r("").unwrap(), "");
        let err = r("ab}c").unwrap_err().to_string();
        assert!(err.contains("`}` at byte 2 has no `{`"), "{err}");
        let err = r("{a}{b").unwrap_err().to_string();
        assert!(err.contains("`{` at byte 3 is not closed"), "{err}");
        let err = r("{}").unwrap_err().to_string();
        assert!(err.contains("unknown placeholder {}"), "{err}");
    }

    #[test]
    fn names_are_sanitised() {
        let p = point(json!({"lr": 0.001, "tag": "a b/c'd", "x": "ü"}));
        assert_eq!(
            substitute_str("t-{lr}-{tag}-{x}", &p).unwrap(),
            "t-0.001-a_b_c_d-_"
        );
        assert_eq!(point_name("my sweep", &p), "my_sweep-3");
    }
}
