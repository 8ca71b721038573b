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
//! destroy data. A DB written by a newer xpr is refused, not downgraded. Version 3 added
//! attempts: each task's single job of versions 1-2 became its attempt 1, its free-text
//! `sched_state` became a typed `end_state` (the old column is kept, no longer written), and
//! the "cancel requested" history note became the `cancel_requested_at` column.
//!
//! # Attempts
//!
//! A task's job fields (`attempt`, `scheduler_job_id`, `end_state`, `exit_code`, `node`,
//! `reason`) are its current attempt's, kept in the `tasks` row so listings read one index;
//! the `attempts` table keeps every attempt. Both are written in the same transaction: a
//! transition into `submitting` of a task with no current attempt opens the next one, and
//! every job field a transition sets goes to both.

mod record;
mod state;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use record::{
    Attempt, Change, GroupMember, HistoryEntry, NativeChild, NewTask, SummaryRef, TaskFilter,
    TaskRecord, TaskSummary, TaskUpdate,
};
pub use state::{DependencyKind, EndState, TaskStatus};

use crate::ids::{GroupId, SchedulerJobId, SystemName, TaskId};

/// How long a writer waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The schema version this xpr writes (the newest it knows).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

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
    // 3: attempts, typed end states, the cancel request as a column. Each task's one job
    // becomes its attempt 1; the old `sched_state` words become end states (in-flight words
    // such as `queued`/`running` were never end states and are dropped: the status says it).
    "ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN end_state TEXT;
    ALTER TABLE tasks ADD COLUMN cancel_requested_at REAL;
    UPDATE tasks SET end_state = CASE
        WHEN status IN ('created', 'staged', 'submitting', 'submitted', 'started') THEN NULL
        WHEN sched_state IN ('succeeded', 'failed', 'missing_outputs', 'no_exit_status',
            'timeout', 'out_of_memory', 'node_fail', 'preempted', 'cancelled', 'vanished',
            'submit_failed') THEN sched_state
        WHEN status = 'succeeded' THEN 'succeeded'
        WHEN status = 'died' THEN 'vanished'
        WHEN status = 'failed' THEN 'job_failed'
        ELSE NULL END;
    UPDATE tasks SET cancel_requested_at = (SELECT MAX(h.at) FROM history h
        WHERE h.task_id = tasks.id AND h.detail = 'cancel requested');
    CREATE TABLE attempts (
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        system TEXT NOT NULL,
        scheduler_job_id TEXT,
        end_state TEXT,
        exit_code INTEGER,
        node TEXT,
        reason TEXT,
        submitted_at REAL,
        started_at REAL,
        ended_at REAL,
        PRIMARY KEY (task_id, number)
    );
    INSERT INTO attempts (task_id, number, system, scheduler_job_id, end_state, exit_code,
            node, reason, submitted_at, started_at, ended_at)
        SELECT id, 1, system, scheduler_job_id, end_state, exit_code, node, reason,
            (SELECT MIN(h.at) FROM history h WHERE h.task_id = tasks.id
                AND h.to_status = 'submitted'),
            (SELECT MIN(h.at) FROM history h WHERE h.task_id = tasks.id
                AND h.to_status = 'started'),
            (SELECT MIN(h.at) FROM history h WHERE h.task_id = tasks.id
                AND h.to_status IN ('succeeded', 'failed', 'died'))
        FROM tasks
        WHERE scheduler_job_id IS NOT NULL OR status = 'submitting'
            OR end_state = 'submit_failed';
    UPDATE tasks SET attempt = 1 WHERE id IN (SELECT task_id FROM attempts);
    DROP INDEX tasks_listing;
    CREATE INDEX tasks_listing3 ON tasks(created_at, id, name, system, status, attempt,
        scheduler_job_id, end_state, exit_code, node, reason, cancel_requested_at, remote_dir,
        local_dir, updated_at);",
    // 4: dependencies between tasks (a child waits in xpr, status `waiting`, for its
    // parents' ends). A parent cannot be deleted while a child names it.
    "CREATE TABLE dependencies (
        child TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        parent TEXT NOT NULL REFERENCES tasks(id),
        kind TEXT NOT NULL,
        PRIMARY KEY (child, parent)
    );
    CREATE INDEX dependencies_parent ON dependencies(parent);",
    // 5: what accounting says of an attempt's end: its run time, peak memory and the
    // scheduler's own words.
    "ALTER TABLE attempts ADD COLUMN elapsed_secs INTEGER;
    ALTER TABLE attempts ADD COLUMN peak_memory_kb INTEGER;
    ALTER TABLE attempts ADD COLUMN scheduler_reason TEXT;",
    // 6: a dependency the scheduler itself holds the child's current attempt on: the
    // parent's job id as it was when the child was submitted (NULL: xpr holds the child).
    "ALTER TABLE dependencies ADD COLUMN native_job TEXT;",
    // 7: the attempt a history row is about (NULL: none yet, or a row older than this), so
    // the changes read back as events name their job and end.
    "ALTER TABLE history ADD COLUMN attempt INTEGER;",
    // 8: sweeps, arrays and packs. A task may belong to a named sweep; a task's current
    // attempt (and each attempt, kept) may run as member `group_index` of a job that runs
    // several tasks (an array chunk or a pack), named by `job_group`.
    "ALTER TABLE tasks ADD COLUMN sweep TEXT;
    ALTER TABLE tasks ADD COLUMN job_group TEXT;
    ALTER TABLE tasks ADD COLUMN group_index INTEGER;
    ALTER TABLE attempts ADD COLUMN job_group TEXT;
    ALTER TABLE attempts ADD COLUMN group_index INTEGER;
    CREATE INDEX tasks_sweep ON tasks(sweep, created_at, id);",
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
    /// A task that other tasks wait for cannot be removed before them.
    #[error(
        "task {id} in jobs DB {path} is a parent of {} (hint: remove those first, or together \
         with it)",
        .children.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    )]
    HasChildren {
        /// The DB file.
        path: PathBuf,
        /// The parent.
        id: TaskId,
        /// The tasks waiting for it.
        children: Vec<TaskId>,
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
        self.create_task(task, &[], false).map(|(r, _)| r)
    }

    /// Adds `task`, unless a task with the same identity can still produce results (ExPyRe's
    /// restart rule); then returns that one instead. `true` means reused. Atomic across
    /// processes: two processes creating the same task get the same row.
    pub fn create_or_reuse(&mut self, task: &NewTask) -> Result<(TaskRecord, bool), DbError> {
        self.create_task(task, &[], true)
    }

    /// Adds `task`, `waiting` for `parents` when it has some (else `created`); with `reuse`,
    /// returns instead a task of the same identity that can still produce results (`true`).
    /// Every parent must exist.
    pub fn create_task(
        &mut self,
        task: &NewTask,
        parents: &[(TaskId, DependencyKind)],
        reuse: bool,
    ) -> Result<(TaskRecord, bool), DbError> {
        self.write(|tx, path, now| {
            let (id, reused) = create_in(tx, path, now, task, parents, reuse)?;
            Ok((existing(tx, path, &id)?, reused))
        })
    }

    /// [`Db::create_task`] for many tasks in ONE transaction (a sweep of 100,000 points is
    /// one commit, not 100,000): all are recorded or, on an error, none. Returns each task's
    /// id (its own, or the reused task's) and whether it was reused, in order. A parent may
    /// be a task created earlier in the same call.
    pub fn create_tasks(
        &mut self,
        tasks: &[(NewTask, Vec<(TaskId, DependencyKind)>)],
        reuse: bool,
    ) -> Result<Vec<(TaskId, bool)>, DbError> {
        self.write(|tx, path, now| {
            // Looked up for all at once: one statement per thousand tasks, not one each.
            let mut reusable = if reuse {
                let identities: Vec<&str> =
                    tasks.iter().map(|(t, _)| t.identity.as_str()).collect();
                newest_reusable(tx, path, &identities)?
            } else {
                HashMap::new()
            };
            let mut out = Vec::with_capacity(tasks.len());
            for (task, parents) in tasks {
                if let Some(id) = reusable.get(&task.identity) {
                    out.push((id.clone(), true));
                    continue;
                }
                let id = insert_new(tx, path, now, task, parents)?;
                if reuse {
                    // A later point of the same call with the same identity reuses this one.
                    reusable.insert(task.identity.clone(), id.clone());
                }
                out.push((id, false));
            }
            Ok(out)
        })
    }

    /// The parents of `child` with what it waits for in each, and each parent as it is now.
    pub fn parents(&self, child: &TaskId) -> Result<Vec<(DependencyKind, TaskSummary)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT parent, kind FROM dependencies WHERE child = ?1 ORDER BY parent",
            )
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(TaskId, DependencyKind)> = stmt
            .query_map(params![child], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (parent, kind) in rows {
            out.push((kind, existing(&self.conn, &self.path, &parent)?.summary));
        }
        Ok(out)
    }

    /// The tasks `ids` wait for, directly or through their parents (each once).
    pub fn ancestors(&self, ids: &[TaskId]) -> Result<Vec<TaskSummary>, DbError> {
        let mut seen: std::collections::HashSet<TaskId> = ids.iter().cloned().collect();
        let mut todo: Vec<TaskId> = ids.to_vec();
        let mut out = Vec::new();
        while let Some(child) = todo.pop() {
            for (_, parent) in self.parents(&child)? {
                if seen.insert(parent.id.clone()) {
                    todo.push(parent.id.clone());
                    out.push(parent);
                }
            }
        }
        Ok(out)
    }

    /// Writes down which parents of `child` the scheduler holds its next attempt on: each
    /// `(parent, Some(job))` is a native dependency on that job of the parent, each
    /// `(parent, None)` one xpr holds. Parents not named keep what they had.
    pub fn set_native_jobs(
        &mut self,
        child: &TaskId,
        jobs: &[(TaskId, Option<SchedulerJobId>)],
    ) -> Result<(), DbError> {
        self.write(|tx, path, _| {
            for (parent, job) in jobs {
                tx.execute(
                    "UPDATE dependencies SET native_job = ?3 WHERE child = ?1 AND parent = ?2",
                    params![child, parent, job],
                )
                .map_err(sql_at(path))?;
            }
            Ok(())
        })
    }

    /// The native dependencies of `child`'s current attempt: what it waits for and on which
    /// job, by parent.
    pub fn native_parents(
        &self,
        child: &TaskId,
    ) -> Result<Vec<(DependencyKind, TaskId, SchedulerJobId)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, parent, native_job FROM dependencies
                 WHERE child = ?1 AND native_job IS NOT NULL ORDER BY parent",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map(params![child], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(|e| self.sql(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| self.sql(e))
    }

    /// The tasks of `system` in one of `statuses` that the scheduler holds on a parent's job,
    /// each with those dependencies: (kind, the parent's job it waits on, the parent as it is
    /// now). One query over the dependency rows that have a native job.
    pub fn native_children(
        &self,
        system: &SystemName,
        statuses: &[TaskStatus],
    ) -> Result<Vec<NativeChild>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.child, d.kind, d.native_job, d.parent, c.status
                 FROM dependencies d JOIN tasks c ON c.id = d.child
                 WHERE d.native_job IS NOT NULL AND c.system = ?1
                 ORDER BY d.child, d.parent",
            )
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(TaskId, DependencyKind, SchedulerJobId, TaskId, TaskStatus)> = stmt
            .query_map(params![system], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        let mut out: Vec<NativeChild> = Vec::new();
        for (child, kind, job, parent, status) in rows {
            if !statuses.contains(&status) {
                continue;
            }
            let parent = existing(&self.conn, &self.path, &parent)?.summary;
            match out.last_mut() {
                Some(last) if last.child.id == child => last.parents.push((kind, job, parent)),
                _ => out.push(NativeChild {
                    child: existing(&self.conn, &self.path, &child)?.summary,
                    parents: vec![(kind, job, parent)],
                }),
            }
        }
        Ok(out)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction (see the module docs) with the DB
    /// file's path and the time of the change, committing if it succeeds.
    fn write<T>(
        &mut self,
        body: impl FnOnce(&Connection, &Path, f64) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let path = self.path.clone();
        let sql = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let out = body(&tx, &path, now())?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Runs `body` in one read transaction: every read it makes sees the DB as the first of
    /// them found it, whatever other processes commit meanwhile (in WAL mode a reader holds
    /// its snapshot without blocking writers). For reads that must agree with each other,
    /// such as an export of every task with its attempts and history.
    pub fn snapshot<T>(&self, body: impl FnOnce(&Db) -> Result<T, DbError>) -> Result<T, DbError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        let out = body(self)?;
        // Nothing was written: committing only ends the read (dropping would roll back).
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(out)
    }

    /// The task `id`, if the DB has it.
    pub fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, DbError> {
        get(&self.conn, &self.path, id)
    }

    /// The tasks `ids` the DB has, in the order of `ids` (one that is not there is left out):
    /// one statement per thousand, not one per task.
    pub fn get_many(&self, ids: &[TaskId]) -> Result<Vec<TaskRecord>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS}, {SUMMARY_COLUMNS} FROM tasks \
                 WHERE id IN (SELECT value FROM json_each(?1))"
            ))
            .map_err(|e| self.sql(e))?;
        let mut by_id: HashMap<TaskId, TaskRecord> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let list = serde_json::to_string(chunk).expect("ids serialize");
            let mut rows = stmt.query(params![list]).map_err(|e| self.sql(e))?;
            while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
                let record = record::record_from_row(row, &self.path)?;
                by_id.insert(record.id.clone(), record);
            }
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Moves task `id` from one of `from` to `to`, applying `update`, and records it in the
    /// history. Entering `submitting` with no current attempt opens the next attempt; the job
    /// fields of `update` go to the task and to its current attempt. Fails with
    /// [`DbError::WrongState`] (changing nothing) if another process moved the task first.
    pub fn transition(
        &mut self,
        id: &TaskId,
        from: &[TaskStatus],
        to: TaskStatus,
        update: &TaskUpdate,
    ) -> Result<TaskRecord, DbError> {
        self.write(|tx, path, now| transition_in(tx, path, now, id, from, to, update))
    }

    /// [`Db::transition`] for many tasks in ONE transaction (a batch of 1,000 tasks is one
    /// commit, not 1,000): each moves from one of `from` to `to` with its own update; one that
    /// another process moved first is left as it is (`None` in its place) without failing the
    /// others. Returns, in order, whether each moved (the records are not read back: a batch
    /// of 10,000 would hold them all).
    pub fn transition_many(
        &mut self,
        moves: &[(TaskId, TaskUpdate)],
        from: &[TaskStatus],
        to: TaskStatus,
    ) -> Result<Vec<bool>, DbError> {
        self.write(|tx, path, now| {
            moves
                .iter()
                .map(
                    |(id, update)| match move_in(tx, path, now, id, from, to, update) {
                        Ok(()) => Ok(true),
                        Err(DbError::WrongState { .. }) => Ok(false),
                        Err(e) => Err(e),
                    },
                )
                .collect()
        })
    }

    /// Sets task `id`'s status by hand (`xpr reset_status`): its current attempt stops being
    /// current (kept in [`Db::attempts`], marked ended if it had not), and the task's job
    /// fields and cancel request are cleared, so listings never show an old job as current.
    /// The next submission opens a new attempt.
    pub fn reset(
        &mut self,
        id: &TaskId,
        to: TaskStatus,
        detail: &str,
    ) -> Result<TaskRecord, DbError> {
        self.write(|tx, path, now| {
            let sql = sql_at(path);
            let current = existing(tx, path, id)?;
            tx.execute(
                "UPDATE attempts SET ended_at = COALESCE(ended_at, ?3) WHERE task_id = ?1 AND number = ?2",
                params![id, current.attempt, now],
            )
            .map_err(sql)?;
            tx.execute(
                "UPDATE tasks SET status = ?2, updated_at = ?3, attempt = 0, scheduler_job_id = NULL,
                    end_state = NULL, exit_code = NULL, node = NULL, reason = NULL,
                    cancel_requested_at = NULL, job_group = NULL, group_index = NULL
                 WHERE id = ?1",
                params![id, to, now],
            )
            .map_err(sql)?;
            tx.execute(
                "UPDATE dependencies SET native_job = NULL WHERE child = ?1",
                params![id],
            )
            .map_err(sql)?;
            add_history(
                tx,
                id,
                now,
                current.attempt,
                Some(current.status),
                to,
                Some(detail),
            )
            .map_err(sql)?;
            Ok(get(tx, path, id)?.expect("row exists in this transaction"))
        })
    }

    /// Ends task `id`'s current attempt as `end` says (its end state, exit code, node, reason
    /// go to the attempt) and makes the task `created` again for its next attempt, in one
    /// transaction: the task shows no job until it is submitted again, which opens the next
    /// attempt. `spec` replaces the stored spec (a retry with more resources has a new job
    /// script). Fails with [`DbError::WrongState`] if the task is not in one of `from`.
    pub fn retry(
        &mut self,
        id: &TaskId,
        from: &[TaskStatus],
        end: &TaskUpdate,
        spec: Option<&str>,
    ) -> Result<TaskRecord, DbError> {
        self.next_attempt(id, from, end, spec, TaskStatus::Created)
    }

    /// Like [`Db::retry`], but the task goes back to `waiting` for its parents: its attempt
    /// was held by the scheduler on a parent's job that can no longer let it run as xpr
    /// means (the parent was retried, or ended in a way the scheduler reads otherwise).
    pub fn wait_again(
        &mut self,
        id: &TaskId,
        from: &[TaskStatus],
        end: &TaskUpdate,
    ) -> Result<TaskRecord, DbError> {
        self.next_attempt(id, from, end, None, TaskStatus::Waiting)
    }

    /// Ends the current attempt of `id` and makes the task `to` (`created` or `waiting`),
    /// with no job and no native dependency, for its next attempt.
    fn next_attempt(
        &mut self,
        id: &TaskId,
        from: &[TaskStatus],
        end: &TaskUpdate,
        spec: Option<&str>,
        to: TaskStatus,
    ) -> Result<TaskRecord, DbError> {
        self.write(|tx, path, now| {
            let sql = sql_at(path);
            let current = existing(tx, path, id)?;
            if !from.contains(&current.status) {
                return Err(DbError::WrongState {
                    id: id.clone(),
                    actual: current.status,
                    expected: from.to_vec(),
                    to,
                });
            }
            update_attempt(tx, id, current.attempt, end, to, true, now).map_err(sql)?;
            tx.execute(
                "UPDATE tasks SET status = ?5, updated_at = ?2, attempt = 0,
                    scheduler_job_id = NULL, end_state = NULL, exit_code = NULL, node = NULL,
                    reason = NULL, spec = COALESCE(?3, spec), local_dir = COALESCE(?4, local_dir),
                    job_group = NULL, group_index = NULL
                 WHERE id = ?1",
                params![id, now, spec, end.local_dir, to],
            )
            .map_err(sql)?;
            tx.execute(
                "UPDATE dependencies SET native_job = NULL WHERE child = ?1",
                params![id],
            )
            .map_err(sql)?;
            add_history(
                tx,
                id,
                now,
                current.attempt,
                Some(current.status),
                to,
                end.detail.as_deref(),
            )
            .map_err(sql)?;
            existing(tx, path, id)
        })
    }

    /// Every task id and every group id (of any attempt) the DB knows: what owns a run dir
    /// (`xpr clean --orphans` removes the others).
    pub fn owned_names(&self) -> Result<(HashSet<TaskId>, HashSet<GroupId>), DbError> {
        let mut ids = self
            .conn
            .prepare_cached("SELECT id FROM tasks")
            .map_err(|e| self.sql(e))?;
        let tasks = ids
            .query_map([], |row| row.get(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<HashSet<TaskId>, _>>()
            .map_err(|e| self.sql(e))?;
        let mut groups = self
            .conn
            .prepare_cached(
                "SELECT job_group FROM tasks WHERE job_group IS NOT NULL
                 UNION SELECT job_group FROM attempts WHERE job_group IS NOT NULL",
            )
            .map_err(|e| self.sql(e))?;
        let groups = groups
            .query_map([], |row| row.get(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<HashSet<GroupId>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok((tasks, groups))
    }

    /// The groups (array chunks, packs) that an attempt of one of `ids` ran in and whose
    /// every member, by any attempt, is `cleaned`: their `grp_<id>` dirs serve nothing now.
    /// One pass over the grouped attempts and tasks.
    pub fn groups_cleaned_with(&self, ids: &HashSet<TaskId>) -> Result<Vec<GroupId>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.job_group, a.task_id, t.status FROM attempts a
                   JOIN tasks t ON t.id = a.task_id WHERE a.job_group IS NOT NULL
                 UNION SELECT job_group, id, status FROM tasks WHERE job_group IS NOT NULL",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, GroupId>(0)?,
                    row.get::<_, TaskId>(1)?,
                    row.get::<_, TaskStatus>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        // Per group: whether one of `ids` ran in it, and whether a member is not cleaned.
        let mut groups: HashMap<GroupId, (bool, bool)> = HashMap::new();
        for row in rows {
            let (group, task, status) = row.map_err(|e| self.sql(e))?;
            let entry = groups.entry(group).or_default();
            entry.0 |= ids.contains(&task);
            entry.1 |= status != TaskStatus::Cleaned;
        }
        let mut done: Vec<GroupId> = groups
            .into_iter()
            .filter(|(_, (ours, busy))| *ours && !*busy)
            .map(|(group, _)| group)
            .collect();
        done.sort();
        Ok(done)
    }

    /// The tasks of `system` in the scheduler (`submitted`, `started`) that run as members of
    /// a group (an array chunk or a pack), with their group.
    pub fn in_flight_groups(&self, system: &SystemName) -> Result<Vec<(TaskId, GroupId)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, job_group FROM tasks WHERE system = ?1
                 AND status IN (?2, ?3) AND job_group IS NOT NULL",
            )
            .map_err(|e| self.sql(e))?;
        let [submitted, started] = TaskStatus::IN_SCHEDULER;
        let rows = stmt
            .query_map(params![system, submitted, started], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Writes down that the cancellation of `ids` was asked for (`cancel_requested_at`, and a
    /// history note), for those still ongoing, in one transaction; returns them as they are
    /// now. Finished tasks are left as they are and not returned. Schedulers' accounting may
    /// not tell a cancelled job from one killed otherwise (Grid Engine), and a task not yet
    /// submitted must never be: the column is what the engine reads.
    pub fn request_cancel(&mut self, ids: &[TaskId]) -> Result<Vec<TaskRecord>, DbError> {
        self.write(|tx, path, now| {
            let sql = sql_at(path);
            let mut out = Vec::new();
            for id in ids {
                let current = existing(tx, path, id)?;
                if current.status.is_finished() {
                    continue;
                }
                if current.cancel_requested_at.is_none() {
                    tx.execute(
                        "UPDATE tasks SET cancel_requested_at = ?2, updated_at = ?2 WHERE id = ?1",
                        params![id, now],
                    )
                    .map_err(sql)?;
                    add_history(
                        tx,
                        id,
                        now,
                        current.attempt,
                        Some(current.status),
                        current.status,
                        Some("cancel requested"),
                    )
                    .map_err(sql)?;
                }
                out.push(get(tx, path, id)?.expect("row exists in this transaction"));
            }
            Ok(out)
        })
    }

    /// Those of `ids` that have had an attempt (their run dir may hold an earlier attempt's
    /// files).
    pub fn with_attempts(&self, ids: &[TaskId]) -> Result<Vec<TaskId>, DbError> {
        let mut out = Vec::new();
        // SQLite allows 32,766 parameters; stay far below.
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT DISTINCT task_id FROM attempts WHERE task_id IN ({marks})"
                ))
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(chunk.iter()), |row| row.get(0))
                .map_err(|e| self.sql(e))?;
            for row in rows {
                out.push(row.map_err(|e| self.sql(e))?);
            }
        }
        Ok(out)
    }

    /// Every attempt of task `id`, first first.
    pub fn attempts(&self, id: &TaskId) -> Result<Vec<Attempt>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = ?1 ORDER BY number"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![id], record::attempt_from_row)
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Tasks matching `filter`, oldest first.
    pub fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, DbError> {
        let (sql, args) = select_sql(&format!("{RECORD_COLUMNS}, {SUMMARY_COLUMNS}"), filter);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args.iter()))
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let record = record::record_from_row(row, &self.path)?;
            if filter.matches(&record) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Tasks matching `filter`, oldest first, without their spec and identity: what listings
    /// show, read from an index alone (see migrations 2 and 3), several times faster than
    /// [`list`](Db::list) on a large DB.
    pub fn list_summaries(&self, filter: &TaskFilter) -> Result<Vec<TaskSummary>, DbError> {
        let mut out = Vec::new();
        self.for_each_summary(filter, |s| out.push(s.to_summary()))?;
        Ok(out)
    }

    /// Calls `visit` for each task matching `filter`, oldest first, with its listing columns
    /// borrowed from the row being read: nothing is allocated per task, so a listing of
    /// 100,000 tasks can be read twice (once to size its columns, once to print) faster than
    /// it can be collected once. Statuses and system are filtered in SQL.
    pub fn for_each_summary(
        &self,
        filter: &TaskFilter,
        mut visit: impl FnMut(&SummaryRef<'_>),
    ) -> Result<(), DbError> {
        let (sql, args) = select_sql(SUMMARY_COLUMNS, filter);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args.iter()))
            .map_err(|e| self.sql(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let summary = record::summary_from_row(row, 0, &self.path)?;
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
            .query_map(params![id], |row| {
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

    /// The state changes of every task after history row `after` (0: from the first),
    /// oldest first, at most `limit`; each with its task's name and system and, where the
    /// row names an attempt, that attempt's job and end. What
    /// [`Session::events`](crate::session::Session::events) reads, in one query.
    pub fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT h.seq, h.at, h.task_id, t.name, t.system, h.from_status, h.to_status,
                    h.detail, h.attempt, a.scheduler_job_id, a.node,
                    COALESCE(a.end_state, t.end_state), COALESCE(a.exit_code, t.exit_code),
                    COALESCE(a.reason, t.reason), t.local_dir,
                    h.from_status IS h.to_status AND h.at = t.cancel_requested_at
                 FROM history h JOIN tasks t ON t.id = h.task_id
                 LEFT JOIN attempts a ON a.task_id = h.task_id AND a.number = h.attempt
                 WHERE h.seq > ?1 ORDER BY h.seq LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map(params![after, limit as i64], |row| {
            Ok(Change {
                seq: row.get(0)?,
                at: row.get(1)?,
                task: row.get(2)?,
                name: row.get(3)?,
                system: row.get(4)?,
                from: row.get(5)?,
                to: row.get(6)?,
                detail: row.get(7)?,
                attempt: row.get::<_, Option<u32>>(8)?.unwrap_or(0),
                job: row.get(9)?,
                node: row.get(10)?,
                end_state: row.get(11)?,
                exit_code: row.get(12)?,
                reason: row.get(13)?,
                local_dir: row.get(14)?,
                cancel_request: row.get(15)?,
            })
        })
        .map_err(|e| self.sql(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| self.sql(e))
    }

    /// The number of the first history row of any of `tasks` (one indexed lookup each);
    /// one past the newest row when they have none.
    pub fn first_change_of(&self, tasks: &[TaskId]) -> Result<i64, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT MIN(seq) FROM history WHERE task_id = ?1")
            .map_err(|e| self.sql(e))?;
        let mut first = self.last_change()? + 1;
        for id in tasks {
            let seq: Option<i64> = stmt
                .query_row(params![id], |row| row.get(0))
                .map_err(|e| self.sql(e))?;
            first = seq.map_or(first, |s| s.min(first));
        }
        Ok(first)
    }

    /// The newest history row's number (0 when there is none): changes after it are new.
    pub fn last_change(&self) -> Result<i64, DbError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM history", [], |row| {
                row.get(0)
            })
            .map_err(|e| self.sql(e))
    }

    /// Deletes task `id` and its history. Refused while another task waits for it.
    pub fn remove(&mut self, id: &TaskId) -> Result<(), DbError> {
        let children: Vec<TaskId> = self
            .conn
            .prepare_cached("SELECT child FROM dependencies WHERE parent = ?1 ORDER BY child")
            .and_then(|mut stmt| {
                stmt.query_map(params![id], |row| row.get(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.sql(e))?;
        if !children.is_empty() {
            return Err(DbError::HasChildren {
                path: self.path.clone(),
                id: id.clone(),
                children,
            });
        }
        let n = self
            .conn
            .execute("DELETE FROM tasks WHERE id = ?1", params![id])
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

/// The columns of [`TaskSummary`], in the order of the `tasks_listing3` index.
const SUMMARY_COLUMNS: &str = "id, name, system, status, attempt, scheduler_job_id, end_state, \
                               exit_code, node, reason, cancel_requested_at, remote_dir, \
                               local_dir, created_at, updated_at";

/// The columns of a [`TaskRecord`] beyond its summary, in the order `record_from_row` reads.
const RECORD_COLUMNS: &str = "identity, spec, sweep, job_group, group_index";

/// The columns of [`Attempt`], in order.
const ATTEMPT_COLUMNS: &str = "number, system, scheduler_job_id, end_state, exit_code, node, \
                               reason, submitted_at, started_at, ended_at, elapsed_secs, \
                               peak_memory_kb, scheduler_reason, job_group, group_index";

/// `SELECT columns FROM tasks` with `filter`'s statuses and system as bound parameters,
/// oldest first.
fn select_sql(columns: &str, filter: &TaskFilter) -> (String, Vec<String>) {
    let (wheres, args) = where_sql(filter);
    (
        format!("SELECT {columns} FROM tasks{wheres} ORDER BY created_at, id"),
        args,
    )
}

/// ` WHERE ...` with `filter`'s statuses, system and sweep as bound parameters (empty when
/// it has none of them), and the parameters.
fn where_sql(filter: &TaskFilter) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args: Vec<String> = Vec::new();
    let mut wheres = Vec::new();
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| {
                args.push(s.as_str().to_owned());
                format!("?{}", args.len())
            })
            .collect();
        wheres.push(format!("status IN ({})", marks.join(",")));
    }
    if let Some(system) = &filter.system {
        args.push(system.as_str().to_owned());
        wheres.push(format!("system = ?{}", args.len()));
    }
    if let Some(sweep) = &filter.sweep {
        args.push(sweep.clone());
        wheres.push(format!("sweep = ?{}", args.len()));
    }
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    (sql, args)
}

/// Writes `update`'s job fields to attempt `number` of task `id`, its start or submission
/// time when the task moves `to` that status, and its end time when it ends (`ends`, or an
/// end state in `update`), kept once set.
fn update_attempt(
    conn: &Connection,
    id: &TaskId,
    number: u32,
    update: &TaskUpdate,
    to: TaskStatus,
    ends: bool,
    now: f64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE attempts SET
            scheduler_job_id = COALESCE(?3, scheduler_job_id),
            end_state = COALESCE(?4, end_state),
            exit_code = COALESCE(?5, exit_code),
            node = COALESCE(?6, node),
            reason = COALESCE(?7, reason),
            submitted_at = CASE WHEN ?8 = 'submitted'
                THEN COALESCE(submitted_at, ?9) ELSE submitted_at END,
            started_at = CASE WHEN ?8 = 'started'
                THEN COALESCE(started_at, ?9) ELSE started_at END,
            ended_at = CASE WHEN ?4 IS NOT NULL OR ?13
                THEN COALESCE(ended_at, ?9) ELSE ended_at END,
            elapsed_secs = COALESCE(?10, elapsed_secs),
            peak_memory_kb = COALESCE(?11, peak_memory_kb),
            scheduler_reason = COALESCE(?12, scheduler_reason)
         WHERE task_id = ?1 AND number = ?2",
    )?
    .execute(params![
        id,
        number,
        update.scheduler_job_id,
        update.end_state,
        update.exit_code,
        update.node,
        update.reason,
        to,
        now,
        update.elapsed_secs.and_then(|v| i64::try_from(v).ok()),
        update.peak_memory_kb.and_then(|v| i64::try_from(v).ok()),
        update.scheduler_reason,
        ends,
    ])?;
    Ok(())
}

/// Appends a history row; `attempt` is the attempt it is about (0: none).
#[allow(clippy::too_many_arguments)]
fn add_history(
    conn: &Connection,
    id: &TaskId,
    at: f64,
    attempt: u32,
    from: Option<TaskStatus>,
    to: TaskStatus,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO history (task_id, at, from_status, to_status, detail, attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        at,
        from,
        to,
        detail,
        (attempt > 0).then_some(attempt)
    ])?;
    Ok(())
}

/// Moves task `id` in the open transaction `tx` (see [`Db::transition`]), without reading it
/// back.
fn move_in(
    tx: &Connection,
    path: &Path,
    now: f64,
    id: &TaskId,
    from: &[TaskStatus],
    to: TaskStatus,
    update: &TaskUpdate,
) -> Result<(), DbError> {
    let sql = sql_at(path);
    let current = existing(tx, path, id)?;
    if !from.is_empty() && !from.contains(&current.status) {
        return Err(DbError::WrongState {
            id: id.clone(),
            actual: current.status,
            expected: from.to_vec(),
            to,
        });
    }
    let mut attempt = current.attempt;
    if to == TaskStatus::Submitting && attempt == 0 {
        attempt = tx
            .query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE task_id = ?1",
                params![id],
                |row| row.get(0),
            )
            .map_err(sql)?;
        // A member of an array chunk or a pack: its attempt keeps which one.
        tx.prepare_cached(
            "INSERT INTO attempts (task_id, number, system, job_group, group_index)
             SELECT ?1, ?2, ?3, COALESCE(?4, job_group), COALESCE(?5, group_index)
             FROM tasks WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                id,
                attempt,
                current.system.as_str(),
                update.group.as_ref().map(|g| &g.group),
                update.group.as_ref().map(|g| g.index),
            ])
        })
        .map_err(sql)?;
    }
    tx.prepare_cached(
        "UPDATE tasks SET status = ?2, updated_at = ?3, attempt = ?4,
            scheduler_job_id = COALESCE(?5, scheduler_job_id),
            end_state = COALESCE(?6, end_state),
            exit_code = COALESCE(?7, exit_code),
            node = COALESCE(?8, node),
            reason = COALESCE(?9, reason),
            remote_dir = COALESCE(?10, remote_dir),
            local_dir = COALESCE(?11, local_dir),
            spec = COALESCE(?12, spec),
            job_group = COALESCE(?13, job_group),
            group_index = COALESCE(?14, group_index)
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id.as_str(),
            to,
            now,
            attempt,
            update.scheduler_job_id,
            update.end_state,
            update.exit_code,
            update.node,
            update.reason,
            update.remote_dir,
            update.local_dir,
            update.spec,
            update.group.as_ref().map(|g| &g.group),
            update.group.as_ref().map(|g| g.index),
        ])
    })
    .map_err(sql)?;
    if attempt > 0 {
        update_attempt(tx, id, attempt, update, to, false, now).map_err(sql)?;
    }
    add_history(
        tx,
        id,
        now,
        attempt,
        Some(current.status),
        to,
        update.detail.as_deref(),
    )
    .map_err(sql)?;
    Ok(())
}

/// [`move_in`], then the task as it is now.
fn transition_in(
    tx: &Connection,
    path: &Path,
    now: f64,
    id: &TaskId,
    from: &[TaskStatus],
    to: TaskStatus,
    update: &TaskUpdate,
) -> Result<TaskRecord, DbError> {
    move_in(tx, path, now, id, from, to, update)?;
    Ok(get(tx, path, id)?.expect("row exists in this transaction"))
}

/// Records `task` in the open transaction `tx` (see [`Db::create_task`]): its id and `false`,
/// or with `reuse` the id of a task of the same identity that can still produce results and
/// `true`.
fn create_in(
    tx: &Connection,
    path: &Path,
    now: f64,
    task: &NewTask,
    parents: &[(TaskId, DependencyKind)],
    reuse: bool,
) -> Result<(TaskId, bool), DbError> {
    if reuse
        && let Some(id) =
            newest_reusable(tx, path, &[task.identity.as_str()])?.remove(&task.identity)
    {
        return Ok((id, true));
    }
    Ok((insert_new(tx, path, now, task, parents)?, false))
}

/// For each of `identities` that has one, the newest task of that identity that can still
/// produce results (ExPyRe's restart rule), by identity.
fn newest_reusable(
    tx: &Connection,
    path: &Path,
    identities: &[&str],
) -> Result<HashMap<String, TaskId>, DbError> {
    let sql = sql_at(path);
    // Made once. Only constant status names are spliced in, never user text. The identities
    // go in as one JSON array per chunk: a statement of its own per identity would be
    // prepared again at each run (SQLite replans a statement whose WHERE compares a column
    // with a bound value when the value changes), which was most of recording a sweep.
    static REUSE_SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let reuse_sql = REUSE_SQL.get_or_init(|| {
        let reusable = TaskStatus::CAN_PRODUCE_RESULTS
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "SELECT j.value, (SELECT t.id FROM tasks t WHERE t.identity = j.value \
                AND t.status IN ({reusable}) ORDER BY t.created_at DESC LIMIT 1) \
             FROM json_each(?1) j"
        )
    });
    let mut stmt = tx.prepare_cached(reuse_sql).map_err(sql)?;
    let mut found = HashMap::new();
    for chunk in identities.chunks(1000) {
        let list = serde_json::to_string(chunk).expect("strings serialize");
        let rows = stmt
            .query_map(params![list], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Option<TaskId>>(1)?))
            })
            .map_err(sql)?;
        for row in rows {
            if let (identity, Some(id)) = row.map_err(sql)? {
                found.insert(identity, id);
            }
        }
    }
    Ok(found)
}

/// Adds `task` as a new row (`waiting` for `parents` when it has some, else `created`);
/// every parent must exist.
fn insert_new(
    tx: &Connection,
    path: &Path,
    now: f64,
    task: &NewTask,
    parents: &[(TaskId, DependencyKind)],
) -> Result<TaskId, DbError> {
    let sql = sql_at(path);
    for (parent, _) in parents {
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row(params![parent], |row| row.get(0)))
            .optional()
            .map_err(sql)?;
        if known.is_none() {
            return Err(DbError::NoSuchTask {
                path: path.to_path_buf(),
                id: parent.clone(),
            });
        }
    }
    let status = if parents.is_empty() {
        TaskStatus::Created
    } else {
        TaskStatus::Waiting
    };
    insert(tx, task, status, now).map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            DbError::Duplicate {
                path: path.to_path_buf(),
                id: task.id.clone(),
            }
        }
        source => DbError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    })?;
    for (parent, kind) in parents {
        tx.prepare_cached("INSERT INTO dependencies (child, parent, kind) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute(params![task.id, parent, kind]))
            .map_err(sql)?;
    }
    Ok(task.id.clone())
}

fn insert(conn: &Connection, task: &NewTask, status: TaskStatus, now: f64) -> rusqlite::Result<()> {
    // Cached: a sweep inserts thousands of rows in one transaction.
    conn.prepare_cached(
        "INSERT INTO tasks (id, name, system, status, identity, spec, remote_dir, local_dir,
            created_at, updated_at, sweep)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
    )?
    .execute(params![
        task.id,
        task.name,
        task.system,
        status,
        task.identity,
        task.spec,
        task.remote_dir,
        task.local_dir,
        now,
        task.sweep,
    ])?;
    add_history(conn, &task.id, now, 0, None, status, None)
}

fn get(conn: &Connection, path: &Path, id: &TaskId) -> Result<Option<TaskRecord>, DbError> {
    let sql = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS}, {SUMMARY_COLUMNS} FROM tasks WHERE id = ?1"
        ))
        .map_err(sql)?;
    let mut rows = stmt.query(params![id]).map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(row) => record::record_from_row(row, path).map(Some),
        None => Ok(None),
    }
}

/// Wraps SQLite's errors with the DB file's path.
fn sql_at(path: &Path) -> impl Fn(rusqlite::Error) -> DbError + Copy + '_ {
    move |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// The task `id`, which must exist.
fn existing(conn: &Connection, path: &Path, id: &TaskId) -> Result<TaskRecord, DbError> {
    get(conn, path, id)?.ok_or_else(|| DbError::NoSuchTask {
        path: path.to_path_buf(),
        id: id.clone(),
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How many tasks of one system are in one status with one end state: a row of
/// [`Db::status_counts`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCount {
    /// The system.
    pub system: SystemName,
    /// The status.
    pub status: TaskStatus,
    /// The end state: `None` for a task that has not ended (or ended before end states
    /// were recorded).
    pub end_state: Option<EndState>,
    /// How many tasks.
    pub count: u64,
}

impl Db {
    /// How many tasks matching `filter` are in each (system, status, end state), ordered by
    /// system, then status and end state in life-cycle order: one `GROUP BY` read whatever
    /// the number of tasks (what `xpr top` reads at every refresh). Statuses, system and sweep
    /// are applied in SQL, system regexps to the groups; id or name regexps cannot be applied
    /// to a group, so a filter with them is counted task by task from the listing index.
    pub fn status_counts(&self, filter: &TaskFilter) -> Result<Vec<StatusCount>, DbError> {
        let mut counts: Vec<StatusCount> = Vec::new();
        if filter.ids.is_empty() && filter.names.is_empty() {
            let (wheres, args) = where_sql(filter);
            let sql = format!(
                "SELECT system, status, end_state, COUNT(*) FROM tasks{wheres}
                 GROUP BY system, status, end_state"
            );
            let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                    Ok(StatusCount {
                        system: row.get(0)?,
                        status: row.get(1)?,
                        end_state: row.get(2)?,
                        // COUNT(*) is never negative.
                        count: row.get::<_, i64>(3)?.unsigned_abs(),
                    })
                })
                .map_err(|e| self.sql(e))?;
            for row in rows {
                let count = row.map_err(|e| self.sql(e))?;
                let system = count.system.as_str();
                if filter.systems.is_empty() || filter.systems.iter().any(|r| r.is_match(system)) {
                    counts.push(count);
                }
            }
        } else {
            let mut by_group: HashMap<(String, TaskStatus, Option<EndState>), u64> = HashMap::new();
            self.for_each_summary(filter, |s| {
                *by_group
                    .entry((s.system.to_owned(), s.status, s.end_state))
                    .or_default() += 1;
            })?;
            counts.extend(
                by_group
                    .into_iter()
                    .map(|((system, status, end_state), count)| StatusCount {
                        system: SystemName::new(system),
                        status,
                        end_state,
                        count,
                    }),
            );
        }
        let position = |c: &StatusCount| {
            let status = TaskStatus::ALL.iter().position(|s| *s == c.status);
            let end = c
                .end_state
                .and_then(|e| EndState::ALL.iter().position(|s| *s == e));
            (status, end)
        };
        counts.sort_by(|a, b| {
            a.system
                .cmp(&b.system)
                .then_with(|| position(a).cmp(&position(b)))
        });
        Ok(counts)
    }
}
