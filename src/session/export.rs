//! The whole jobs DB as one JSON document: every task with its dependencies, attempts and
//! history ([`Export`]), what `xpr export` writes (housekeeper's `export_state`). Its form is
//! `schemas/export.schema.json`.
//!
//! # One state, never half of two
//!
//! [`Export::read`] makes every read in one read transaction ([`Db::snapshot`]): the tasks,
//! and for each its parents, attempts and history, are the DB as it stood at one moment, even
//! while another process (an `xpr wait`) moves tasks on. Writers are never held up by it (WAL).
//!
//! # Writing the file
//!
//! [`Export::write_to`] never leaves a half-written export and never destroys a user's file
//! by default: the document goes to a hidden temporary file in the destination's directory,
//! is flushed to disk, and only then takes the destination's name, by a hard link that fails
//! if the name is taken ([`IfExists::Refuse`], the default; a check and a rename where the file
//! system has no hard links) or by a rename over it ([`IfExists::Replace`]). A crash leaves at
//! most a hidden `.NAME.xpr-part-*` file, never a truncated `NAME`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::{Session, SessionError};
use crate::db::{
    Attempt, Db, DbError, DependencyKind, HistoryEntry, TaskFilter, TaskRecord, TaskSummary,
};
use crate::ids::{SchedulerJobId, TaskId};

/// Every task of a jobs DB, read in one consistent snapshot (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Export {
    /// When the DB was read; written as RFC 3339 in UTC (`2024-12-16T10:30:00.123Z`).
    #[serde(serialize_with = "rfc3339")]
    pub exported_at: SystemTime,
    /// The jobs DB file it was read from.
    pub jobs_db: PathBuf,
    /// How many tasks [`tasks`](Self::tasks) holds.
    pub total: usize,
    /// Every task, oldest first.
    pub tasks: Vec<ExportedTask>,
}

/// One task of an [`Export`]: its listing fields, identity and spec, what it waits for, each
/// of its attempts and each change of its status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportedTask {
    /// Its listing fields (id, name, system, status, current attempt, end state ...).
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// Identity hash: equal for tasks that would compute the same thing.
    pub identity: String,
    /// The task as xpr stored it to resume it (command, inputs, resources, job script ...):
    /// xpr's own form, which may change between versions.
    pub spec: serde_json::Value,
    /// The tasks it waits for, by parent id.
    pub dependencies: Vec<ExportedDependency>,
    /// Every submission, first first.
    pub attempts: Vec<Attempt>,
    /// Every change of its status, oldest first, from its creation on.
    pub history: Vec<HistoryEntry>,
}

/// What a task waits for in one parent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportedDependency {
    /// The parent.
    pub parent: TaskId,
    /// What the child waits for in it.
    pub kind: DependencyKind,
    /// The parent's job the scheduler itself holds the child's current attempt on (a native
    /// dependency); `None` when xpr holds the child.
    pub native_job: Option<SchedulerJobId>,
}

/// What [`Export::write_to`] does when its file exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfExists {
    /// Leave the file as it is and fail with [`ExportError::Exists`]. The default.
    #[default]
    Refuse,
    /// Replace it (atomically: it holds the old bytes or the whole export, never a part).
    Replace,
}

/// An export that could not be written. Each variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// With [`IfExists::Refuse`]: something already has the file's name.
    #[error(
        "export file {} already exists (hint: pass --force to replace it, or choose another name)",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The name is a directory's.
    #[error(
        "export file {} is a directory (hint: name a file, such as {})",
        path.display(),
        path.join("xpr-export.json").display()
    )]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The file's directory does not exist.
    #[error(
        "export file {}: no directory {} (hint: create it, or choose another name)",
        path.display(),
        dir.display()
    )]
    NoDirectory {
        /// The file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// Writing the file failed.
    #[error("export file {}: {action} {}: {source}", path.display(), temp.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`"creating"`, `"writing"`, `"renaming"` ...).
        action: &'static str,
        /// The file acted on: the temporary file, or the export file itself.
        temp: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl Export {
    /// Reads every task of `db` with its dependencies, attempts and history, in one read
    /// transaction (see the module docs).
    pub fn read(db: &Db) -> Result<Export, DbError> {
        db.snapshot(|db| {
            let exported_at = SystemTime::now();
            let records = db.list(&TaskFilter::default())?;
            let tasks = records
                .into_iter()
                .map(|record| exported_task(db, record))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Export {
                exported_at,
                jobs_db: db.path().to_owned(),
                total: tasks.len(),
                tasks,
            })
        })
    }

    /// Writes the export as pretty-printed JSON with a final newline to `out`.
    pub fn write_json(&self, out: impl Write) -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Writes the export to the file `path`, whole or not at all; `if_exists` says what
    /// happens when the name is taken (see the module docs).
    pub fn write_to(&self, path: &Path, if_exists: IfExists) -> Result<(), ExportError> {
        let Some(name) = path.file_name().filter(|_| !path.is_dir()) else {
            return Err(ExportError::IsDirectory {
                path: path.to_owned(),
            });
        };
        // Refused before any work, so that a taken name costs nothing; the hard link below
        // settles a race with another writer.
        if if_exists == IfExists::Refuse && path.symlink_metadata().is_ok() {
            return Err(ExportError::Exists {
                path: path.to_owned(),
            });
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(ExportError::NoDirectory {
                path: path.to_owned(),
                dir: dir.to_owned(),
            });
        }
        let io_error = |action, file: &Path| {
            let (path, temp) = (path.to_owned(), file.to_owned());
            move |source| ExportError::Io {
                path,
                action,
                temp,
                source,
            }
        };
        let temp = TempFile::new(dir, name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.path)
            .map_err(io_error("creating", &temp.path))?;
        self.write_json(&file)
            .map_err(io_error("writing", &temp.path))?;
        file.sync_all().map_err(io_error("flushing", &temp.path))?;
        drop(file);
        match if_exists {
            IfExists::Replace => {
                fs::rename(&temp.path, path).map_err(io_error("renaming", &temp.path))?
            }
            IfExists::Refuse => match fs::hard_link(&temp.path, path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(ExportError::Exists {
                        path: path.to_owned(),
                    });
                }
                // No hard links here (some network or FAT file systems): check, then rename.
                Err(_) if path.symlink_metadata().is_ok() => {
                    return Err(ExportError::Exists {
                        path: path.to_owned(),
                    });
                }
                Err(_) => fs::rename(&temp.path, path).map_err(io_error("renaming", &temp.path))?,
            },
        }
        // Best effort: the new name survives a power cut once the directory is on disk too.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Session {
    /// Every task of this session's jobs DB with its dependencies, attempts and history, read
    /// in one consistent snapshot ([`Export::read`]).
    pub fn export(&self) -> Result<Export, SessionError> {
        Ok(Export::read(&self.db())?)
    }
}

/// `record` with its dependencies, attempts and history, read from `db`.
fn exported_task(db: &Db, record: TaskRecord) -> Result<ExportedTask, DbError> {
    let id = &record.id;
    let native = db.native_parents(id)?;
    let dependencies = db
        .parents(id)?
        .into_iter()
        .map(|(kind, parent)| ExportedDependency {
            native_job: native
                .iter()
                .find(|(_, p, _)| *p == parent.id)
                .map(|(_, _, job)| job.clone()),
            parent: parent.id,
            kind,
        })
        .collect();
    let spec = serde_json::from_str(&record.spec).map_err(|e| DbError::Corrupt {
        path: db.path().to_owned(),
        id: id.to_string(),
        column: "spec",
        value: e.to_string(),
    })?;
    Ok(ExportedTask {
        attempts: db.attempts(id)?,
        history: db.history(id)?,
        dependencies,
        spec,
        identity: record.identity,
        summary: record.summary,
    })
}

fn rfc3339<S: Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_millis(*at))
}

/// A hidden temporary file next to the export's name, removed when dropped: once the export
/// has its name (a link or a rename), the temporary name alone goes.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(dir: &Path, name: &std::ffi::OsStr) -> TempFile {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(
            ".xpr-part-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        TempFile {
            path: dir.join(temp),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: gone already after a rename; a leftover hidden file is harmless.
        let _ = fs::remove_file(&self.path);
    }
}
