//! Time and memory units, spelled exactly as ExPyRe accepts them.
//!
//! Times are whole seconds and memory sizes whole kB (binary: 1 MB = 1024 kB), as in ExPyRe's
//! `config.json` and resource dicts. The accepted spellings are ExPyRe's, no more and no less,
//! so that a config that works there works here and one that fails there fails here:
//!
//! - time: a JSON integer is seconds; a string is stripped and lower-cased, then `_none_` (no
//!   limit), `<number>[ ]<s|m|h|d>` with an optional decimal fraction (truncated to whole
//!   seconds), or `[D-][[H:]M:]S` with any number of digits in each part;
//! - memory: a JSON integer is kB; a string is stripped and lower-cased, then `_none_` (not
//!   given) or `<number>[ ]<k|m|g|t>[b]` with an optional decimal fraction (truncated to whole
//!   kB). A bare number in a string is an error: it is ambiguous.
//!
//! Signs, exponents, `inf`/`nan` and mixed units (`1h1s`) are errors. Values that overflow a
//! `u64` are errors rather than silently wrapping.
//!
//! This module imports nothing of xpr: both the config (`max_time`, `max_mem`) and resource
//! requests read their units here. [`crate::resources`] re-exports it under its old path.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// A unit string (or JSON value) that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {what} {value:?}: {why}")]
pub struct UnitError {
    /// `"time"` or `"memory"`.
    pub what: &'static str,
    /// The text as given (for a JSON value, its JSON text).
    pub value: String,
    /// What is wrong and what is accepted.
    pub why: String,
}

const TIME_HINT: &str = "(hint: use seconds, `30m`, `4h`, `2d`, `HH:MM:SS` or `D-HH:MM:SS`)";
const MEM_HINT: &str = "(hint: write a unit, e.g. `500MB`, `4GB`, `1TB`, or a JSON integer in kB)";

fn time_error(value: impl Into<String>, why: &str) -> UnitError {
    UnitError {
        what: "time",
        value: value.into(),
        why: format!("{why} {TIME_HINT}"),
    }
}

fn mem_error(value: impl Into<String>, why: &str) -> UnitError {
    UnitError {
        what: "memory",
        value: value.into(),
        why: format!("{why} {MEM_HINT}"),
    }
}

// ExPyRe's own patterns (`units.py`), applied to the stripped, lower-cased text. Only ASCII
// digits: Python's `[0-9]` is ASCII too.
static TIME_WITH_UNIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]+(?:\.[0-9]*)?)\s*([smhd])$").expect("valid regex"));
static TIME_CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:([0-9]+)-)?((?:[0-9]+:){0,2}[0-9]+)$").expect("valid regex"));
static MEM_WITH_UNIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]+(?:\.[0-9]*)?)\s*([kmgt])b?$").expect("valid regex"));

/// `number * scale`, truncated to a whole number like Python's `int(float)`; `None` when the
/// result does not fit a `u64`.
fn scaled(number: &str, scale: f64) -> Option<u64> {
    // The regexps admit only `digits[.digits]`, which Rust's float parser accepts (`"5."` too).
    let value = number.parse::<f64>().ok()? * scale;
    // 2^64 exactly; anything at or above it does not fit.
    (value.is_finite() && value < 18_446_744_073_709_551_616.0).then_some(value as u64)
}

/// Parses a time: `_none_` is no limit, `<float>[ ]<s|m|h|d>`, or `[D-]HH:MM:SS` with leading
/// parts optional (`'5'` = 5 s, `'10:10'` = 610 s, `'3-2:10:10'` = 267010 s, `'30m'` = 1800 s).
///
/// Fractions are truncated to whole seconds, as ExPyRe does (`'1.5s'` = 1 s).
pub fn parse_time(text: &str) -> Result<Option<u64>, UnitError> {
    let t = text.trim().to_lowercase();
    if t == "_none_" {
        return Ok(None);
    }
    if let Some(caps) = TIME_WITH_UNIT.captures(&t) {
        let scale = match &caps[2] {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => 86400.0,
        };
        return scaled(&caps[1], scale)
            .map(Some)
            .ok_or_else(|| time_error(text, "too large"));
    }
    if let Some(caps) = TIME_CLOCK.captures(&t) {
        let too_large = || time_error(text, "too large");
        let mut seconds: u64 = 0;
        for part in caps[2].split(':') {
            let v: u64 = part.parse().map_err(|_| too_large())?;
            seconds = seconds
                .checked_mul(60)
                .and_then(|s| s.checked_add(v))
                .ok_or_else(too_large)?;
        }
        if let Some(days) = caps.get(1) {
            let days: u64 = days.as_str().parse().map_err(|_| too_large())?;
            seconds = days
                .checked_mul(86400)
                .and_then(|d| d.checked_add(seconds))
                .ok_or_else(too_large)?;
        }
        return Ok(Some(seconds));
    }
    Err(time_error(
        text,
        "expected one number with one unit s, m, h or d, or [D-][[H:]M:]S",
    ))
}

/// Parses a memory size to kB: `<float>[ ]<k|m|g|t>[b]`, any case, binary multiples
/// (`'5kB'` = `'5k'` = 5, `'5MB'` = 5120, `'5GB'` = 5·1024²). Fractions are truncated to whole
/// kB, as ExPyRe does.
///
/// A bare number in a string is an error (it is ambiguous); integers in JSON are kB and go
/// through [`mem_from_json`]. `_none_` (ExPyRe's "not given") is only accepted there, since
/// this function has no way to say "none".
pub fn parse_mem(text: &str) -> Result<u64, UnitError> {
    let t = text.trim().to_lowercase();
    if let Some(caps) = MEM_WITH_UNIT.captures(&t) {
        let scale = match &caps[2] {
            "k" => 1.0,
            "m" => 1024.0,
            "g" => 1024.0 * 1024.0,
            _ => 1024.0 * 1024.0 * 1024.0,
        };
        return scaled(&caps[1], scale).ok_or_else(|| mem_error(text, "too large"));
    }
    if t == "_none_" {
        return Err(mem_error(
            text,
            "`_none_` means \"not given\" and has no size here",
        ));
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(mem_error(text, "a number in a string needs a unit"));
    }
    Err(mem_error(
        text,
        "expected one number with one unit k, m, g or t, optionally followed by b",
    ))
}

/// Reads a time from a JSON value: an integer is seconds, a string goes through
/// [`parse_time`], `null` is no limit.
pub fn time_from_json(value: &Value) -> Result<Option<u64>, UnitError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => parse_time(s),
        Value::Number(n) => match n.as_u64() {
            Some(seconds) => Ok(Some(seconds)),
            None => Err(time_error(
                n.to_string(),
                "a number must be a whole, non-negative count of seconds",
            )),
        },
        other => Err(time_error(
            other.to_string(),
            "expected an integer, a string or null",
        )),
    }
}

/// Reads a memory size from a JSON value: an integer is kB, a string goes through
/// [`parse_mem`] (or is `_none_`), `null` is not given.
pub fn mem_from_json(value: &Value) -> Result<Option<u64>, UnitError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().eq_ignore_ascii_case("_none_") => Ok(None),
        Value::String(s) => parse_mem(s).map(Some),
        Value::Number(n) => match n.as_u64() {
            Some(kb) => Ok(Some(kb)),
            None => Err(mem_error(
                n.to_string(),
                "a number must be a whole, non-negative count of kB",
            )),
        },
        other => Err(mem_error(
            other.to_string(),
            "expected an integer, a string or null",
        )),
    }
}

/// Formats seconds as `H:MM:SS`, hours unpadded and unbounded (`49:00:10`), as header
/// templates' `{max_time}` expects.
pub fn format_hms(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

/// Formats a size in kB for people (`60.0 GiB`): binary units, as the config's are.
pub fn format_mem(kb: u64) -> String {
    bytesize::ByteSize::kib(kb).display().iec().to_string()
}

/// Formats a size in kB as a string [`parse_mem`] reads back to the same value, in the largest
/// unit that divides it exactly (`5242880` -> `"5GB"`, `1500` -> `"1500kB"`).
pub fn format_mem_exact(kb: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "TB"), (1 << 20, "GB"), (1 << 10, "MB")];
    for (scale, unit) in UNITS {
        if kb != 0 && kb.is_multiple_of(scale) {
            return format!("{}{unit}", kb / scale);
        }
    }
    format!("{kb}kB")
}
