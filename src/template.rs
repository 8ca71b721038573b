//! The header template language: Python `str.format`-style `{key}` with `{{`/`}}` literal braces.
//!
//! A system's `header` lines (and its partitions', the caller's, the scheduler's defaults and
//! `EXPYRE_HEADER_EXTRA`'s) are templates such as `#SBATCH --nodes={num_nodes}`. This module
//! renders one line, or a list of lines, against [`HeaderVars`]: the values a
//! [`NodeAllocation`] and a job id give. It does no I/O; [`crate::scheduler::script`] decides
//! which lines go where.
//!
//! # The language
//!
//! - `{key}` is replaced by the key's value; `{{` and `}}` are a literal `{` and `}`. A lone
//!   `{` or `}` is an error, as in Python.
//! - Keys ([`HeaderVars::KEYS`]): `num_nodes`, `num_cores`, `num_cores_per_node`, `id`,
//!   `max_time` (`H:MM:SS`, hours unpadded), `partition`, `queue` (= `partition`), and the
//!   older ExPyRe names `nnodes`, `tot_ncores`, `ncores_per_node`, `tot_ntasks`
//!   (= `num_cores / ncores_per_task`), `ncores_per_task`, `ntasks_per_node`
//!   (= `num_cores_per_node / ncores_per_task`), `max_time_HMS` (= `max_time`), and xpr's
//!   `max_time_minutes` (whole minutes, rounded up: LSF's `-W` takes `[H:]M`, not `H:MM:SS`).
//! - xpr's resource keys: `max_mem_tot`, `max_mem_per_core` and `mem_per_node`, integers in
//!   kB (ExPyRe's memory unit: an integer is kB, `1k` = 1024 bytes), so a line appends the
//!   scheduler's kB suffix: `#SBATCH --mem={mem_per_node}K`, `mem={mem_per_node}kb` (PBS),
//!   `h_vmem={max_mem_per_core}K` (Grid Engine), `rusage[mem={mem_per_node}KB]` (LSF). The
//!   request gives one of them (`--mem`, `--mem-per-core`, or the older per-task form); the
//!   others follow from the node counts, shares rounded up ([`MemShares`]). `gpus` is the GPUs
//!   per node asked (`--gpus`), `num_gpus` the job's total (`gpus * num_nodes`), `account` the
//!   account named (`--account`).
//! - An unknown key is an error that names the key, suggests the nearest known one and lists
//!   them all.
//! - Every rendered line is right-stripped (ExPyRe strips each header line).
//!
//! # Format specs
//!
//! The common part of Python's format-spec mini-language is supported, with Python's results:
//! `[[fill]align][sign][0][width][.precision][type]` where `align` is `<`, `>`, `^` or `=`
//! (`=` numbers only), `sign` is `+`, `-` or space (numbers only), `.precision` truncates
//! strings (strings only), and `type` is `d` (numbers) or `s` (strings). So `{num_nodes:03d}`
//! gives `002`, `{id:>12}` right-aligns the id, `{num_cores:d}` is plain. Everything else
//! (`#`, `,`/`_` grouping, `z`, other types such as `x` or `f`, `!r`/`!s` conversions,
//! attribute or index access `{a.b}` / `{a[0]}`, positional `{}` / `{0}`, nested `{a:{b}}`)
//! is refused with an error saying so, rather than rendered differently from Python.
//!
//! # Keys without a value
//!
//! A request without a time limit has no `max_time`: a line using `{max_time}` or
//! `{max_time_HMS}` then fails with [`TemplateErrorKind::NoValue`], whose hint is to give a
//! time (`--max-time`). The same holds for the memory keys when the request asks for no
//! memory, `{gpus}`/`{num_gpus}` without GPUs and `{account}` without an account: a line of
//! the user's that uses them is an error naming the key and the line, never rendered with a
//! guess. (The script assembler leaves out *xpr's own* lines failing this way, so that the
//! scheduler applies its own default; see [`crate::scheduler::script`].)

use std::fmt;

use crate::resources::{MemShares, NodeAllocation, format_hms};

/// The value of one template key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateValue {
    /// A whole number (node and core counts).
    Int(u64),
    /// Text (the job id, the partition, the time).
    Str(String),
    /// The key exists but has no value for this job; the text says how to give it one.
    Missing {
        /// What the user can do, e.g. `give the job a time limit (--max-time)`.
        hint: &'static str,
    },
}

/// The values of every template key for one job: built from its [`NodeAllocation`] and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderVars {
    values: Vec<(&'static str, TemplateValue)>,
}

impl HeaderVars {
    /// Every key a template may use, current names first, then ExPyRe's older names, then
    /// xpr's own.
    pub const KEYS: [&'static str; 22] = [
        "num_nodes",
        "num_cores",
        "num_cores_per_node",
        "id",
        "job_name",
        "max_time",
        "partition",
        "queue",
        "nnodes",
        "tot_ncores",
        "ncores_per_node",
        "tot_ntasks",
        "ncores_per_task",
        "ntasks_per_node",
        "max_time_HMS",
        "max_time_minutes",
        "max_mem_tot",
        "max_mem_per_core",
        "mem_per_node",
        "gpus",
        "num_gpus",
        "account",
    ];

    /// The job's name for the scheduler, `{job_name}`: the id unless set here (a system's
    /// `job_name_prefix` before it).
    pub fn with_job_name(mut self, name: &str) -> Self {
        if let Some(slot) = self.values.iter_mut().find(|(k, _)| *k == "job_name") {
            slot.1 = TemplateValue::Str(name.to_owned());
        }
        self
    }

    /// The values for a job `id` placed as `alloc` says.
    ///
    /// A `ncores_per_task` of 0 (an allocation built by hand) is taken as 1, so the task
    /// counts never divide by zero.
    pub fn new(alloc: &NodeAllocation, id: &str) -> Self {
        let per_task = u64::from(alloc.ncores_per_task.max(1));
        let nodes = u64::from(alloc.num_nodes);
        let cores = u64::from(alloc.num_cores);
        let cores_per_node = u64::from(alloc.num_cores_per_node);
        let time = match alloc.max_time {
            Some(seconds) => TemplateValue::Str(format_hms(seconds)),
            None => TemplateValue::Missing {
                hint: "the request has no time limit; give one (e.g. `--max-time 1h`)",
            },
        };
        let minutes = match alloc.max_time {
            Some(seconds) => TemplateValue::Int(seconds.div_ceil(60)),
            None => time.clone(),
        };
        let partition = TemplateValue::Str(alloc.scheduler_partition.clone());
        let mem = |share: fn(&MemShares) -> u64| match alloc.mem_shares() {
            Some(shares) => TemplateValue::Int(share(&shares)),
            None => TemplateValue::Missing {
                hint: "the request asks for no memory; give some (e.g. `--mem 4GB` or \
                       `--mem-per-core 2GB`)",
            },
        };
        let gpus = |total: bool| match alloc.gpus {
            Some(n) if total => TemplateValue::Int(u64::from(n) * nodes),
            Some(n) => TemplateValue::Int(u64::from(n)),
            None => TemplateValue::Missing {
                hint: "the request asks for no GPUs; give some (e.g. `--gpus 1`)",
            },
        };
        let account = match &alloc.account {
            Some(name) => TemplateValue::Str(name.clone()),
            None => TemplateValue::Missing {
                hint: "the request names no account; give one (e.g. `--account e89`)",
            },
        };
        let values = vec![
            ("num_nodes", TemplateValue::Int(nodes)),
            ("num_cores", TemplateValue::Int(cores)),
            ("num_cores_per_node", TemplateValue::Int(cores_per_node)),
            ("id", TemplateValue::Str(id.to_owned())),
            ("job_name", TemplateValue::Str(id.to_owned())),
            ("max_time", time.clone()),
            ("partition", partition.clone()),
            ("queue", partition),
            ("nnodes", TemplateValue::Int(nodes)),
            ("tot_ncores", TemplateValue::Int(cores)),
            ("ncores_per_node", TemplateValue::Int(cores_per_node)),
            ("tot_ntasks", TemplateValue::Int(cores / per_task)),
            ("ncores_per_task", TemplateValue::Int(per_task)),
            (
                "ntasks_per_node",
                TemplateValue::Int(cores_per_node / per_task),
            ),
            ("max_time_HMS", time),
            ("max_time_minutes", minutes),
            ("max_mem_tot", mem(|m| m.total)),
            ("max_mem_per_core", mem(|m| m.per_core)),
            ("mem_per_node", mem(|m| m.per_node)),
            ("gpus", gpus(false)),
            ("num_gpus", gpus(true)),
            ("account", account),
        ];
        debug_assert!(values.iter().map(|(k, _)| *k).eq(Self::KEYS));
        Self { values }
    }

    /// The value of `key`, or `None` for a key the language does not know.
    pub fn get(&self, key: &str) -> Option<&TemplateValue> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every key with its value, in [`HeaderVars::KEYS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &TemplateValue)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }
}

/// A template line that does not render: which line, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template line {line_no} {line:?}: {kind}")]
pub struct TemplateError {
    /// 1-based number of the line in the list it came from.
    pub line_no: usize,
    /// The line as written.
    pub line: String,
    /// What is wrong with it.
    pub kind: TemplateErrorKind,
}

/// What is wrong with a template line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// `{key}` names no known key.
    #[error(
        "unknown key `{key}`{} (known keys: {})",
        suggestion_text(.suggestion),
        HeaderVars::KEYS.join(", ")
    )]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The nearest known key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A `{` with no `}` after it.
    #[error("unbalanced `{{` at column {column} (hint: write `{{{{` for a literal brace)")]
    UnclosedBrace {
        /// 1-based character column of the `{`.
        column: usize,
    },
    /// A `}` that closes nothing.
    #[error("unbalanced `}}` at column {column} (hint: write `}}}}` for a literal brace)")]
    StrayCloseBrace {
        /// 1-based character column of the `}`.
        column: usize,
    },
    /// `{}` or `{0}`: there are no positional arguments.
    #[error("positional field `{{{field}}}` (hint: name a key, e.g. `{{num_nodes}}`)")]
    Positional {
        /// The field as written (empty or digits).
        field: String,
    },
    /// `{a.b}` or `{a[0]}`.
    #[error("attribute or index access `{{{field}}}` is not supported (hint: use a plain key)")]
    FieldAccess {
        /// The field as written.
        field: String,
    },
    /// `{a!r}`.
    #[error("conversion `!{conversion}` in `{{{field}}}` is not supported (hint: drop it)")]
    Conversion {
        /// The field as written before the `!`.
        field: String,
        /// The conversion letter(s).
        conversion: String,
    },
    /// `{a:{b}}`.
    #[error("nested fields are not supported (hint: write the width or fill literally)")]
    NestedField,
    /// A format spec this language does not support, or that does not fit the value.
    #[error("format spec `{spec}` of `{key}`: {why}")]
    BadSpec {
        /// The key formatted.
        key: String,
        /// The spec as written (after the `:`).
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// The key has no value for this job (`{max_time}` without a time limit).
    #[error("`{{{key}}}` has no value: {hint}")]
    NoValue {
        /// The key used.
        key: String,
        /// What the user can do about it.
        hint: &'static str,
    },
    /// A text value holds a line break or other control character, which would break the
    /// header into lines the scheduler reads as separate directives.
    #[error("the value of `{key}` ({value:?}) holds a control character")]
    ControlCharInValue {
        /// The key used.
        key: String,
        /// Its value.
        value: String,
    },
}

fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// Renders a list of template lines; the first failing line is the error (1-based number).
pub fn render_lines<S: AsRef<str>>(
    lines: &[S],
    vars: &HeaderVars,
) -> Result<Vec<String>, TemplateError> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            render_line(line.as_ref(), vars).map_err(|kind| TemplateError {
                line_no: i + 1,
                line: line.as_ref().to_owned(),
                kind,
            })
        })
        .collect()
}

/// Renders one template line and right-strips the result.
pub fn render_line(line: &str, vars: &HeaderVars) -> Result<String, TemplateErrorKind> {
    render_line_using(line, vars, &mut Vec::new())
}

/// [`render_line`], also pushing onto `used` each key the line formats (on success and on
/// error alike: the caller only looks at lines that rendered).
pub fn render_line_using(
    line: &str,
    vars: &HeaderVars,
    used: &mut Vec<&'static str>,
) -> Result<String, TemplateErrorKind> {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                chars.next();
                out.push('}');
            }
            '}' => {
                return Err(TemplateErrorKind::StrayCloseBrace {
                    column: column(line, pos),
                });
            }
            '{' => {
                let start = pos + 1;
                let Some(len) = line[start..].find('}') else {
                    return Err(TemplateErrorKind::UnclosedBrace {
                        column: column(line, pos),
                    });
                };
                let field = &line[start..start + len];
                out.push_str(&render_field(field, vars, used)?);
                // Skip the field's characters and its closing brace.
                while chars.next_if(|&(p, _)| p <= start + len).is_some() {}
            }
            c => out.push(c),
        }
    }
    out.truncate(out.trim_end().len());
    Ok(out)
}

/// The 1-based character column of byte offset `pos`.
fn column(line: &str, pos: usize) -> usize {
    line[..pos].chars().count() + 1
}

/// Renders the inside of one `{...}` field.
fn render_field(
    field: &str,
    vars: &HeaderVars,
    used: &mut Vec<&'static str>,
) -> Result<String, TemplateErrorKind> {
    if field.contains('{') {
        return Err(TemplateErrorKind::NestedField);
    }
    let (name_part, spec) = match field.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (field, None),
    };
    let name = match name_part.split_once('!') {
        Some((n, conversion)) => {
            return Err(TemplateErrorKind::Conversion {
                field: n.to_owned(),
                conversion: conversion.to_owned(),
            });
        }
        None => name_part,
    };
    if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TemplateErrorKind::Positional {
            field: name.to_owned(),
        });
    }
    if name.contains(['.', '[']) {
        return Err(TemplateErrorKind::FieldAccess {
            field: name.to_owned(),
        });
    }
    let (key, value) = vars
        .values
        .iter()
        .find(|(k, _)| *k == name)
        .ok_or_else(|| TemplateErrorKind::UnknownKey {
            key: name.to_owned(),
            suggestion: suggest(name),
        })?;
    used.push(key);
    let spec_err = |why: &str| TemplateErrorKind::BadSpec {
        key: name.to_owned(),
        spec: spec.unwrap_or_default().to_owned(),
        why: why.to_owned(),
    };
    let parsed = match spec {
        Some(s) => FormatSpec::parse(s).map_err(|why| spec_err(&why))?,
        None => FormatSpec::default(),
    };
    match value {
        TemplateValue::Int(n) => parsed.format_int(*n).map_err(|why| spec_err(&why)),
        TemplateValue::Str(s) => {
            if s.chars().any(char::is_control) {
                return Err(TemplateErrorKind::ControlCharInValue {
                    key: name.to_owned(),
                    value: s.clone(),
                });
            }
            parsed.format_str(s).map_err(|why| spec_err(&why))
        }
        TemplateValue::Missing { hint } => Err(TemplateErrorKind::NoValue {
            key: name.to_owned(),
            hint,
        }),
    }
}

/// The known key nearest to `key` (case-insensitive edit distance at most 2), if any.
fn suggest(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    HeaderVars::KEYS
        .iter()
        .map(|k| (edit_distance(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev_diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j] + 1).min(row[j + 1] + 1).min(prev_diag + cost);
            prev_diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Alignment of a padded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Right,
    Center,
    /// Padding between the sign and the digits (numbers only).
    AfterSign,
}

/// The supported subset of Python's format-spec mini-language.
#[derive(Clone, Debug, Default)]
struct FormatSpec {
    fill: Option<char>,
    align: Option<Align>,
    sign: Option<char>,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    ty: Option<char>,
}

impl FormatSpec {
    /// Parses `[[fill]align][sign][0][width][.precision][type]`.
    fn parse(spec: &str) -> Result<Self, String> {
        let chars: Vec<char> = spec.chars().collect();
        let mut out = Self::default();
        let mut i = 0;
        let align_of = |c: char| match c {
            '<' => Some(Align::Left),
            '>' => Some(Align::Right),
            '^' => Some(Align::Center),
            '=' => Some(Align::AfterSign),
            _ => None,
        };
        if let Some(a) = chars.get(1).copied().and_then(align_of) {
            out.fill = Some(chars[0]);
            out.align = Some(a);
            i = 2;
        } else if let Some(a) = chars.first().copied().and_then(align_of) {
            out.align = Some(a);
            i = 1;
        }
        if let Some(&c @ ('+' | '-' | ' ')) = chars.get(i) {
            out.sign = Some(c);
            i += 1;
        }
        match chars.get(i) {
            Some('z') => return Err("the `z` option is not supported".into()),
            Some('#') => return Err("the `#` alternate form is not supported".into()),
            _ => {}
        }
        if chars.get(i) == Some(&'0') {
            out.zero = true;
            i += 1;
        }
        let digits = |i: &mut usize| {
            let start = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            let text: String = chars[start..*i].iter().collect();
            text.parse::<usize>().ok()
        };
        out.width = digits(&mut i).unwrap_or(0);
        if out.width > 1000 {
            return Err("width above 1000".into());
        }
        if let Some(',' | '_') = chars.get(i) {
            return Err("digit grouping (`,` or `_`) is not supported".into());
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            out.precision =
                Some(digits(&mut i).ok_or_else(|| "expected digits after `.`".to_string())?);
        }
        match chars.get(i) {
            None => {}
            Some(&c @ ('d' | 's')) => {
                out.ty = Some(c);
                i += 1;
            }
            Some(c) => {
                return Err(format!(
                    "type `{c}` is not supported (hint: use `d` for numbers, `s` for text, or none)"
                ));
            }
        }
        if i != chars.len() {
            return Err("unexpected characters at the end (supported: \
                        `[[fill]align][sign][0][width][.precision][d|s]`)"
                .into());
        }
        Ok(out)
    }

    fn format_int(&self, n: u64) -> Result<String, String> {
        if self.precision.is_some() {
            return Err("precision is not allowed for a number".into());
        }
        if self.ty == Some('s') {
            return Err("type `s` is for text, not a number (hint: use `d`)".into());
        }
        let sign = match self.sign {
            Some('+') => "+",
            Some(' ') => " ",
            _ => "",
        };
        let (fill, align) = self.fill_align(Align::Right);
        Ok(pad(sign, &n.to_string(), fill, align, self.width))
    }

    fn format_str(&self, s: &str) -> Result<String, String> {
        if self.sign.is_some() {
            return Err("a sign is not allowed for text".into());
        }
        if self.align == Some(Align::AfterSign) {
            return Err("`=` alignment is not allowed for text".into());
        }
        if self.ty == Some('d') {
            return Err("type `d` is for numbers, not text (hint: use `s` or none)".into());
        }
        let text: String = match self.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_owned(),
        };
        let (fill, align) = self.fill_align(Align::Left);
        Ok(pad("", &text, fill, align, self.width))
    }

    /// The fill and alignment with Python's defaults: `0` means fill `0` (and, for numbers,
    /// padding after the sign) unless given explicitly.
    fn fill_align(&self, default_align: Align) -> (char, Align) {
        let fill = self.fill.unwrap_or(if self.zero { '0' } else { ' ' });
        let align = self
            .align
            .unwrap_or(if self.zero && default_align == Align::Right {
                Align::AfterSign
            } else {
                default_align
            });
        (fill, align)
    }
}

/// Pads `sign` + `body` to `width` characters.
fn pad(sign: &str, body: &str, fill: char, align: Align, width: usize) -> String {
    let len = sign.chars().count() + body.chars().count();
    let missing = width.saturating_sub(len);
    let fills = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    match align {
        Align::Left => format!("{sign}{body}{}", fills(missing)),
        Align::Right => format!("{}{sign}{body}", fills(missing)),
        Align::Center => format!(
            "{}{sign}{body}{}",
            fills(missing / 2),
            fills(missing - missing / 2)
        ),
        Align::AfterSign => format!("{sign}{}{body}", fills(missing)),
    }
}

impl fmt::Display for TemplateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Str(s) => f.write_str(s),
            Self::Missing { .. } => f.write_str("(none)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("nodes", "nodes"), 0);
        assert_eq!(edit_distance("num_node", "num_nodes"), 1);
        assert_eq!(edit_distance("abc", "xyz"), 3);
    }
}
