//! The jobs DB: one SQLite file holding every task, its state, and the history of its states.
//!
//! # Invariants
//!
//! - Every state change is one `BEGIN IMMEDIATE` transaction that checks the state it comes
//!   from (compare-and-set), updates the row, and appends a `history` row. A crashed process
//!   leaves either the old state or the new one, never half of a change.
//! - Callers write a transition *before* the action it announces (e.g. `submitting` before the
//!   scheduler is asked), so a process killed at any moment can tell what may have happened.
//!
//! # Several processes at once
//!
//! The DB is in WAL mode: readers never block the writer and the writer never blocks readers.
//! Writers take SQLite's write lock at the start of their transaction (`IMMEDIATE`) rather than
//! upgrading a read transaction later, because an upgrade that loses a race fails at once with
//! "database is locked" whatever the busy timeout; taken at the start, a busy lock is waited for
//! (up to [`BUSY_TIMEOUT`]). Locks are the operating system's file locks, so a killed process
//! leaves no lock behind; [`Db::unlock`] only checkpoints the WAL and checks that the file can
//! be written, and never replaces the file under live writers.
//!
//! # Compatibility
//!
//! The schema version is SQLite's `PRAGMA user_version`. Migrations are an append-only list,
//! applied in one exclusive transaction; they only add (tables, columns, indexes) and never
//! destroy data. A DB written by a newer xpr is refused, not downgraded.

mod record;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use record::{
    HistoryEntry, NewTask, SummaryRef, TaskFilter, TaskRecord, TaskStatus, TaskSummary, TaskUpdate,
};

use crate::ids::TaskId;

/// How long a writer waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The schema, one entry per version: entry `i` takes the DB from version `i` to `i + 1`.
/// Append only; never edit an entry that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: tasks and their history.
    "CREATE TABLE tasks (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        system TEXT NOT NULL,
        status TEXT NOT NULL,
        identity TEXT NOT NULL,
        spec TEXT NOT NULL,
        scheduler_job_id TEXT,
        sched_state TEXT,
        exit_code INTEGER,
        node TEXT,
        reason TEXT,
        remote_dir TEXT,
        local_dir TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX tasks_status ON tasks(status);
    CREATE INDEX tasks_system_status ON tasks(system, status);
    CREATE INDEX tasks_name ON tasks(name);
    CREATE INDEX tasks_identity ON tasks(identity);
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX history_task ON history(task_id, seq);",
    // 2: listings (`xpr ls`) read this index alone, in order, never the table: a task's row
    // holds its spec (a few KB of JSON with the job script), so scanning and sorting rows
    // for 100,000 tasks moved ~250 MB where the listed columns are ~25 MB.
    "CREATE INDEX tasks_listing ON tasks(created_at, id, name, system, status,
        scheduler_job_id, sched_state, exit_code, node, reason, remote_dir, local_dir,
        updated_at);",
];

/// Something the jobs DB could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite failed; `path` is the DB file.
    #[error("jobs DB {path}: {source}")]
    Sqlite {
        /// The DB file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The DB was written by a newer xpr.
    #[error(
        "jobs DB {path} has schema version {found}, newer than this xpr knows ({known}) \
         (hint: upgrade xpr; the DB is left untouched)"
    )]
    TooNew {
        /// The DB file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// A task id that is not in the DB.
    #[error("no task {id} in jobs DB {path} (hint: `xpr ls` lists the tasks)")]
    NoSuchTask {
        /// The DB file.
        path: PathBuf,
        /// The id asked for.
        id: TaskId,
    },
    /// A task id that is already in the DB.
    #[error("task {id} already exists in jobs DB {path}")]
    Duplicate {
        /// The DB file.
        path: PathBuf,
        /// The id.
        id: TaskId,
    },
    /// A transition from a state it may not come from (another process moved the task).
    #[error("task {id} is {actual}, not {}, so it cannot become {to}", list(.expected))]
    WrongState {
        /// The task.
        id: TaskId,
        /// Its status now.
        actual: TaskStatus,
        /// The statuses the transition may come from.
        expected: Vec<TaskStatus>,
        /// Where it was meant to go.
        to: TaskStatus,
    },
    /// A value stored in the DB that this xpr cannot read.
    #[error("jobs DB {path}: task {id} has unreadable {column} {value:?}")]
    Corrupt {
        /// The DB file.
        path: PathBuf,
        /// The task.
        id: String,
        /// Which column.
        column: &'static str,
        /// What it holds.
        value: String,
    },
}

fn list(statuses: &[TaskStatus]) -> String {
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// An open jobs DB. One per thread; open several for several threads or processes.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the jobs DB at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Db, DbError> {
        let path = path.as_ref().to_path_buf();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        // WAL: concurrent readers and one writer; NORMAL sync is durable across process
        // crashes (only a power cut can lose the last transactions, never corrupt).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let mut db = Db { conn, path };
        db.migrate()?;
        Ok(db)
    }

    /// The DB file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version of the open DB.
    pub fn schema_version(&self) -> Result<u32, DbError> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| self.sql(e))
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let known = MIGRATIONS.len() as u32;
        // Up to date (the usual case): no write lock, so a reader such as `xpr ls` neither
        // waits for a busy writer nor makes one wait.
        if self.schema_version()? == known {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(sql)?;
        let version: u32 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql)?;
        if version > known {
            return Err(DbError::TooNew {
                path: path.clone(),
                found: version,
                known,
            });
        }
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step).map_err(sql)?;
        }
        tx.pragma_update(None, "user_version", known).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Adds a new task in status `created`.
    pub fn create(&mut self, task: &NewTask) -> Result<TaskRecord, DbError> {
        let now = now();
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| DbError::Sqlite {
                path: path.clone(),
                source: e,
            })?;
        insert(&tx, task, now).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                DbError::Duplicate {
                    path: path.clone(),
                    id: task.id.clone(),
                }
            }
            other => DbError::Sqlite {
                path: path.clone(),
                source: other,
            },
        })?;
        let record = get(&tx, &path, &task.id)?.expect("row inserted in this transaction");
        tx.commit()
            .map_err(|e| DbError::Sqlite { path, source: e })?;
        Ok(record)
    }

    /// Adds `task`, unless a task with the same identity can still produce results (ExPyRe's
    /// restart rule); then returns that one instead. `true` means reused. Atomic across
    /// processes: two processes creating the same task get the same row.
    pub fn create_or_reuse(&mut self, task: &NewTask) -> Result<(TaskRecord, bool), DbError> {
        let now = now();
        let path = self.path.clone();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let reusable = TaskStatus::CAN_PRODUCE_RESULTS
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        let existing: Option<String> = tx
            .query_row(
                &format!(
                    "SELECT id FROM tasks WHERE identity = ?1 AND status IN ({reusable}) \
                     ORDER BY created_at DESC LIMIT 1"
                ),
                params![task.identity],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        let (id, reused) = match existing {
            Some(id) => (TaskId::new(id), true),
            None => {
                insert(&tx, task, now).map_err(sql)?;
                (task.id.clone(), false)
            }
        };
        let record = get(&tx, &path, &id)?.expect("row exists in this transaction");
        tx.commit().map_err(sql)?;
        Ok((record, reused))
    }

    /// The task `id`, if the DB has it.
    pub fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, DbError> {
        get(&self.conn, &self.path, id)
    }

    /// Moves task `id` from one of `from` to `to`, applying `update`, and records it in the
    /// history. Fails with [`DbError::WrongState`] (changing nothing) if another process moved
    /// the task first.
    pub fn transition(
        &mut self,
        id: &TaskId,
        from: &[TaskStatus],
        to: TaskStatus,
        update: &TaskUpdate,
    ) -> Result<TaskRecord, DbError> {
        let now = now();
        let path = self.path.clone();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let current = get(&tx, &path, id)?.ok_or_else(|| DbError::NoSuchTask {
            path: path.clone(),
            id: id.clone(),
        })?;
        if !from.is_empty() && !from.contains(&current.status) {
            return Err(DbError::WrongState {
                id: id.clone(),
                actual: current.status,
                expected: from.to_vec(),
                to,
            });
        }
        tx.execute(
            "UPDATE tasks SET status = ?2, updated_at = ?3,
                scheduler_job_id = COALESCE(?4, scheduler_job_id),
                sched_state = COALESCE(?5, sched_state),
                exit_code = COALESCE(?6, exit_code),
                node = COALESCE(?7, node),
                reason = COALESCE(?8, reason),
                remote_dir = COALESCE(?9, remote_dir),
                local_dir = COALESCE(?10, local_dir)
             WHERE id = ?1",
            params![
                id.as_str(),
                to.as_str(),
                now,
                update.scheduler_job_id.as_ref().map(|j| j.as_str()),
                update.sched_state,
                update.exit_code,
                update.node,
                update.reason,
                update.remote_dir,
                update.local_dir,
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO history (task_id, at, from_status, to_status, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.as_str(), now, current.status.as_str(), to.as_str(), update.detail],
        )
        .map_err(sql)?;
        let record = get(&tx, &path, id)?.expect("row exists in this transaction");
        tx.commit().map_err(sql)?;
        Ok(record)
    }

    /// Tasks matching `filter`, oldest first.
    pub fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, DbError> {
        let mut sql = format!("SELECT {COLUMNS} FROM tasks");
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        if !statuses.is_empty() {
            // Only constant status names are spliced in, never user text.
            let quoted: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
            sql.push_str(&format!(" WHERE status IN ({})", quoted.join(",")));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], record::RawRow::from_row)
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let record = row.map_err(|e| self.sql(e))?.into_record(&self.path)?;
            if filter.matches(&record) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Tasks matching `filter`, oldest first, without their spec and identity: what listings
    /// show, read from an index alone (see migration 2), several times faster than
    /// [`list`](Db::list) on a large DB.
    pub fn list_summaries(&self, filter: &TaskFilter) -> Result<Vec<TaskSummary>, DbError> {
        let mut out = Vec::new();
        self.for_each_summary(filter, |s| out.push(s.to_summary()))?;
        Ok(out)
    }

    /// Calls `visit` for each task matching `filter`, oldest first, with its listing columns
    /// borrowed from the row being read: nothing is allocated per task, so a listing of
    /// 100,000 tasks can be read twice (once to size its columns, once to print) faster than
    /// it can be collected once.
    pub fn for_each_summary(
        &self,
        filter: &TaskFilter,
        mut visit: impl FnMut(&SummaryRef<'_>),
    ) -> Result<(), DbError> {
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM tasks");
        if !filter.statuses.is_empty() {
            // Only constant status names are spliced in, never user text.
            let quoted: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            sql.push_str(&format!(" WHERE status IN ({})", quoted.join(",")));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let summary = record::summary_from_row(row, &self.path)?;
            if filter.matches_summary(&summary) {
                visit(&summary);
            }
        }
        Ok(())
    }

    /// The history of task `id`, oldest first.
    pub fn history(&self, id: &TaskId) -> Result<Vec<HistoryEntry>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, from_status, to_status, detail FROM history WHERE task_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![id.as_str()], |row| {
                Ok((
                    row.get::<_, f64>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, from, to, detail) = row.map_err(|e| self.sql(e))?;
            let parse = |value: &str| {
                TaskStatus::from_name(value).ok_or_else(|| DbError::Corrupt {
                    path: self.path.clone(),
                    id: id.to_string(),
                    column: "history status",
                    value: value.to_owned(),
                })
            };
            out.push(HistoryEntry {
                at,
                from: from.as_deref().map(parse).transpose()?,
                to: parse(&to)?,
                detail,
            });
        }
        Ok(out)
    }

    /// Deletes task `id` and its history.
    pub fn remove(&mut self, id: &TaskId) -> Result<(), DbError> {
        let n = self
            .conn
            .execute("DELETE FROM tasks WHERE id = ?1", params![id.as_str()])
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(DbError::NoSuchTask {
                path: self.path.clone(),
                id: id.clone(),
            });
        }
        Ok(())
    }

    /// Clears what a killed process may have left: checkpoints the WAL into the main file and
    /// checks that a write lock can be taken (waiting up to [`BUSY_TIMEOUT`] for live writers,
    /// never breaking their locks or replacing the file).
    pub fn unlock(&mut self) -> Result<(), DbError> {
        let path = self.path.clone();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.sql(e))
    }

    /// Closes the DB, reporting any error SQLite gives on the way out.
    pub fn close(self) -> Result<(), DbError> {
        let path = self.path;
        self.conn
            .close()
            .map_err(|(_, source)| DbError::Sqlite { path, source })
    }
}

const COLUMNS: &str = "id, name, system, status, identity, spec, scheduler_job_id, sched_state, \
                       exit_code, node, reason, remote_dir, local_dir, created_at, updated_at";

/// The columns of [`TaskSummary`], in the order of the `tasks_listing` index.
const SUMMARY_COLUMNS: &str = "id, name, system, status, scheduler_job_id, sched_state, \
                               exit_code, node, reason, remote_dir, local_dir, created_at, \
                               updated_at";

fn insert(conn: &Connection, task: &NewTask, now: f64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tasks (id, name, system, status, identity, spec, remote_dir, local_dir, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'created', ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            task.id.as_str(),
            task.name,
            task.system.as_str(),
            task.identity,
            task.spec,
            task.remote_dir,
            task.local_dir,
            now
        ],
    )?;
    conn.execute(
        "INSERT INTO history (task_id, at, from_status, to_status, detail) VALUES (?1, ?2, NULL, 'created', NULL)",
        params![task.id.as_str(), now],
    )?;
    Ok(())
}

fn get(conn: &Connection, path: &Path, id: &TaskId) -> Result<Option<TaskRecord>, DbError> {
    let sql = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"))
        .map_err(sql)?;
    let raw = stmt
        .query_row(params![id.as_str()], record::RawRow::from_row)
        .optional()
        .map_err(sql)?;
    raw.map(|r| r.into_record(path)).transpose()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
