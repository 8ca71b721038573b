//! Delivering a finished task's outputs from its local run dir to a directory the caller
//! chose: what `xpr run` does once the task has ended, for any Rust or Python caller alike.
//!
//! [`deliver_outputs`] takes the task's expected outputs (files or globs relative to the run
//! dir, as in [`TaskSpec::outputs`](crate::task::TaskSpec::outputs)) and copies what they match
//! to the destination, keeping relative paths. Its rules:
//!
//! - Only an output pattern is a pattern. The run dir's own path is escaped, so a stage root
//!   such as `.../we ird [x]/_expyre` stands for itself; a pattern without `*`, `?` or `[` is a
//!   plain path, as when the follow step checks the expected outputs.
//! - A pattern that matches nothing is an error naming it ([`DeliverError::Unmatched`]), raised
//!   once everything that did match is delivered: a missing delivery is never a success.
//! - A file already at the destination is never destroyed. Identical bytes: left as it is.
//!   Different bytes: by default the old file is kept as `NAME.~N~`, the next free number, as
//!   `cp --backup=numbered` does ([`Existing::KeepNumbered`]); or nothing is written and the
//!   delivery fails ([`Existing::Refuse`]).
//! - Each file is copied to a hidden temporary name in its destination directory, flushed to
//!   disk, and renamed over the output's name: a partial copy (a full disk, a killed process)
//!   never stands under that name. The old file's backup is a hard link made before the rename
//!   (a rename where hard links are not supported), so the output's name always holds either
//!   the old bytes or the new ones.
//! - A file keeps its mode and modification time; a matched directory is delivered whole.
//! - A symbolic link in the run dir is followed only when it resolves inside the run dir
//!   ([`crate::stage`] checked that when it unpacked the run dir; checked again here because
//!   the run dir is on disk, not in a stream).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::stage::safe_relative_path;

/// What to do when a destination file exists and holds other bytes than the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Existing {
    /// Keep the old file as `NAME.~N~` (the next free number) and deliver the output under
    /// its name, as `cp --backup=numbered` does. The default.
    #[default]
    KeepNumbered,
    /// Leave the old file and fail with [`DeliverError::Exists`].
    Refuse,
}

/// One file written at the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveredFile {
    /// Its path inside the run dir.
    pub output: PathBuf,
    /// Where it was written.
    pub dest: PathBuf,
    /// Where the file that was there before is kept (`NAME.~N~`), when there was one with
    /// other bytes.
    pub kept_aside: Option<PathBuf>,
}

/// What [`deliver_outputs`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The files written, in the order delivered.
    pub delivered: Vec<DeliveredFile>,
    /// Destination files that already held the output's bytes: left as they were.
    pub unchanged: Vec<PathBuf>,
}

impl Delivery {
    /// The files kept aside: (the name the output now has, where the old file is).
    pub fn kept_aside(&self) -> impl Iterator<Item = (&Path, &Path)> {
        self.delivered
            .iter()
            .filter_map(|f| Some((f.dest.as_path(), f.kept_aside.as_deref()?)))
    }

    /// Every destination path that now holds an output, written or already there.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.delivered
            .iter()
            .map(|f| f.dest.as_path())
            .chain(self.unchanged.iter().map(PathBuf::as_path))
    }
}

/// Outputs that could not be delivered. Each variant names the pattern or path at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// Expected outputs that match nothing in the run dir. Everything else was delivered.
    #[error(
        "expected output(s) {} matched nothing in {} (hint: the task's stdout and stderr, \
         `xpr logs`, may say why; its run dir holds what it wrote)",
        quoted(patterns),
        run_dir.display()
    )]
    Unmatched {
        /// The patterns, as given.
        patterns: Vec<String>,
        /// The run dir they were matched in.
        run_dir: PathBuf,
        /// What the other patterns delivered.
        delivered: Box<Delivery>,
    },
    /// An output pattern that is not a relative path inside the run dir, or not a glob.
    #[error("output {pattern:?} cannot be delivered: {why}")]
    BadPattern {
        /// The pattern, as given.
        pattern: String,
        /// What is wrong with it.
        why: String,
    },
    /// With [`Existing::Refuse`]: a destination file with other bytes than the output.
    #[error(
        "{} exists and differs from the task's {} (hint: move it away, or deliver elsewhere)",
        dest.display(),
        output.display()
    )]
    Exists {
        /// The destination file.
        dest: PathBuf,
        /// The output's path inside the run dir.
        output: PathBuf,
    },
    /// A destination path that holds a directory where the output is a file.
    #[error(
        "{} is a directory, the task's {} a file (hint: move the directory away, or deliver elsewhere)",
        dest.display(),
        output.display()
    )]
    DirectoryInTheWay {
        /// The destination path.
        dest: PathBuf,
        /// The output's path inside the run dir.
        output: PathBuf,
    },
    /// A symbolic link in the run dir that leads outside it, or an entry that is neither a
    /// file nor a directory.
    #[error("{} in the run dir is not delivered: {why}", output.display())]
    Unsupported {
        /// The output's path inside the run dir.
        output: PathBuf,
        /// Why.
        why: &'static str,
    },
    /// Reading the run dir or writing the destination failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`"copying to"`, `"reading"` ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn quoted(patterns: &[String]) -> String {
    patterns
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DeliverError {
    let path = path.to_owned();
    move |source| DeliverError::Io {
        action,
        path,
        source,
    }
}

/// Copies what `outputs` (files, directories or globs relative to `run_dir`) match in
/// `run_dir` to `dest`, keeping their relative paths; `existing` says what happens to a
/// destination file with other bytes. See the module docs for the rules.
///
/// A pattern matching nothing fails with [`DeliverError::Unmatched`] after the others are
/// delivered; any other error stops the delivery where it is (what was written stays).
pub fn deliver_outputs(
    run_dir: &Path,
    outputs: &[String],
    dest: &Path,
    existing: Existing,
) -> Result<Delivery, DeliverError> {
    let root = run_dir
        .canonicalize()
        .map_err(io_error("reading the run dir", run_dir))?;
    let mut work = Work {
        root,
        dest: dest.to_owned(),
        existing,
        delivery: Delivery::default(),
        written: HashSet::new(),
        dirs_seen: HashSet::new(),
    };
    let mut unmatched = Vec::new();
    for pattern in outputs {
        let matches = matching(run_dir, pattern)?;
        if matches.is_empty() {
            unmatched.push(pattern.clone());
        }
        for output in matches {
            work.entry(&output)?;
        }
    }
    if !unmatched.is_empty() {
        return Err(DeliverError::Unmatched {
            patterns: unmatched,
            run_dir: run_dir.to_owned(),
            delivered: Box::new(work.delivery),
        });
    }
    Ok(work.delivery)
}

/// The paths (relative to `run_dir`) that the expected output `pattern` matches, in glob
/// order: a pattern with `*`, `?` or `[` is a glob matched under the escaped `run_dir`, any
/// other a plain relative path. The follow step's check for missing outputs and the delivery
/// must agree on this rule, so both should call this.
pub(crate) fn matching(run_dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, DeliverError> {
    let bad = |why: String| DeliverError::BadPattern {
        pattern: pattern.to_owned(),
        why,
    };
    let relative = safe_relative_path(Path::new(pattern), "expected output")
        .map_err(|e| bad(e.to_string()))?;
    if !pattern.contains(['*', '?', '[']) {
        let exists = run_dir.join(&relative).symlink_metadata().is_ok();
        return Ok(if exists { vec![relative] } else { Vec::new() });
    }
    // The run dir is a path, never a pattern: only the user's part may hold wildcards.
    let full = PathBuf::from(glob::Pattern::escape(&run_dir.to_string_lossy())).join(&relative);
    let paths = glob::glob(&full.to_string_lossy()).map_err(|e| bad(e.to_string()))?;
    let mut found = Vec::new();
    for path in paths {
        let path = path.map_err(|e| {
            let path = e.path().to_owned();
            io_error("reading", &path)(e.into())
        })?;
        if let Ok(rel) = path.strip_prefix(run_dir) {
            found.push(rel.to_owned());
        }
    }
    Ok(found)
}

/// The state of one delivery.
struct Work {
    /// The run dir, canonical.
    root: PathBuf,
    dest: PathBuf,
    existing: Existing,
    delivery: Delivery,
    /// Destination files handled already (two patterns may match one file).
    written: HashSet<PathBuf>,
    /// Canonical directories walked already (a link to a parent would loop).
    dirs_seen: HashSet<PathBuf>,
}

impl Work {
    /// Delivers the file or directory at `output` (relative to the run dir).
    fn entry(&mut self, output: &Path) -> Result<(), DeliverError> {
        let source = self.root.join(output);
        let meta = source
            .symlink_metadata()
            .map_err(io_error("reading", &source))?;
        let (source, meta) = if meta.file_type().is_symlink() {
            let resolved = source
                .canonicalize()
                .map_err(io_error("following the link", &source))?;
            if !resolved.starts_with(&self.root) {
                return Err(DeliverError::Unsupported {
                    output: output.to_owned(),
                    why: "it is a link that leads outside the run dir",
                });
            }
            let meta = resolved
                .metadata()
                .map_err(io_error("reading", &resolved))?;
            (resolved, meta)
        } else {
            (source, meta)
        };
        if meta.is_dir() {
            self.directory(output, &source)
        } else if meta.is_file() {
            self.file(output, &source, &meta)
        } else {
            Err(DeliverError::Unsupported {
                output: output.to_owned(),
                why: "it is neither a file nor a directory",
            })
        }
    }

    fn directory(&mut self, output: &Path, source: &Path) -> Result<(), DeliverError> {
        let canonical = source.canonicalize().map_err(io_error("reading", source))?;
        if !self.dirs_seen.insert(canonical) {
            return Ok(());
        }
        let target = self.dest.join(output);
        fs::create_dir_all(&target).map_err(io_error("creating", &target))?;
        let mut names: Vec<OsString> = fs::read_dir(source)
            .map_err(io_error("listing", source))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_error("listing", source))?;
        names.sort();
        for name in names {
            self.entry(&output.join(name))?;
        }
        Ok(())
    }

    fn file(
        &mut self,
        output: &Path,
        source: &Path,
        meta: &fs::Metadata,
    ) -> Result<(), DeliverError> {
        let target = self.dest.join(output);
        if !self.written.insert(target.clone()) {
            return Ok(());
        }
        let dir = target.parent().unwrap_or(&self.dest).to_owned();
        fs::create_dir_all(&dir).map_err(io_error("creating", &dir))?;
        let replaces = match target.symlink_metadata() {
            Ok(old) if old.is_dir() => {
                return Err(DeliverError::DirectoryInTheWay {
                    dest: target,
                    output: output.to_owned(),
                });
            }
            Ok(_) => {
                if same_bytes(source, &target)? {
                    self.delivery.unchanged.push(target);
                    return Ok(());
                }
                if self.existing == Existing::Refuse {
                    return Err(DeliverError::Exists {
                        dest: target,
                        output: output.to_owned(),
                    });
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_error("reading", &target)(e)),
        };
        let temp = copy_to_temp(source, meta, &target)?;
        let kept_aside = if replaces {
            Some(keep_aside(&target)?)
        } else {
            None
        };
        fs::rename(&temp.path, &target).map_err(io_error("renaming into", &target))?;
        temp.disarm();
        self.delivery.delivered.push(DeliveredFile {
            output: output.to_owned(),
            dest: target,
            kept_aside,
        });
        Ok(())
    }
}

/// True when the file at `target` (followed, if a link) holds the same bytes as `source`;
/// false when it cannot be opened as a file (a dangling link).
fn same_bytes(source: &Path, target: &Path) -> Result<bool, DeliverError> {
    let Ok(mut theirs) = File::open(target) else {
        return Ok(false);
    };
    let their_meta = theirs.metadata().map_err(io_error("reading", target))?;
    let mut ours = File::open(source).map_err(io_error("reading", source))?;
    let our_meta = ours.metadata().map_err(io_error("reading", source))?;
    if !their_meta.is_file() || their_meta.len() != our_meta.len() {
        return Ok(false);
    }
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    loop {
        let n = read_full(&mut ours, &mut a).map_err(io_error("reading", source))?;
        let m = read_full(&mut theirs, &mut b).map_err(io_error("reading", target))?;
        if n != m || a[..n] != b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; the count read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A temporary file that is removed when dropped, unless disarmed once renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a leftover hidden `.NAME.xpr-part-*` is harmless.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Copies `source` to a new hidden file next to `target`, with the source's mode and
/// modification time, flushed to disk.
fn copy_to_temp(
    source: &Path,
    meta: &fs::Metadata,
    target: &Path,
) -> Result<TempFile, DeliverError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(
        ".xpr-part-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = TempFile {
        path: dir.join(name),
        armed: true,
    };
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.path)
        .map_err(io_error("creating", &temp.path))?;
    let mut input = File::open(source).map_err(io_error("reading", source))?;
    io::copy(&mut input, &mut out).map_err(io_error("copying to", &temp.path))?;
    out.set_permissions(meta.permissions())
        .map_err(io_error("setting the mode of", &temp.path))?;
    if let Ok(modified) = meta.modified() {
        out.set_modified(modified)
            .map_err(io_error("setting the time of", &temp.path))?;
    }
    out.sync_all().map_err(io_error("flushing", &temp.path))?;
    Ok(temp)
}

/// Keeps the file at `target` as `target.~N~`, N one more than the highest such number in
/// its directory (as `cp --backup=numbered`); returns the backup's path. The file stays at
/// `target` too (a hard link) where the file system allows it, so that the rename that follows
/// replaces it atomically.
fn keep_aside(target: &Path) -> Result<PathBuf, DeliverError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default();
    let mut number = next_backup_number(dir, name)?;
    loop {
        let mut backup_name = name.to_owned();
        backup_name.push(format!(".~{number}~"));
        let backup = dir.join(backup_name);
        match fs::hard_link(target, &backup) {
            Ok(()) => return Ok(backup),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => number += 1,
            Err(_) => {
                // No hard links here (some network or FAT file systems): move the old file.
                if backup.symlink_metadata().is_ok() {
                    number += 1;
                    continue;
                }
                fs::rename(target, &backup).map_err(io_error("keeping aside", target))?;
                return Ok(backup);
            }
        }
    }
}

/// One more than the highest N of the `NAME.~N~` files in `dir`; 1 when there is none.
fn next_backup_number(dir: &Path, name: &std::ffi::OsStr) -> Result<u64, DeliverError> {
    let prefix = format!("{}.~", name.to_string_lossy());
    let mut highest = 0;
    for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        let entry = entry.map_err(io_error("listing", dir))?;
        let entry_name = entry.file_name();
        let Some(number) = entry_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix('~'))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        highest = highest.max(number);
    }
    Ok(highest + 1)
}
