//! A task's identity: a SHA-256 over what determines its results.
//!
//! Two tasks with equal identities compute the same thing under the same name: the same name
//! (as ExPyRe's `{name}_{hash}`, so `--name b` of a task identical to `a` is a task of its
//! own), command, JSON arguments and environment, over inputs with the same names and
//! contents; or, for a task with an [`identity_key`](TaskSpec::identity_key), the same name
//! and key. The hash is over a framed
//! encoding (every field length-prefixed), so no two different tasks can be made to collide by
//! moving bytes between fields. Input files are streamed through the hasher, never read whole.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::spec::{TaskCommand, TaskSpec};
use crate::stage::{StageEntry, StageError};

/// Bumped whenever the encoding below changes, so old and new identities never match.
const ENCODING_VERSION: &[u8] = b"xpr-task-identity-v2";

/// The identity of `spec` with its inputs resolved to `entries` (see
/// [`crate::stage::plan_inputs`]), as 64 hex digits.
pub fn task_identity(spec: &TaskSpec, entries: &[StageEntry]) -> Result<String, StageError> {
    let mut hasher = Sha256::new();
    let field = |hasher: &mut Sha256, bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(&mut hasher, ENCODING_VERSION);
    field(&mut hasher, spec.name.as_bytes());
    if let Some(key) = &spec.identity_key {
        field(&mut hasher, b"key");
        field(&mut hasher, key.as_bytes());
        return Ok(hex(&hasher.finalize()));
    }
    match &spec.command {
        TaskCommand::Argv(argv) => {
            field(&mut hasher, b"argv");
            field(&mut hasher, &(argv.len() as u64).to_le_bytes());
            for word in argv {
                field(&mut hasher, word.as_bytes());
            }
        }
        TaskCommand::Shell(line) => {
            field(&mut hasher, b"shell");
            field(&mut hasher, line.as_bytes());
        }
    }
    let args = spec
        .args
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    field(&mut hasher, args.as_bytes());
    field(&mut hasher, &(spec.env.len() as u64).to_le_bytes());
    for (key, value) in &spec.env {
        field(&mut hasher, key.as_bytes());
        field(&mut hasher, value.as_bytes());
    }
    for lines in [&spec.pre_commands, &spec.post_commands] {
        field(&mut hasher, &(lines.len() as u64).to_le_bytes());
        for line in lines {
            field(&mut hasher, line.as_bytes());
        }
    }
    let mut sorted: Vec<&StageEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.dest.cmp(&b.dest));
    field(&mut hasher, &(sorted.len() as u64).to_le_bytes());
    for entry in sorted {
        field(&mut hasher, entry.dest.as_os_str().as_encoded_bytes());
        hash_tree(&mut hasher, &entry.source, &entry.dest)?;
    }
    Ok(hex(&hasher.finalize()))
}

/// Hashes a file's content, or a directory's files (names and contents, sorted).
fn hash_tree(hasher: &mut Sha256, source: &Path, name: &Path) -> Result<(), StageError> {
    let io = |action: &'static str| {
        let path = source.to_path_buf();
        move |source| StageError::Io {
            action,
            path,
            source,
        }
    };
    let meta = source.symlink_metadata().map_err(io("reading"))?;
    if meta.is_dir() {
        let mut children: Vec<_> = std::fs::read_dir(source)
            .map_err(io("listing"))?
            .collect::<Result<_, _>>()
            .map_err(io("listing"))?;
        children.sort_by_key(|c| c.file_name());
        hasher.update(b"dir");
        hasher.update((children.len() as u64).to_le_bytes());
        for child in children {
            let child_name = name.join(child.file_name());
            let bytes = child_name.as_os_str().as_encoded_bytes();
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
            hash_tree(hasher, &child.path(), &child_name)?;
        }
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(source).map_err(io("reading link"))?;
        let bytes = target.as_os_str().as_encoded_bytes();
        hasher.update(b"link");
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    } else {
        hasher.update(b"file");
        hasher.update(meta.len().to_le_bytes());
        hash_file(hasher, source).map_err(io("reading"))?;
    }
    Ok(())
}

/// Streams a file through the hasher in large blocks (throughput close to `sha256sum`).
fn hash_file(hasher: &mut Sha256, path: &Path) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..n]);
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
