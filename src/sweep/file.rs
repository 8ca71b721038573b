//! Points files: a JSON array of objects, JSON lines, or CSV with a header row.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::SweepError;
use super::spec::{Point, check_name, number};

/// The formats [`load_points`] reads, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `.json`: one array of objects.
    Json,
    /// `.jsonl`, `.ndjson`: one object per line.
    JsonLines,
    /// `.csv`: a header row of names, then one point per row.
    Csv,
}

/// Reads the points of a sweep from `path`, in file order (indices from 0), by its extension:
///
/// - `.json`: a JSON array of objects, `[{"lr": 0.1, "seed": 1}, ...]`;
/// - `.jsonl` or `.ndjson`: one JSON object per line; blank lines are skipped;
/// - `.csv`: a header row of parameter names, then one point per row. Spaces around cells are
///   dropped; a cell that is a JSON number (`3`, `-0.5`, `1e-3`) or `true`/`false` becomes
///   that, anything else (`01`, `null`, `abc`, an empty cell) a string. Integers beyond 64 bits
///   stay strings, so long ids keep their digits. For other types, use JSON.
///
/// JSON values are kept as written (lists and objects too). Keys and column names must be
/// parameter names (`[A-Za-z_][A-Za-z0-9_]*`), every point names at least one, and the file
/// holds at least one point. Errors name the file and the line (the item of a JSON array).
pub fn load_points(path: impl AsRef<Path>) -> Result<Vec<Point>, SweepError> {
    let path = path.as_ref();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let format = match extension.as_deref() {
        Some("json") => Format::Json,
        Some("jsonl" | "ndjson") => Format::JsonLines,
        Some("csv") => Format::Csv,
        _ => {
            return Err(file_error(
                path,
                None,
                "not a known points file format (hint: name it .json for an array of \
                 objects, .jsonl or .ndjson for one object per line, .csv for a header row and \
                 one point per row)"
                    .into(),
            ));
        }
    };
    let text = std::fs::read_to_string(path).map_err(|source| SweepError::ReadPoints {
        path: path.to_owned(),
        source,
    })?;
    let points = match format {
        Format::Json => from_json(path, &text)?,
        Format::JsonLines => from_json_lines(path, &text)?,
        Format::Csv => from_csv(path, &text)?,
    };
    if points.is_empty() {
        return Err(file_error(
            path,
            None,
            "holds no points (hint: give at least one)".into(),
        ));
    }
    Ok(points)
}

fn file_error(path: &Path, at: Option<String>, why: String) -> SweepError {
    SweepError::PointsFile {
        path: PathBuf::from(path),
        at,
        why,
    }
}

/// serde_json's message without its `at line 1 column 5` (the caller says the line), and
/// `hint`.
fn json_why(e: &serde_json::Error, hint: &str) -> String {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    format!(
        "not valid JSON: {message} at column {} (hint: {hint})",
        e.column()
    )
}

/// What kind of JSON value `v` is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The point at `index` from one JSON value; `Err(why)` when it is not an object of
/// parameters.
fn point_from(index: usize, value: Value) -> Result<Point, String> {
    let Value::Object(params) = value else {
        return Err(format!(
            "not a JSON object but {} (hint: each point is an object of parameters, \
             {{\"lr\": 0.1, \"seed\": 1}})",
            kind(&value)
        ));
    };
    if params.is_empty() {
        return Err("an empty object (hint: each point names at least one parameter)".into());
    }
    for name in params.keys() {
        check_name(name)?;
    }
    Ok(Point::new(index, params))
}

fn from_json(path: &Path, text: &str) -> Result<Vec<Point>, SweepError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let why = json_why(&e, "a .json points file is one array of objects");
        file_error(path, Some(format!("line {}", e.line())), why)
    })?;
    let Value::Array(items) = value else {
        return Err(file_error(
            path,
            None,
            format!(
                "holds {}, not an array of points (hint: write [{{...}}, {{...}}], or one \
                 object per line in a .jsonl file)",
                kind(&value)
            ),
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            point_from(i, item)
                .map_err(|why| file_error(path, Some(format!("item {}", i + 1)), why))
        })
        .collect()
}

fn from_json_lines(path: &Path, text: &str) -> Result<Vec<Point>, SweepError> {
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || Some(format!("line {}", n + 1));
        let value: Value = serde_json::from_str(line).map_err(|e| {
            let why = json_why(&e, "each line of a .jsonl file is one object, or blank");
            file_error(path, at(), why)
        })?;
        let point = point_from(points.len(), value).map_err(|why| file_error(path, at(), why))?;
        points.push(point);
    }
    Ok(points)
}

fn from_csv(path: &Path, text: &str) -> Result<Vec<Point>, SweepError> {
    let csv_error = |e: csv::Error| {
        let at = e.position().map(|p| format!("line {}", p.line()));
        let why = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "{len} cell{}, but the header has {expected_len} (hint: give every row one \
                 cell per column; quote cells that hold commas)",
                if *len == 1 { "" } else { "s" }
            ),
            _ => format!("not valid CSV: {e}"),
        };
        file_error(path, at, why)
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(csv_error)?.clone();
    let mut seen = HashSet::new();
    for name in &header {
        check_name(name).map_err(|why| {
            file_error(path, Some("line 1".into()), format!("in the header: {why}"))
        })?;
        if !seen.insert(name) {
            return Err(file_error(
                path,
                Some("line 1".into()),
                format!("column {name:?} appears twice (hint: give each parameter one column)"),
            ));
        }
    }
    let mut points = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let params: Map<String, Value> = header
            .iter()
            .zip(&record)
            .map(|(name, cell)| (name.to_owned(), csv_cell(cell)))
            .collect();
        points.push(Point::new(points.len(), params));
    }
    Ok(points)
}

/// A CSV cell's value: a JSON number, `true`, `false`, or else the text.
fn csv_cell(cell: &str) -> Value {
    match cell {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => number(cell).unwrap_or_else(|| Value::String(cell.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_cells_are_numbers_booleans_or_text() {
        for (cell, value) in [
            ("3", json!(3)),
            ("-0.5", json!(-0.5)),
            ("1e-3", json!(0.001)),
            ("true", json!(true)),
            ("False", json!("False")),
            ("null", json!("null")),
            ("01", json!("01")),
            ("", json!("")),
            ("NaN", json!("NaN")),
            ("99999999999999999999", json!("99999999999999999999")),
        ] {
            assert_eq!(csv_cell(cell), value, "{cell:?}");
        }
    }
}
