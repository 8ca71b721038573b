//! Finding the `config.json` files and the stage root's candidates.
//!
//! Discovery is a function of a [`ConfigSearch`] (current directory, home directory, the value
//! of `EXPYRE_ROOT`), so tests drive it with temporary directories; [`ConfigSearch::from_env`]
//! fills one from the process environment.
//!
//! Rules (ExPyRe's, with xpr's departures marked):
//!
//! - `EXPYRE_ROOT` set, non-empty and not `@`: it must be a directory; it is the only directory,
//!   only `$EXPYRE_ROOT/config.json` is read, and it is the stage root unless the config sets
//!   `local_stage_dir`. A relative value is taken from the current directory.
//! - Otherwise walk up from the current directory to `$HOME` (inclusive) or `/`. In each
//!   directory take `.expyre` or `_expyre` (both in one directory is an error). Merge order is
//!   shallowest first, so the deepest wins.
//! - xpr: when the current directory is not under `$HOME`, `$HOME/.expyre` (or `$HOME/_expyre`)
//!   is read anyway, first (it is the user's global config).
//!
//! A `.expyre` directory without a `config.json` still counts for the stage root (as upstream).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigErrorKind};

/// The inputs of config discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSearch {
    /// Where the walk up starts; should be absolute.
    pub cwd: PathBuf,
    /// `$HOME`, where the walk up stops; `None` when unknown (the walk then goes to `/`).
    pub home: Option<PathBuf>,
    /// The value of `EXPYRE_ROOT`, if set.
    pub expyre_root: Option<OsString>,
}

impl ConfigSearch {
    /// A search from `cwd` with home `home` and no `EXPYRE_ROOT`.
    pub fn new(cwd: impl Into<PathBuf>, home: Option<PathBuf>) -> Self {
        Self {
            cwd: cwd.into(),
            home,
            expyre_root: None,
        }
    }

    /// Sets the `EXPYRE_ROOT` value.
    pub fn with_expyre_root(mut self, value: impl Into<OsString>) -> Self {
        self.expyre_root = Some(value.into());
        self
    }

    /// The search this process would do: its current directory, `$HOME`, `$EXPYRE_ROOT`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cwd = std::env::current_dir().map_err(|source| {
            ConfigError::new(ConfigErrorKind::Io {
                path: PathBuf::from("."),
                source,
            })
        })?;
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Ok(Self {
            cwd,
            home,
            expyre_root: std::env::var_os("EXPYRE_ROOT"),
        })
    }

    /// The `EXPYRE_ROOT` directory this search uses, if the variable is in effect (set,
    /// non-empty and not `@`), resolved against `cwd`.
    pub fn expyre_root_dir(&self) -> Option<PathBuf> {
        let value = self.expyre_root.as_ref()?;
        if value.is_empty() || value == "@" {
            return None;
        }
        Some(self.cwd.join(value))
    }
}

/// What discovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// The `.expyre`/`_expyre` directories (or the `EXPYRE_ROOT` directory), in merge order:
    /// shallowest first. The last one is the default stage root.
    pub dirs: Vec<PathBuf>,
    /// The `config.json` files that exist in `dirs`, in merge order.
    pub files: Vec<PathBuf>,
    /// Every directory looked in for `.expyre`/`_expyre` (or the `EXPYRE_ROOT` directory), in
    /// the order they were looked at: for messages.
    pub searched: Vec<PathBuf>,
    /// True when `EXPYRE_ROOT` decided the search.
    pub from_expyre_root: bool,
}

/// The name of the config file inside a `.expyre`/`_expyre` directory.
pub const CONFIG_FILE_NAME: &str = "config.json";

/// Finds the config directories and files for `search` (see the module docs for the rules).
pub fn discover(search: &ConfigSearch) -> Result<Discovery, ConfigError> {
    if let Some(root) = search.expyre_root_dir() {
        if !root.is_dir() {
            return Err(ConfigError::new(ConfigErrorKind::NotADirectory {
                what: "EXPYRE_ROOT",
                path: root,
                hint: "create it, or unset EXPYRE_ROOT (or set it to `@`) to search from the \
                       current directory",
            }));
        }
        let file = root.join(CONFIG_FILE_NAME);
        let files = if file.is_file() { vec![file] } else { vec![] };
        return Ok(Discovery {
            dirs: vec![root.clone()],
            files,
            searched: vec![root],
            from_expyre_root: true,
        });
    }

    let home_canon = search.home.as_deref().map(canonical);
    let mut searched = Vec::new();
    let mut found_deepest_first = Vec::new();
    let mut reached_home = false;
    let mut cur: Option<&Path> = Some(&search.cwd);
    while let Some(dir) = cur {
        searched.push(dir.to_owned());
        if let Some(found) = expyre_dir_in(dir)? {
            found_deepest_first.push(found);
        }
        if home_canon.as_deref() == Some(canonical(dir).as_path()) {
            reached_home = true;
            break;
        }
        cur = dir.parent();
    }

    let mut dirs = Vec::new();
    // xpr departure: the user's global config also applies outside $HOME.
    if !reached_home && let Some(home) = &search.home {
        searched.push(home.clone());
        if let Some(found) = expyre_dir_in(home)? {
            dirs.push(found);
        }
    }
    dirs.extend(found_deepest_first.into_iter().rev());
    let files = dirs
        .iter()
        .map(|d| d.join(CONFIG_FILE_NAME))
        .filter(|f| f.is_file())
        .collect();
    Ok(Discovery {
        dirs,
        files,
        searched,
        from_expyre_root: false,
    })
}

/// The `.expyre` or `_expyre` directory in `dir`, if there is one.
fn expyre_dir_in(dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let dot = dir.join(".expyre");
    let under = dir.join("_expyre");
    let (dot_exists, under_exists) = (dot.exists(), under.exists());
    let found = match (dot_exists, under_exists) {
        (true, true) => {
            return Err(ConfigError::new(ConfigErrorKind::BothExpyreDirs {
                dir: dir.to_owned(),
            }));
        }
        (true, false) => dot,
        (false, true) => under,
        (false, false) => return Ok(None),
    };
    if !found.is_dir() {
        return Err(ConfigError::new(ConfigErrorKind::NotADirectory {
            what: "config directory",
            path: found,
            hint: "it must be a directory holding config.json; rename or remove the file",
        }));
    }
    Ok(Some(found))
}

/// `path` with symlinks resolved when possible (so `$HOME` behind a symlink still stops the
/// walk), else as given.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
