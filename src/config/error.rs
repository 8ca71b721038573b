//! Errors of finding, reading, merging and validating `config.json`.
//!
//! Every [`ConfigError`] carries its context: the file(s) the offending value came from (after a
//! merge, the file that last set it, or every file that touched the object when a key is
//! missing), the JSON path of the value (`systems.archer2.partitions.standard.max_mem`), and a
//! [`ConfigErrorKind`] saying what is wrong. Messages are lowercase and end with a
//! `(hint: ...)` where the user can act.
//!
//! A config with several problems gives one [`ConfigError`] of kind
//! [`ConfigErrorKind::Several`] holding one error per problem, each with its own file and JSON
//! path; [`ConfigError::errors`] lists them whatever the count.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::units::UnitError;

/// A JSON path into a config document: the keys from the top level down.
///
/// Displayed dotted (`systems.archer2.partitions.standard.max_mem`); a key that holds a dot,
/// whitespace or is empty is quoted (`systems.x.partitions."gpu.a100"`). The top level itself
/// displays as `(top level)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JsonPath(Vec<String>);

impl JsonPath {
    /// The top level of the document.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// A path from its keys, top down.
    pub fn from_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(keys.into_iter().map(Into::into).collect())
    }

    /// This path with `key` appended.
    pub fn join(&self, key: &str) -> Self {
        let mut keys = self.0.clone();
        keys.push(key.to_owned());
        Self(keys)
    }

    /// The keys, top down.
    pub fn keys(&self) -> &[String] {
        &self.0
    }

    /// True for the top level.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let plain = !key.is_empty()
                && !key.contains('.')
                && !key.contains('"')
                && !key.chars().any(char::is_whitespace);
            if plain {
                f.write_str(key)?;
            } else {
                write!(f, "{key:?}")?;
            }
        }
        Ok(())
    }
}

/// A config that cannot be found, read or understood.
///
/// Displays as `<files>: <json path>: <what is wrong>`, leaving out the parts it has no value
/// for.
#[derive(Debug)]
pub struct ConfigError {
    /// The file(s) involved: the file a bad value came from, or every file that contributed to
    /// an object with a missing key. Empty for errors that concern no file (e.g. asking for a
    /// system when no config exists).
    pub files: Vec<PathBuf>,
    /// Where in the (merged) document the problem is; `None` when it is not about a value.
    pub path: Option<JsonPath>,
    /// What is wrong (boxed to keep `Result<_, ConfigError>` small).
    pub kind: Box<ConfigErrorKind>,
}

impl ConfigError {
    /// An error about no particular file or value.
    pub fn new(kind: ConfigErrorKind) -> Self {
        Self {
            files: Vec::new(),
            path: None,
            kind: Box::new(kind),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }

    /// An error about one file as a whole (not a value inside it).
    pub fn in_file(file: &Path, kind: ConfigErrorKind) -> Self {
        Self {
            files: vec![file.to_owned()],
            path: None,
            kind: Box::new(kind),
        }
    }

    /// An error about the value at `path`, which came from `files`.
    pub fn at(files: Vec<PathBuf>, path: JsonPath, kind: ConfigErrorKind) -> Self {
        Self {
            files,
            path: Some(path),
            kind: Box::new(kind),
        }
    }

    /// One error for all of `errors`: `None` when there are none, the error itself when there
    /// is one, else a [`ConfigErrorKind::Several`] naming every file involved.
    pub fn from_errors(mut errors: Vec<ConfigError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => {
                let mut files: Vec<PathBuf> = Vec::new();
                for file in errors.iter().flat_map(|e| &e.files) {
                    if !files.contains(file) {
                        files.push(file.clone());
                    }
                }
                Some(Self {
                    files,
                    path: None,
                    kind: Box::new(ConfigErrorKind::Several { errors }),
                })
            }
        }
    }

    /// Each problem this error reports, in document order: the errors of a
    /// [`ConfigErrorKind::Several`], else this error alone.
    pub fn errors(&self) -> &[ConfigError] {
        match &*self.kind {
            ConfigErrorKind::Several { errors } => errors,
            _ => std::slice::from_ref(self),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Several problems: one line each, every line naming its own file and path.
        if let ConfigErrorKind::Several { errors } = &*self.kind {
            for (i, err) in errors.iter().enumerate() {
                if i > 0 {
                    f.write_str("\n")?;
                }
                write!(f, "{err}")?;
            }
            return Ok(());
        }
        if !self.files.is_empty() {
            let names: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
            write!(f, "{}: ", names.join(", "))?;
        }
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.kind)
    }
}

/// What is wrong with a config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("invalid json at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// `EXPYRE_ROOT` (or a `.expyre`/`_expyre` entry) is not a directory.
    #[error("{what} {} is not a directory (hint: {hint})", path.display())]
    NotADirectory {
        /// What the path is (`"EXPYRE_ROOT"`, `".expyre"`).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// How to fix it.
        hint: &'static str,
    },
    /// One directory holds both `.expyre` and `_expyre`.
    #[error(
        "{} holds both .expyre and _expyre (hint: merge them into one and remove the other)",
        dir.display()
    )]
    BothExpyreDirs {
        /// The directory.
        dir: PathBuf,
    },
    /// A key that is not part of the format.
    #[error("unknown key {key:?}{} (accepted: {})", did_you_mean(suggestion), accepted.join(", "))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The closest accepted key, if one is close.
        suggestion: Option<String>,
        /// Every key accepted here.
        accepted: Vec<&'static str>,
    },
    /// A required key is absent.
    #[error("missing required key {key:?}{}", hint_suffix(hint))]
    MissingKey {
        /// The key.
        key: &'static str,
        /// What to write, when there is something useful to say.
        hint: Option<&'static str>,
    },
    /// A value of the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What is accepted (`"a string"`, `"an integer or a string like \"4GB\""`).
        expected: &'static str,
        /// What was found (`"a number"`, `"null"`).
        found: &'static str,
    },
    /// A scheduler name xpr does not know.
    #[error("unknown scheduler {value:?}{} (accepted: {})", did_you_mean(suggestion), accepted.join(", "))]
    UnknownScheduler {
        /// The name as written.
        value: String,
        /// The closest accepted name, if one is close.
        suggestion: Option<String>,
        /// Every accepted name.
        accepted: Vec<&'static str>,
    },
    /// A time or memory string that does not parse.
    #[error("{source}")]
    BadUnit {
        /// The units parser's error (it carries its own hint).
        #[source]
        source: UnitError,
    },
    /// Both names of one setting are given (`partitions` and `queues`, `num_cores` and
    /// `ncores`).
    #[error(
        "both {first:?} and {second:?} are given; they are synonyms (hint: keep one; to drop an \
         inherited one in a layered config write \"{first}\": \"_DELETE_\")"
    )]
    BothSynonyms {
        /// The current name.
        first: &'static str,
        /// The other name.
        second: &'static str,
    },
    /// A value of the right type that is not acceptable.
    #[error("invalid value {value}: {why}")]
    InvalidValue {
        /// The value, as JSON.
        value: String,
        /// What is wrong and what is accepted.
        why: String,
    },
    /// A system other than the built-in `local` was asked for, and no config file exists.
    #[error(
        "no config.json found, so only the built-in system \"local\" exists (searched: {}) \
         (hint: create ~/.expyre/config.json, or set EXPYRE_ROOT to a directory holding one)",
        list_paths(searched)
    )]
    NoConfig {
        /// The directories searched for `.expyre`/`_expyre`, deepest first.
        searched: Vec<PathBuf>,
    },
    /// A system name the config does not define.
    #[error("unknown system {name:?}{} (known: {})", did_you_mean(suggestion), known.join(", "))]
    UnknownSystem {
        /// The name asked for.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// Every known system.
        known: Vec<String>,
    },
    /// A profile name the config does not define.
    #[error(
        "unknown profile {name:?}{} (known: {})",
        did_you_mean(suggestion),
        list_or_none(known)
    )]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// Every known profile.
        known: Vec<String>,
    },
    /// A system or profile asked for while the config, loaded leniently, has problems (see
    /// `LoadedConfig::load_lenient`): only the built-in `local` system is usable.
    #[error(
        "{what} {name:?} cannot be used: the config has problems (hint: `xpr config check` lists them)"
    )]
    Unusable {
        /// `"system"` or `"profile"`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The config's problems.
        #[source]
        problems: std::sync::Arc<ConfigError>,
    },
    /// Several problems at once (at least two), each a complete error with its own file and
    /// JSON path; displayed one per line.
    #[error("{} problems in the config", errors.len())]
    Several {
        /// The problems, in document order (files in merge order).
        errors: Vec<ConfigError>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (hint: did you mean {s:?}?)"),
        None => String::new(),
    }
}

fn hint_suffix(hint: &Option<&'static str>) -> String {
    match hint {
        Some(h) => format!(" (hint: {h})"),
        None => String::new(),
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
/// (at most 2 edits, or a third of the word's length for longer words). Case is ignored.
pub fn suggest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Levenshtein distance between two strings, in chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("partitons", "partitions"), 1);
    }

    #[test]
    fn suggest_picks_close_names_only() {
        let keys = ["host", "scheduler", "partitions", "queues"];
        assert_eq!(suggest("partitons", keys).as_deref(), Some("partitions"));
        assert_eq!(suggest("Schedular", keys).as_deref(), Some("scheduler"));
        assert_eq!(suggest("completely_else", keys), None);
    }

    #[test]
    fn path_quotes_odd_keys() {
        let p = JsonPath::from_keys(["systems", "x", "partitions", "gpu.a100"]);
        assert_eq!(p.to_string(), r#"systems.x.partitions."gpu.a100""#);
        assert_eq!(JsonPath::root().to_string(), "(top level)");
    }
}
