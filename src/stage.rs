//! Packing inputs into, and unpacking outputs out of, tar streams, safely.
//!
//! Inputs of many tasks travel in one tar stream per host, each task's files under its own
//! directory (`run_<id>/...`); outputs come back the same way. Both directions go through the
//! same checks, because a tar stream is data from the other side:
//!
//! - every entry path is relative and has no `..`: [`safe_relative_path`];
//! - only regular files, directories and symbolic links are accepted; hard links, devices and
//!   FIFOs are refused;
//! - a symbolic link must point, relatively, to somewhere inside the extraction root, and never
//!   through another link of the same stream;
//! - extraction never writes through a symbolic link (a link planted by one entry cannot
//!   redirect a later entry).
//!
//! [`extract_tar`] refuses a stream with any entry it does not unpack; [`extract_tar_keeping`],
//! which unpacks the run dirs jobs made, leaves out (with a warning) the links, hard links,
//! FIFOs and devices a job can make, and refuses only names with `..` or absolute and writing
//! through a link.
//!
//! Modes: a run dir is private to the user (0700) on both sides: [`write_tar`] gives its entry
//! that mode, and [`extract_tar`] makes every top-level directory of a stream so, whatever the
//! stream says. Below it, files and directories keep the permission bits they had where they
//! were packed (a job's outputs arrive with the modes the job gave them), never the setuid,
//! setgid or sticky bits; a directory also keeps its owner's `rwx`, so that xpr can always
//! replace and clean the run dir.
//!
//! Input naming follows ExPyRe: a relative input keeps its relative path; an absolute one is
//! flattened to its base name. Globs are expanded at packing time and must match something.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The mode of a run dir, on either side: private to the user.
pub const RUN_DIR_MODE: u32 = 0o700;

/// A staging step that failed; names the path or tar entry at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// A tar entry or input name that would land outside its directory.
    #[error("unsafe path {path:?} in {context}: {why}")]
    UnsafePath {
        /// The path as given.
        path: PathBuf,
        /// Where it came from (`"tar entry"`, `"input"`).
        context: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A tar entry of a kind xpr does not extract.
    #[error(
        "tar entry {path:?} is a {kind}, which xpr does not extract (only files, directories and links inside the run dir)"
    )]
    UnsupportedEntry {
        /// The entry path.
        path: PathBuf,
        /// Its kind.
        kind: String,
    },
    /// An input that does not exist, or a glob that matches nothing.
    #[error("input {pattern:?} matches no file (hint: paths are relative to {base})")]
    MissingInput {
        /// The input or glob as given.
        pattern: String,
        /// The directory relative paths are taken from.
        base: PathBuf,
    },
    /// A malformed glob.
    #[error("input glob {pattern:?} is invalid: {source}")]
    BadGlob {
        /// The glob.
        pattern: String,
        /// Why.
        #[source]
        source: glob::PatternError,
    },
    /// Two inputs that would land on the same name.
    #[error(
        "inputs {first:?} and {second:?} would both be staged as {dest:?} (hint: rename one, or give it as a relative path)"
    )]
    Collision {
        /// The first input.
        first: PathBuf,
        /// The second input.
        second: PathBuf,
        /// The name both map to.
        dest: PathBuf,
    },
    /// Reading or writing a file or the stream failed.
    #[error("{action} {path:?}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StageError + use<> {
    let path = path.to_path_buf();
    move |source| StageError::Io {
        action,
        path,
        source,
    }
}

/// Checks that `path` is relative, non-empty and free of `..`, and returns it without `.`
/// components. `context` names where it came from, for the error.
pub fn safe_relative_path(path: &Path, context: &'static str) -> Result<PathBuf, StageError> {
    let unsafe_path = |why| StageError::UnsafePath {
        path: path.to_path_buf(),
        context,
        why,
    };
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_path("it contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path("it is absolute"));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(unsafe_path("it is empty"));
    }
    Ok(clean)
}

/// One file or directory to stage: where it is, and its relative name in the run dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageEntry {
    /// The local file or directory.
    pub source: PathBuf,
    /// Its path inside the run dir (relative, checked).
    pub dest: PathBuf,
}

/// Resolves a task's inputs (files, directories, globs) against `base`: relative inputs keep
/// their relative path, absolute ones are flattened to their base name. An input naming a path
/// that exists is that path, even with `*`, `?` or `[` in it; otherwise such an input is a glob
/// (relative to `base`, whose own name is never read as one). Every input must match
/// something, and no two may land on the same name.
pub fn plan_inputs(base: &Path, inputs: &[String]) -> Result<Vec<StageEntry>, StageError> {
    let mut entries: Vec<StageEntry> = Vec::new();
    for input in inputs {
        let absolute = Path::new(input).is_absolute();
        let pattern_path = if absolute {
            PathBuf::from(input)
        } else {
            base.join(input)
        };
        // A path that exists is taken as it is, whatever characters it holds (a user's file
        // `run[1].dat` is that file, not a pattern); only the input itself is ever a pattern,
        // never the base dir it is relative to.
        let matches: Vec<PathBuf> = if pattern_path.symlink_metadata().is_ok() {
            vec![pattern_path.clone()]
        } else if input.contains(['*', '?', '[']) {
            let pattern = if absolute {
                input.clone()
            } else {
                format!(
                    "{}/{input}",
                    glob::Pattern::escape(&base.to_string_lossy()).trim_end_matches('/')
                )
            };
            glob::glob(&pattern)
                .map_err(|source| StageError::BadGlob {
                    pattern: input.clone(),
                    source,
                })?
                .filter_map(Result::ok)
                .collect()
        } else {
            Vec::new()
        };
        if matches.is_empty() {
            return Err(StageError::MissingInput {
                pattern: input.clone(),
                base: base.to_path_buf(),
            });
        }
        for source in matches {
            let dest = if absolute {
                PathBuf::from(source.file_name().ok_or_else(|| StageError::UnsafePath {
                    path: source.clone(),
                    context: "input",
                    why: "it has no file name",
                })?)
            } else {
                let relative = source.strip_prefix(base).unwrap_or(&source);
                safe_relative_path(relative, "input")?
            };
            if let Some(previous) = entries.iter().find(|e| e.dest == dest) {
                return Err(StageError::Collision {
                    first: previous.source.clone(),
                    second: source,
                    dest,
                });
            }
            entries.push(StageEntry { source, dest });
        }
    }
    Ok(entries)
}

/// One run dir to stage: its name, the files xpr writes into it, and the inputs copied in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageDir {
    /// Its name under the remote base (`run_<id>`; relative, checked).
    pub name: PathBuf,
    /// Files made from memory (the job script, the arguments): their name in the run dir and
    /// their bytes. They get mode [`WRITTEN_FILE_MODE`] and never exist on this machine.
    pub written: Vec<(PathBuf, Vec<u8>)>,
    /// The inputs, read from where they are.
    pub inputs: Vec<StageEntry>,
}

impl StageDir {
    /// A run dir of inputs only.
    pub fn of_inputs(name: impl Into<PathBuf>, inputs: Vec<StageEntry>) -> StageDir {
        StageDir {
            name: name.into(),
            written: Vec::new(),
            inputs,
        }
    }
}

/// The mode of a file [`write_tar`] makes from memory: the user's to write, anyone's to read
/// (the run dir around it is private).
pub const WRITTEN_FILE_MODE: u32 = 0o644;

/// Writes one tar stream holding each run dir of `dirs` with its files under its name (e.g.
/// `run_<id>`, whose entry has mode [`RUN_DIR_MODE`], so that `tar -x` creates it private):
/// first the files made from memory, then the inputs. Directories are added recursively;
/// symbolic links are stored as links; files and directories keep their modes.
pub fn write_tar<W: Write>(out: W, dirs: &[StageDir]) -> Result<W, StageError> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    // One time for every stream this process packs, so packing the same groups twice gives
    // the same bytes (a streamed and a scratch-file copy of a stream compare equal).
    static PACKED_AT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let now = *PACKED_AT.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    for StageDir {
        name,
        written,
        inputs,
    } in dirs
    {
        let dir = safe_relative_path(name, "run dir name")?;
        // Made up rather than copied from a local directory, whose mode would leak into the
        // remote run dir. Owner 0 is only used by a `tar -x` running as root, whose files
        // are then root's own.
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(RUN_DIR_MODE);
        header.set_size(0);
        header.set_mtime(now);
        builder
            .append_data(&mut header, &dir, std::io::empty())
            .map_err(io("writing tar entry", &dir))?;
        for (dest, bytes) in written {
            let name = dir.join(safe_relative_path(dest, "file xpr writes")?);
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(WRITTEN_FILE_MODE);
            header.set_size(bytes.len() as u64);
            header.set_mtime(now);
            builder
                .append_data(&mut header, &name, &bytes[..])
                .map_err(io("writing tar entry", &name))?;
        }
        for entry in inputs {
            let name = dir.join(safe_relative_path(&entry.dest, "input")?);
            let meta = entry
                .source
                .symlink_metadata()
                .map_err(io("reading", &entry.source))?;
            if meta.is_dir() {
                builder
                    .append_dir_all(&name, &entry.source)
                    .map_err(io("packing directory", &entry.source))?;
            } else {
                builder
                    .append_path_with_name(&entry.source, &name)
                    .map_err(io("packing", &entry.source))?;
            }
        }
    }
    builder
        .into_inner()
        .map_err(io("finishing tar stream", Path::new("-")))
}

/// Buffer between the packer and the pipe: big writes keep the packer's syscalls few, so the
/// transfer, not the packing, sets the pace.
const TAR_STREAM_BUFFER: usize = 1 << 20;

/// A tar stream of run dirs ([`write_tar`]) packed on a blocking thread while it is read, so
/// staging needs no scratch copy of its inputs: the bytes go from the input files through a
/// pipe into the transport as they are packed, packing and sending overlapping.
///
/// Read it with [`reader`](TarStream::reader) (e.g. as the stdin of
/// [`Transport::run_streaming`](crate::transport::Transport::run_streaming)), then call
/// [`finish`](TarStream::finish): a packing error (an input vanished or unreadable) shows
/// there, and must fail the staging even when the remote `tar -x` exited 0, because a stream
/// cut between two entries can look complete to it.
///
/// ```no_run
/// # async fn demo(transport: &dyn xpr::transport::Transport, dirs: Vec<xpr::stage::StageDir>) {
/// use xpr::command::CommandSpec;
/// use xpr::stage::TarStream;
///
/// let mut stream = TarStream::spawn(dirs).unwrap();
/// let cmd = CommandSpec::new("tar").args(["-x", "-f", "-", "-C", "base"]);
/// let out = transport.run_streaming(&cmd, Some(stream.reader()), None).await;
/// stream.finish().await.unwrap();
/// assert!(out.unwrap().succeeded());
/// # }
/// ```
pub struct TarStream {
    reader: tokio::net::unix::pipe::Receiver,
    packer: tokio::task::JoinHandle<Result<(), StageError>>,
}

impl std::fmt::Debug for TarStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarStream").finish_non_exhaustive()
    }
}

impl TarStream {
    /// Starts packing `dirs` (as [`write_tar`] takes them) on tokio's blocking pool. Must be
    /// called inside a tokio runtime.
    pub fn spawn(dirs: Vec<StageDir>) -> Result<TarStream, StageError> {
        let pipe_error = io("creating a pipe for", Path::new("the tar stream"));
        let (read_end, write_end) = std::io::pipe().map_err(pipe_error)?;
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(read_end.into())
            .map_err(io("creating a pipe for", Path::new("the tar stream")))?;
        let packer = tokio::task::spawn_blocking(move || {
            let out = std::io::BufWriter::with_capacity(TAR_STREAM_BUFFER, write_end);
            let mut out = write_tar(out, &dirs)?;
            out.flush()
                .map_err(io("writing tar stream", Path::new("-")))?;
            // Dropping the writer closes the pipe: the reader sees the end of the stream.
            Ok(())
        });
        Ok(TarStream { reader, packer })
    }

    /// The stream's bytes, as they are packed.
    pub fn reader(&mut self) -> &mut (dyn tokio::io::AsyncRead + Send + Unpin) {
        &mut self.reader
    }

    /// Closes the reading end (a packer still writing then stops) and returns the packer's
    /// outcome.
    pub async fn finish(self) -> Result<(), StageError> {
        let TarStream { reader, packer } = self;
        drop(reader);
        packer.await.unwrap_or_else(|join| {
            Err(StageError::Io {
                action: "packing",
                path: PathBuf::from("the tar stream"),
                source: std::io::Error::other(join),
            })
        })
    }
}

/// Extracts a tar stream into `root` (created private to the user if needed), checking every
/// entry (see the module docs). Every top-level directory (a run dir) ends with mode
/// [`RUN_DIR_MODE`]; files and directories below keep the stream's permission bits, without
/// setuid, setgid and sticky bits, directories with their owner's `rwx` added. Returns the
/// relative paths of the regular files written. On error, what was written so far stays in
/// `root`: extract into a scratch directory and move it into place afterwards when partial
/// results must never be seen.
pub fn extract_tar<R: Read>(input: R, root: &Path) -> Result<Vec<PathBuf>, StageError> {
    extract_to_the_end(input, root, &mut |_, _| true, Strictness::Refuse)
}

/// [`extract_tar`], leaving out the regular files and directories for which `keep` (given
/// the entry's relative path and its header) says no: they are checked as every entry is,
/// and read past. A file kept inside a directory left out gets that directory made for it.
///
/// It unpacks what jobs made, so the entries a job can make that are not unpacked here
/// (links leading out of the run dir or through another link, hard links, FIFOs, devices)
/// are left out with a warning instead of failing the stream: a job that links to a shared
/// data set must not keep every other task's results from coming back. Names with `..` or
/// absolute, and writing through a link, are still refused.
///
/// The input is read to its end, whatever happens: a stream goes on past the archive's end
/// (`tar` pads it to a whole record), and a reader that stopped early would fail the writer
/// of a pipe with a broken pipe.
pub fn extract_tar_keeping<R: Read>(
    input: R,
    root: &Path,
    keep: &mut dyn FnMut(&Path, &tar::Header) -> bool,
) -> Result<Vec<PathBuf>, StageError> {
    extract_to_the_end(input, root, keep, Strictness::LeaveOut)
}

/// [`extract_entries`], then the rest of `input` read and dropped, whatever happened (see
/// [`extract_tar_keeping`]).
fn extract_to_the_end<R: Read>(
    mut input: R,
    root: &Path,
    keep: &mut dyn FnMut(&Path, &tar::Header) -> bool,
    strictness: Strictness,
) -> Result<Vec<PathBuf>, StageError> {
    let extracted = extract_entries(&mut input, root, keep, strictness);
    let _ = std::io::copy(&mut input, &mut std::io::sink());
    extracted
}

/// What extraction does with an entry of a kind it does not unpack, or a link it does not
/// make.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Fail the stream ([`extract_tar`]).
    Refuse,
    /// Leave the entry out, with a warning ([`extract_tar_keeping`]).
    LeaveOut,
}

impl Strictness {
    /// `Err(refusal)`, or `Ok(())` after warning that `path` is left out.
    fn refuse_or_leave_out(self, refusal: StageError, root: &Path) -> Result<(), StageError> {
        match self {
            Strictness::Refuse => Err(refusal),
            Strictness::LeaveOut => {
                tracing::warn!(root = %root.display(), "left out of the run dirs coming back: {refusal}");
                Ok(())
            }
        }
    }
}

fn extract_entries<R: Read>(
    input: R,
    root: &Path,
    keep: &mut dyn FnMut(&Path, &tar::Header) -> bool,
    strictness: Strictness,
) -> Result<Vec<PathBuf>, StageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(RUN_DIR_MODE)
        .create(root)
        .map_err(io("creating", root))?;
    let mut archive = tar::Archive::new(input);
    // Spelled out, though they are the defaults: a file gets the stream's mode & 0o777 (the
    // setuid, setgid and sticky bits dropped), and no user's umask on top: the job's modes.
    archive.set_preserve_permissions(false);
    archive.set_mask(0);
    let mut files = Vec::new();
    let mut links: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    // Directory modes are set last, deepest first: a directory without write permission
    // would refuse the entries that follow it.
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    let mut run_dirs: HashSet<PathBuf> = HashSet::new();
    let entries = archive.entries().map_err(io("reading tar stream", root))?;
    for entry in entries {
        let mut entry = entry.map_err(io("reading tar stream", root))?;
        let raw_path = entry
            .path()
            .map_err(io("reading tar entry name", root))?
            .into_owned();
        // The archive's own root directory entry (`./`) carries nothing.
        if raw_path.components().all(|c| c == Component::CurDir) {
            continue;
        }
        let path = safe_relative_path(&raw_path, "tar entry")?;
        let target = root.join(&path);
        ensure_no_link_on_the_way(root, &path)?;
        let kind = entry.header().entry_type();
        let depth = path.components().count();
        if depth > 1 || kind.is_dir() {
            run_dirs.extend(
                path.components()
                    .next()
                    .map(|c| PathBuf::from(c.as_os_str())),
            );
        }
        let plain = kind.is_dir() || kind.is_file() || kind == tar::EntryType::Continuous;
        if plain && depth > 1 && !keep(&path, entry.header()) {
            continue;
        }
        if kind.is_dir() {
            fs::create_dir_all(&target).map_err(io("creating", &target))?;
            if depth > 1 {
                let mode = entry
                    .header()
                    .mode()
                    .map_err(io("reading the mode of", &raw_path))?;
                dir_modes.push((path, (mode & 0o777) | 0o700));
            }
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            // Replace, never write through, whatever is there (it may be a planted link).
            if target.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                fs::remove_file(&target).map_err(io("replacing", &target))?;
            }
            entry.unpack(&target).map_err(io("writing", &target))?;
            files.push(path);
        } else if kind.is_symlink() {
            let link_target = entry
                .link_name()
                .map_err(io("reading link target of", &raw_path))?
                .ok_or_else(|| StageError::UnsafePath {
                    path: raw_path.clone(),
                    context: "tar entry",
                    why: "it is a link with no target",
                })?
                .into_owned();
            let Some(traversed) = resolve_inside(&path, &link_target) else {
                let refusal = StageError::UnsafePath {
                    path: raw_path.clone(),
                    context: "tar entry",
                    why: "it is a link leading out of the run dir",
                };
                strictness.refuse_or_leave_out(refusal, root)?;
                continue;
            };
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            if target.symlink_metadata().is_ok() {
                fs::remove_file(&target).map_err(io("replacing", &target))?;
            }
            std::os::unix::fs::symlink(&link_target, &target).map_err(io("linking", &target))?;
            links.push((path, traversed));
        } else {
            let refusal = StageError::UnsupportedEntry {
                path: raw_path,
                kind: format!("{kind:?}").to_lowercase(),
            };
            strictness.refuse_or_leave_out(refusal, root)?;
        }
    }
    // A link may not point through another link: inside-pointing links could otherwise be
    // chained to lead out (`a -> b/..` with `b -> ..`).
    let link_paths: HashSet<&PathBuf> = links.iter().map(|(p, _)| p).collect();
    for (path, traversed) in &links {
        if traversed.iter().any(|step| link_paths.contains(step)) {
            let _ = fs::remove_file(root.join(path));
            let refusal = StageError::UnsafePath {
                path: path.clone(),
                context: "tar entry",
                why: "it is a link pointing through another link",
            };
            strictness.refuse_or_leave_out(refusal, root)?;
        }
    }
    dir_modes.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    let run_dirs = run_dirs.into_iter().map(|dir| (dir, RUN_DIR_MODE));
    for (path, mode) in dir_modes.into_iter().chain(run_dirs) {
        let target = root.join(&path);
        // Never through a link: only a directory of this stream gets a mode.
        if target.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .map_err(io("setting the mode of", &target))?;
        }
    }
    Ok(files)
}

/// Refuses to write `path` when one of its parent directories inside `root` is a link.
fn ensure_no_link_on_the_way(root: &Path, path: &Path) -> Result<(), StageError> {
    let mut current = root.to_path_buf();
    let parents: Vec<_> = path.components().collect();
    for component in &parents[..parents.len().saturating_sub(1)] {
        current.push(component);
        if current
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(StageError::UnsafePath {
                path: path.to_path_buf(),
                context: "tar entry",
                why: "a directory on its way is a link",
            });
        }
    }
    Ok(())
}

/// The directories a relative link at `link` (relative to the root) pointing at `target`
/// passes through, lexically, on its way to its destination; `None` when it is absolute or
/// leaves the root.
fn resolve_inside(link: &Path, target: &Path) -> Option<Vec<PathBuf>> {
    let mut current: Vec<_> = link.parent()?.components().collect();
    let mut traversed = Vec::new();
    for component in target.components() {
        match component {
            Component::Normal(_) => {
                if !current.is_empty() {
                    traversed.push(current.iter().collect::<PathBuf>());
                }
                current.push(component);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                traversed.push(current.iter().collect::<PathBuf>());
                current.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(traversed)
}
