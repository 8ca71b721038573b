//! Adding a discovered system to a config file: everything the file holds is kept (other
//! systems, top-level keys, key order), a system of the same name is replaced only when asked,
//! and the file is replaced atomically (a temporary file in its directory, synced, renamed), so
//! a crash leaves the old file whole.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use super::error::{DiscoverError, DiscoverErrorKind};

/// What [`add_system`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file did not exist and was created.
    Created,
    /// The system was added to the file.
    Added,
    /// A system of that name was replaced (`force`).
    Replaced,
}

fn file_error(
    file: &Path,
    what: impl Into<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> DiscoverError {
    DiscoverError::file(
        file,
        DiscoverErrorKind::File {
            what: what.into(),
            source,
        },
    )
}

/// Adds `entry` as system `name` to the config file `file` (created when missing). A system
/// of that name already there is an error unless `force`.
pub fn add_system(
    file: &Path,
    name: &str,
    entry: &Value,
    force: bool,
) -> Result<WriteOutcome, DiscoverError> {
    let (mut doc, existed) = match std::fs::read_to_string(file) {
        Ok(text) => {
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                file_error(
                    file,
                    "is not JSON, so it is left alone (hint: fix it, or write to a new file)",
                    Some(Box::new(e)),
                )
            })?;
            let Value::Object(map) = value else {
                return Err(file_error(
                    file,
                    "is not a JSON object with a \"systems\" key, so it is left alone",
                    None,
                ));
            };
            (map, true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Map::new(), false),
        Err(e) => return Err(file_error(file, "cannot be read", Some(Box::new(e)))),
    };
    let systems = doc
        .entry("systems")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(systems) = systems else {
        return Err(file_error(
            file,
            "has a \"systems\" key that is not an object, so it is left alone",
            None,
        ));
    };
    let replaced = systems.contains_key(name);
    if replaced && !force {
        return Err(DiscoverError::file(
            file,
            DiscoverErrorKind::SystemExists {
                name: name.to_owned(),
            },
        ));
    }
    systems.insert(name.to_owned(), entry.clone());
    let mut text = serde_json::to_string_pretty(&Value::Object(doc))
        .map_err(|e| file_error(file, "cannot be serialised", Some(Box::new(e))))?;
    text.push('\n');
    write_atomically(file, text.as_bytes())?;
    Ok(match (existed, replaced) {
        (false, _) => WriteOutcome::Created,
        (true, false) => WriteOutcome::Added,
        (true, true) => WriteOutcome::Replaced,
    })
}

/// Writes `bytes` to `file` through a temporary file next to it, synced and renamed over it.
fn write_atomically(file: &Path, bytes: &[u8]) -> Result<(), DiscoverError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    let base = file
        .file_name()
        .ok_or_else(|| file_error(file, "is not a file name", None))?;
    let tmp = dir.join(format!(
        ".{}.xpr-tmp.{}",
        base.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        if let Ok(meta) = std::fs::metadata(file) {
            // Keep the old file's mode (a config may hold an account name the user keeps private).
            out.set_permissions(meta.permissions())?;
        }
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&tmp, file)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(file, "cannot be written", Some(Box::new(e)))
    })
}
