//! The settings of failure analysis: which lines of a task's logs are error lines, which of
//! those are known noise, and whether error lines fail a task.
//!
//! The same four keys are accepted on a system, on a profile and on a task (a
//! [`TaskSpec`](crate::task::TaskSpec) field), and [`ErrorRules::then`] layers them: lists add
//! up (a site's whitelist and a task's own both apply), a scalar set at a more specific level
//! wins. The scanner that applies them is [`crate::analysis`]; this module only holds and
//! checks them, so the config layer can reject a bad pattern at load.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// How many whitelist words must match a line by default (housekeeper's default).
pub const DEFAULT_WHITELIST_THRESHOLD: u32 = 3;

/// Failure analysis settings of one level (system, profile or task). Every part is optional:
/// [`ErrorRules::default`] adds nothing to the level below.
///
/// ```json
/// "error_patterns": ["^CRITICAL:", "my_app .* crashed"],
/// "error_whitelist": ["Leap second table TAI_UTC seems out-of-date", "WARN"],
/// "whitelist_threshold": 3,
/// "error_lines_fail": true
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRules {
    /// Regular expressions (Rust `regex` syntax, case-insensitive unless the pattern says
    /// `(?-i)`) that mark a log line as an error line, on top of the default patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_patterns: Vec<String>,
    /// Whitelist entries: an error line that shares enough words with one of them is noise,
    /// not an error (see [`crate::analysis`] for the rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_whitelist: Vec<String>,
    /// How many of an entry's words must appear in a line to whitelist it (at least 1); `None`
    /// leaves it to the level below, [`DEFAULT_WHITELIST_THRESHOLD`] at the bottom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist_threshold: Option<u32>,
    /// True: a task whose logs hold error lines (after the whitelist) fails even when its
    /// command exited 0. `None` leaves it to the level below, false at the bottom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_lines_fail: Option<bool>,
}

impl ErrorRules {
    /// True when this level sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == ErrorRules::default()
    }

    /// These rules with `over` (a more specific level) on top: patterns and whitelist
    /// entries of both (these first), `over`'s threshold and `error_lines_fail` where set.
    pub fn then(&self, over: &ErrorRules) -> ErrorRules {
        let joined = |a: &[String], b: &[String]| {
            let mut all = a.to_vec();
            all.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            all
        };
        ErrorRules {
            error_patterns: joined(&self.error_patterns, &over.error_patterns),
            error_whitelist: joined(&self.error_whitelist, &over.error_whitelist),
            whitelist_threshold: over.whitelist_threshold.or(self.whitelist_threshold),
            error_lines_fail: over.error_lines_fail.or(self.error_lines_fail),
        }
    }

    /// The threshold in force: the one set, else [`DEFAULT_WHITELIST_THRESHOLD`].
    pub fn threshold(&self) -> u32 {
        self.whitelist_threshold
            .unwrap_or(DEFAULT_WHITELIST_THRESHOLD)
    }

    /// Whether error lines fail the task: the setting, else false.
    pub fn lines_fail(&self) -> bool {
        self.error_lines_fail.unwrap_or(false)
    }

    /// The first setting that cannot be used, as (key, index in its list, why): a pattern
    /// that is not a valid regex, or a threshold of 0.
    pub fn problem(&self) -> Option<(&'static str, Option<usize>, String)> {
        for (i, pattern) in self.error_patterns.iter().enumerate() {
            if let Err(e) = compile_pattern(pattern) {
                return Some(("error_patterns", Some(i), pattern_error_text(&e)));
            }
        }
        if self.whitelist_threshold == Some(0) {
            return Some((
                "whitelist_threshold",
                None,
                "a threshold of 0 would whitelist every line (hint: 1 or more; 3 is \
                 housekeeper's default)"
                    .to_owned(),
            ));
        }
        None
    }
}

/// One line for a regex error: its last line (`unclosed group`), without the caret diagram
/// the regex crate draws over several lines.
pub fn pattern_error_text(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

/// A user's error pattern as the scanner runs it: case-insensitive, size-limited (a pattern
/// is text from a config file or a task, and must not blow up memory).
pub fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_add_lists_and_override_scalars() {
        let system = ErrorRules {
            error_patterns: vec!["a".into()],
            error_whitelist: vec!["site noise".into()],
            whitelist_threshold: Some(2),
            error_lines_fail: Some(true),
        };
        let task = ErrorRules {
            error_patterns: vec!["b".into(), "a".into()],
            whitelist_threshold: Some(4),
            ..ErrorRules::default()
        };
        let merged = system.then(&task);
        assert_eq!(merged.error_patterns, ["a", "b"]);
        assert_eq!(merged.error_whitelist, ["site noise"]);
        assert_eq!(merged.threshold(), 4);
        assert!(merged.lines_fail(), "not set by the task: the system's");
        assert_eq!(ErrorRules::default().threshold(), 3);
        assert!(!ErrorRules::default().lines_fail());
    }

    #[test]
    fn problems_name_the_setting() {
        let bad = ErrorRules {
            error_patterns: vec!["ok".into(), "(unclosed".into()],
            ..ErrorRules::default()
        };
        let (key, index, why) = bad.problem().unwrap();
        assert_eq!((key, index), ("error_patterns", Some(1)));
        assert_eq!(why, "unclosed group");
        let zero = ErrorRules {
            whitelist_threshold: Some(0),
            ..ErrorRules::default()
        };
        assert_eq!(zero.problem().unwrap().0, "whitelist_threshold");
        assert!(ErrorRules::default().problem().is_none());
        assert!(compile_pattern("ERROR").unwrap().is_match("an error here"));
        assert!(
            !compile_pattern("(?-i)ERROR")
                .unwrap()
                .is_match("an error here")
        );
    }
}
