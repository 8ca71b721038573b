//! Failure analysis: the error lines of a task's logs, found by patterns, minus known noise.
//!
//! An [`ErrorScanner`] is made from the [`ErrorRules`] in force for a task (the system's, a
//! profile's and the task's own, layered with [`ErrorRules::then`]). It reads logs line by
//! line and keeps a line when
//!
//! 1. it matches one of the [`DEFAULT_ERROR_PATTERNS`] or the user's `error_patterns`
//!    (regular expressions, case-insensitive), and
//! 2. no `error_whitelist` entry whitelists it.
//!
//! # The whitelist rule (housekeeper's)
//!
//! A line and an entry are compared as sets of words: split at white space, lower-cased,
//! with punctuation trimmed from both ends of each word (`"UserWarning:"` is `userwarning`,
//! `out-of-date` stays whole). An entry whitelists a line when at least `whitelist_threshold`
//! (default 3) of its distinct words are among the line's words. Housekeeper's example:
//! the line `UserWarning: Leap second table TAI_UTC seems out-of-date` shares 6 words with
//! the entry `Leap second table TAI_UTC seems out-of-date`, 6 >= 3, so it is noise.
//!
//! One difference, on purpose: an entry with fewer distinct words than the threshold
//! whitelists a line that holds all of them. Housekeeper's own example whitelist has
//! one-word entries (`WARN`, `FutureWarning`) that its rule, with its default threshold of 3,
//! could never match; here they do what they say. An entry without words matches nothing.
//!
//! # Bounds
//!
//! A log may be gigabytes. [`ScanLimits`] bounds the work: only the last
//! [`max_log_bytes`](ScanLimits::max_log_bytes) of each file are read (its line numbers are
//! then unknown, the byte offset of each line is still exact), at most
//! [`max_lines`](ScanLimits::max_lines) error lines are kept (the first half and the last half
//! of them: where the trouble began and how it ended), each cut to
//! [`max_line_chars`](ScanLimits::max_line_chars) characters. Bytes that are not UTF-8 become
//! U+FFFD; terminal escape sequences are removed and other control characters replaced, so a
//! reported line is safe to print.
//!
//! Pure but for [`ErrorScanner::scan_files`], which reads the tails of local files.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::LazyLock;

use regex::{Regex, RegexSet, RegexSetBuilder};
use serde::Serialize;

use crate::config::{ErrorRules, pattern_error_text};

/// The patterns every scan uses (case-insensitive unless marked `(?-i)`), before the user's.
/// Chosen for the messages batch jobs die with: a program's own error and fatal lines, a
/// Python traceback and its exception line (`ValueError: ...`, CamelCase and case-sensitive
/// so that a word like `terror` does not match), crashes, kills and the schedulers' limit
/// messages (Slurm's `DUE TO TIME LIMIT`, PBS's `walltime ... exceeded limit`, the kernel's
/// OOM killer). `failed` is left out: it is in too many lines of work that went well
/// (`0 failed`); add it to `error_patterns` where it means trouble.
pub const DEFAULT_ERROR_PATTERNS: &[&str] = &[
    r"\berror\b",
    r"\bfatal\b",
    r"\btraceback\b",
    r"(?-i)\b[A-Z][A-Za-z0-9_]*(?:Error|Exception)\b",
    r"\bexception\b",
    r"segmentation fault|\bsegfault\b|\bsigsegv\b",
    r"core dumped",
    r"\babort(?:ed)?\b",
    r"\bkilled\b",
    r"out of memory|\boom[- ]?kill|cannot allocate memory|\bbad_alloc\b",
    r"time limit|\bexceeded\b.*\blimit\b|\blimit\b.*\bexceeded\b",
    r"\bpanicked at\b",
    r"terminate called after throwing",
];

/// How much of the logs a scan reads and keeps (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanLimits {
    /// Bytes read from the end of each log. Default 8 MiB.
    pub max_log_bytes: u64,
    /// Error lines kept over all logs of a scan (the first half and the last half of them).
    /// Default 40.
    pub max_lines: usize,
    /// Characters kept of each line. Default 400.
    pub max_line_chars: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        Self {
            max_log_bytes: 8 << 20,
            max_lines: 40,
            max_line_chars: 400,
        }
    }
}

/// A setting of [`ErrorRules`] that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "{setting} {value:?} cannot be used: {why} (hint: fix the task's `error_rules`, or the system's or profile's `{setting}` in config.json)"
)]
pub struct AnalysisError {
    /// The setting (`error_patterns`, `whitelist_threshold`), with the index in its list.
    pub setting: String,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub why: String,
}

/// One error line found in a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorLine {
    /// The log's file name in the run dir (`xpr.stderr`).
    pub file: String,
    /// Its line number (from 1); `None` when the head of the log was not read (see
    /// [`ScanLimits::max_log_bytes`]).
    pub line: Option<u64>,
    /// The byte offset of its start in the log: exact even when the line number is not.
    pub offset: u64,
    /// The line, printable (see the module docs), at most
    /// [`ScanLimits::max_line_chars`] characters.
    pub text: String,
    /// True when the line was longer and `text` is its beginning.
    pub truncated: bool,
}

/// What was read of one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRead {
    /// The log's file name.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where reading began (0, or past the first line break after `size - max_log_bytes`).
    pub read_from: u64,
}

/// The error lines of a set of logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorFindings {
    /// The error lines kept, logs in the order scanned, lines in file order.
    pub lines: Vec<ErrorLine>,
    /// Error lines found but not kept (over [`ScanLimits::max_lines`], between the first and
    /// the last ones kept).
    pub omitted: usize,
    /// Lines that matched an error pattern but were whitelisted.
    pub whitelisted: usize,
    /// The logs read; logs that do not exist are not listed.
    pub logs: Vec<LogRead>,
}

impl ErrorFindings {
    /// Error lines found (kept or not).
    pub fn count(&self) -> usize {
        self.lines.len() + self.omitted
    }
}

/// One log to scan: its bytes, read from `start` of a file of `size` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Log<'a> {
    /// Its file name, for the report.
    pub file: &'a str,
    /// The bytes read.
    pub bytes: &'a [u8],
    /// The offset of `bytes[0]` in the file; when not 0, `bytes` must begin at a line
    /// start (or be the middle of one huge line) and line numbers are unknown.
    pub start: u64,
    /// The file's size.
    pub size: u64,
}

impl<'a> Log<'a> {
    /// A whole log held in memory.
    pub fn whole(file: &'a str, bytes: &'a [u8]) -> Self {
        Self {
            file,
            bytes,
            start: 0,
            size: bytes.len() as u64,
        }
    }
}

/// The scanner of one set of [`ErrorRules`] (see the module docs).
#[derive(Clone, Debug)]
pub struct ErrorScanner {
    patterns: RegexSet,
    /// Each entry's distinct words.
    whitelist: Vec<HashSet<String>>,
    threshold: usize,
    limits: ScanLimits,
}

/// `ESC [ ... final` (colours, cursor moves) and `ESC ] ... BEL|ESC \` (titles).
static ESCAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b")
        .expect("valid regex")
});

impl ErrorScanner {
    /// The scanner of `rules`, with [`ScanLimits::default`]. Fails on a pattern that is not a
    /// regular expression and on a threshold of 0.
    pub fn new(rules: &ErrorRules) -> Result<Self, AnalysisError> {
        if let Some((key, index, why)) = rules.problem() {
            let value = match index {
                Some(i) => rules.error_patterns[i].clone(),
                None => rules.threshold().to_string(),
            };
            let setting = match index {
                Some(i) => format!("{key}[{i}]"),
                None => key.to_owned(),
            };
            return Err(AnalysisError {
                setting,
                value,
                why,
            });
        }
        let all = DEFAULT_ERROR_PATTERNS
            .iter()
            .copied()
            .chain(rules.error_patterns.iter().map(String::as_str));
        let patterns = RegexSetBuilder::new(all)
            .case_insensitive(true)
            .size_limit(4 << 20)
            .build()
            .map_err(|e| AnalysisError {
                setting: "error_patterns".to_owned(),
                value: rules.error_patterns.join(", "),
                why: pattern_error_text(&e),
            })?;
        Ok(Self {
            patterns,
            whitelist: rules
                .error_whitelist
                .iter()
                .map(|entry| words(entry))
                .collect(),
            threshold: rules.threshold() as usize,
            limits: ScanLimits::default(),
        })
    }

    /// The same scanner with other limits.
    pub fn with_limits(mut self, limits: ScanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> ScanLimits {
        self.limits
    }

    /// True when `line` matches an error pattern (whitelist aside).
    pub fn matches(&self, line: &str) -> bool {
        self.patterns.is_match(line)
    }

    /// True when an entry of the whitelist whitelists `line` (see the module docs).
    pub fn is_whitelisted(&self, line: &str) -> bool {
        if self.whitelist.is_empty() {
            return false;
        }
        let line_words = words(line);
        self.whitelist
            .iter()
            .any(|entry| whitelists(entry, &line_words, self.threshold))
    }

    /// True when `line` is an error line, as [`ErrorScanner::scan`] decides: once made
    /// printable (terminal escapes removed), it matches a pattern and is not whitelisted.
    pub fn is_error_line(&self, line: &str) -> bool {
        let text = printable(line.as_bytes());
        self.matches(&text) && !self.is_whitelisted(&text)
    }

    /// The error lines of `logs`, scanned in order.
    pub fn scan(&self, logs: &[Log<'_>]) -> ErrorFindings {
        let mut kept = Kept::new(self.limits.max_lines);
        let mut findings = ErrorFindings::default();
        for log in logs {
            findings.logs.push(LogRead {
                file: log.file.to_owned(),
                size: log.size,
                read_from: log.start,
            });
            let mut offset = log.start;
            let mut pieces = log.bytes.split(|&b| b == b'\n').peekable();
            let mut number: u64 = 0;
            while let Some(raw) = pieces.next() {
                let at = offset;
                offset += raw.len() as u64 + 1;
                number += 1;
                // The piece after a final line break is no line.
                if raw.is_empty() && pieces.peek().is_none() {
                    break;
                }
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let text = printable(raw);
                if !self.matches(&text) {
                    continue;
                }
                if self.is_whitelisted(&text) {
                    findings.whitelisted += 1;
                    continue;
                }
                let (text, truncated) = cut(&text, self.limits.max_line_chars);
                kept.push(ErrorLine {
                    file: log.file.to_owned(),
                    line: (log.start == 0).then_some(number),
                    offset: at,
                    text,
                    truncated,
                });
            }
        }
        (findings.lines, findings.omitted) = kept.finish();
        findings
    }

    /// The error lines of the logs `names` in `dir`, in that order, each read from its last
    /// [`ScanLimits::max_log_bytes`]; a log that does not exist is skipped.
    pub fn scan_files(&self, dir: &Path, names: &[&str]) -> std::io::Result<ErrorFindings> {
        let mut tails = Vec::new();
        for name in names {
            match read_tail(&dir.join(name), self.limits.max_log_bytes) {
                Ok(tail) => tails.push((*name, tail)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let logs: Vec<Log<'_>> = tails
            .iter()
            .map(|(name, tail)| Log {
                file: name,
                bytes: &tail.bytes,
                start: tail.start,
                size: tail.size,
            })
            .collect();
        Ok(self.scan(&logs))
    }
}

/// The first half and the last half of at most `max` lines, and how many fell between.
struct Kept {
    max: usize,
    head: Vec<ErrorLine>,
    tail: VecDeque<ErrorLine>,
    omitted: usize,
}

impl Kept {
    fn new(max: usize) -> Self {
        Self {
            max,
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
        }
    }

    fn push(&mut self, line: ErrorLine) {
        let head_max = self.max.div_ceil(2);
        let tail_max = self.max - head_max;
        if self.head.len() < head_max {
            self.head.push(line);
            return;
        }
        if tail_max == 0 {
            self.omitted += 1;
            return;
        }
        if self.tail.len() == tail_max {
            self.tail.pop_front();
            self.omitted += 1;
        }
        self.tail.push_back(line);
    }

    fn finish(self) -> (Vec<ErrorLine>, usize) {
        let mut lines = self.head;
        lines.extend(self.tail);
        (lines, self.omitted)
    }
}

/// The distinct words of `text` for the whitelist rule: split at white space, lower-cased,
/// punctuation trimmed from both ends, empty words dropped.
pub fn words(text: &str) -> HashSet<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// True when `entry` (its distinct words) whitelists a line of `line_words`: at least
/// `threshold` of the entry's words are in the line, or all of them when the entry has
/// fewer. An entry without words whitelists nothing.
pub fn whitelists(entry: &HashSet<String>, line_words: &HashSet<String>, threshold: usize) -> bool {
    if entry.is_empty() {
        return false;
    }
    let needed = threshold.clamp(1, entry.len());
    entry.iter().filter(|w| line_words.contains(*w)).count() >= needed
}

/// `raw` as printable text: lossy UTF-8, terminal escapes removed, other control characters
/// (but tabs) replaced by U+FFFD.
fn printable(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = if text.contains('\x1b') {
        ESCAPES.replace_all(&text, "")
    } else {
        text
    };
    if text.chars().any(|c| c.is_control() && c != '\t') {
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                }
            })
            .collect()
    } else {
        text.into_owned()
    }
}

/// At most `max` characters of `text`, and whether it was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (text[..end].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

/// The end of a log: its last `max_bytes` at most, starting after a line break when the
/// head was skipped.
struct Tail {
    bytes: Vec<u8>,
    start: u64,
    size: u64,
}

fn read_tail(path: &Path, max_bytes: u64) -> std::io::Result<Tail> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut start = size.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((size - start) as usize);
    file.take(max_bytes).read_to_end(&mut bytes)?;
    if start > 0 {
        // The first line was cut by the seek: drop it, unless the tail is all one line.
        if let Some(at) = bytes.iter().position(|&b| b == b'\n') {
            bytes.drain(..=at);
            start += at as u64 + 1;
        }
    }
    Ok(Tail { bytes, start, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner(whitelist: &[&str], threshold: Option<u32>) -> ErrorScanner {
        ErrorScanner::new(&ErrorRules {
            error_whitelist: whitelist.iter().map(|s| s.to_string()).collect(),
            whitelist_threshold: threshold,
            ..ErrorRules::default()
        })
        .unwrap()
    }

    #[test]
    fn default_patterns_find_what_jobs_die_with() {
        let s = scanner(&[], None);
        for line in [
            "ERROR: cannot open file",
            "error while loading shared libraries: libfoo.so",
            "Fatal error in PMPI_Init",
            "Traceback (most recent call last):",
            "ValueError: bad input",
            "java.lang.NullPointerException",
            "Segmentation fault (core dumped)",
            "/var/spool/slurmd/job00042/slurm_script: line 7:  1234 Killed  python x.py",
            "slurmstepd: error: *** JOB 42 ON vm CANCELLED AT 2026-12-03T10:00:00 DUE TO TIME LIMIT ***",
            "PBS: job killed: walltime 65 exceeded limit 60",
            "Out of memory: Killed process 1234 (python)",
            "terminate called after throwing an instance of 'std::bad_alloc'",
            "thread 'main' panicked at src/main.rs:2:5:",
            "Aborted",
            "\x1b[31mERROR\x1b[0m coloured",
        ] {
            assert!(s.is_error_line(line), "{line:?}");
        }
        for line in [
            "step 3 of 10 done",
            "0 errors, 0 warnings",
            "stderr is redirected",
            "the terrorists are fictional",
            "mirror of the data",
            "tests: 12 passed, 0 failed",
        ] {
            assert!(!s.is_error_line(line), "{line:?}");
        }
    }

    #[test]
    fn user_patterns_add_to_the_defaults() {
        let s = ErrorScanner::new(&ErrorRules {
            error_patterns: vec!["^CRITICAL:".into(), "(?-i)^BAD$".into()],
            ..ErrorRules::default()
        })
        .unwrap();
        assert!(s.is_error_line("critical: disk full"));
        assert!(s.is_error_line("BAD"));
        assert!(!s.is_error_line("bad"));
        assert!(s.is_error_line("error: still found by default"));
        let e = ErrorScanner::new(&ErrorRules {
            error_patterns: vec!["ok".into(), "[z-a]".into()],
            ..ErrorRules::default()
        })
        .unwrap_err();
        assert_eq!(e.setting, "error_patterns[1]");
        assert!(e.to_string().contains("hint:"), "{e}");
    }

    /// Housekeeper's own example, and the threshold's edges.
    #[test]
    fn whitelist_threshold_edges() {
        let entry = "Leap second table TAI_UTC seems out-of-date";
        let line = "UserWarning: Leap second table TAI_UTC seems out-of-date (error)";
        assert!(scanner(&[entry], Some(3)).is_whitelisted(line));
        assert!(scanner(&[entry], Some(6)).is_whitelisted(line), "6 of 6");
        // A threshold above the entry's word count needs all of them.
        assert!(scanner(&[entry], Some(7)).is_whitelisted(line));
        // Exactly at the threshold, and one below it.
        let three = "error: leap second TABLE missing";
        assert!(scanner(&[entry], Some(3)).is_whitelisted(three));
        assert!(!scanner(&[entry], Some(4)).is_whitelisted(three));
        let two = "error: leap second";
        assert!(!scanner(&[entry], Some(3)).is_whitelisted(two));
        assert!(scanner(&[entry], Some(1)).is_whitelisted("error in the table"));
        // Words repeated in the line count once; case and punctuation do not matter.
        assert!(!scanner(&[entry], Some(3)).is_whitelisted("LEAP, leap: leap! error"));
        // One-word entries, as in housekeeper's example list, work at the default threshold.
        let s = scanner(&["WARN", "FutureWarning"], None);
        assert!(s.is_whitelisted("FutureWarning: x is deprecated, an error later"));
        assert!(s.is_whitelisted("[WARN] error budget at 80%"));
        assert!(!s.is_whitelisted("[WARNING] error budget at 80%"));
        // A two-word entry under threshold 3 needs both words.
        let s = scanner(&["harmless error"], None);
        assert!(s.is_whitelisted("a harmless error happened"));
        assert!(!s.is_whitelisted("a real error happened"));
        // Empty entries whitelist nothing.
        assert!(!scanner(&["", "  ::  "], Some(1)).is_whitelisted("error"));
        assert!(
            ErrorScanner::new(&ErrorRules {
                whitelist_threshold: Some(0),
                ..ErrorRules::default()
            })
            .is_err()
        );
    }

    #[test]
    fn scan_reports_file_line_and_offset() {
        let s = scanner(&["known harmless error"], None);
        let stderr = b"starting\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad\nknown harmless error here\n";
        let stdout = b"all good\r\nERROR at the end\r\n";
        let found = s.scan(&[
            Log::whole("xpr.stderr", stderr),
            Log::whole("xpr.stdout", stdout),
        ]);
        let got: Vec<(&str, Option<u64>, u64, &str)> = found
            .lines
            .iter()
            .map(|l| (l.file.as_str(), l.line, l.offset, l.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "xpr.stderr",
                    Some(2),
                    9,
                    "Traceback (most recent call last):"
                ),
                ("xpr.stderr", Some(4), 66, "ValueError: bad"),
                ("xpr.stdout", Some(2), 10, "ERROR at the end"),
            ]
        );
        assert_eq!(found.whitelisted, 1);
        assert_eq!(found.count(), 3);
        assert_eq!(found.logs[0].size, stderr.len() as u64);
    }

    #[test]
    fn lines_are_capped_first_and_last_kept_and_cut() {
        let s = scanner(&[], None).with_limits(ScanLimits {
            max_lines: 5,
            max_line_chars: 10,
            ..ScanLimits::default()
        });
        let text: String = (1..=100)
            .map(|i| format!("error {i} ééééééééé\n"))
            .collect();
        let found = s.scan(&[Log::whole("log", text.as_bytes())]);
        let numbers: Vec<u64> = found.lines.iter().map(|l| l.line.unwrap()).collect();
        assert_eq!(numbers, [1, 2, 3, 99, 100]);
        assert_eq!(found.omitted, 95);
        assert_eq!(found.count(), 100);
        assert_eq!(found.lines[0].text, "error 1 éé");
        assert!(found.lines[0].truncated);
    }

    #[test]
    fn non_utf8_and_control_bytes_are_printable() {
        let s = scanner(&[], None);
        let found = s.scan(&[Log::whole(
            "log",
            b"\xff\xfe error \x00 here \x1b]0;title\x07\x1b[1mbold\x1b[0m\n",
        )]);
        assert_eq!(found.lines.len(), 1);
        assert_eq!(
            found.lines[0].text,
            "\u{fffd}\u{fffd} error \u{fffd} here bold"
        );
    }

    #[test]
    fn huge_logs_are_read_from_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut text = String::from("error at the very start\n");
        while text.len() < 3 << 20 {
            text.push_str("progress: nothing to see here, all fine\n");
        }
        let last_at = text.len() as u64;
        text.push_str("Traceback (most recent call last):\n");
        std::fs::write(&path, &text).unwrap();
        let s = scanner(&[], None).with_limits(ScanLimits {
            max_log_bytes: 1 << 20,
            ..ScanLimits::default()
        });
        let found = s
            .scan_files(dir.path(), &["big.log", "missing.log"])
            .unwrap();
        assert_eq!(found.lines.len(), 1, "the head beyond 1 MiB is not read");
        assert_eq!(found.lines[0].line, None);
        assert_eq!(found.lines[0].offset, last_at);
        assert_eq!(found.logs.len(), 1, "a missing log is skipped");
        let read = &found.logs[0];
        assert!(read.read_from > read.size - (1 << 20), "{read:?}");
        assert_eq!(read.size, text.len() as u64);
        // The whole file when it fits: line numbers are known.
        let all = scanner(&[], None)
            .scan_files(dir.path(), &["big.log"])
            .unwrap();
        assert_eq!(all.lines.len(), 2);
        assert_eq!(all.lines[0].line, Some(1));
        assert!(all.lines[1].line.is_some_and(|n| n > 70_000));
    }

    #[test]
    fn one_huge_line_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = vec![b'x'; 2 << 20];
        text.extend_from_slice(b" error");
        std::fs::write(dir.path().join("one.log"), &text).unwrap();
        let s = scanner(&[], None).with_limits(ScanLimits {
            max_log_bytes: 1 << 20,
            ..ScanLimits::default()
        });
        let found = s.scan_files(dir.path(), &["one.log"]).unwrap();
        assert_eq!(found.lines.len(), 1);
        assert!(found.lines[0].truncated);
        assert_eq!(found.lines[0].text.chars().count(), 400);
    }
}
