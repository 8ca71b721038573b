//! New task ids: `<name prefix>_<time>_<random>`, e.g. `relax_Si_66a1f0c2_9b3e04d1`.
//!
//! An id goes into scheduler job names, header directives and file names (`run_<id>`), so it
//! holds only ASCII letters, digits and `_`, starts with a letter, and stays short (at most
//! [`MAX_ID_LEN`] characters): the name prefix is the task's name with every other character
//! turned into `_`, cut to [`MAX_PREFIX_LEN`]. The time part (seconds, hex) keeps ids roughly
//! sortable; the random part (hashed from the clock's nanoseconds, the process id, a counter
//! and the caller's seed) makes collisions between processes practically impossible, and the
//! jobs DB refuses a duplicate anyway.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::ids::TaskId;

/// Longest name prefix kept in an id.
pub const MAX_PREFIX_LEN: usize = 24;
/// Longest id: prefix, `_`, 8 hex digits of time, `_`, 8 random hex digits.
pub const MAX_ID_LEN: usize = MAX_PREFIX_LEN + 18;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The name prefix of ids for a task called `name`.
pub fn id_prefix(name: &str) -> String {
    let mut prefix = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && (prefix.is_empty() || prefix.ends_with('_')) {
            continue;
        }
        prefix.push(c);
        if prefix.len() >= MAX_PREFIX_LEN {
            break;
        }
    }
    let mut prefix = prefix.trim_end_matches('_').to_owned();
    if prefix.is_empty() {
        prefix.push_str("task");
    } else if !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
        prefix.insert(0, 't');
        prefix.truncate(MAX_PREFIX_LEN);
    }
    prefix
}

/// A fresh task id for a task called `name`; `seed` (e.g. the identity hash) adds entropy.
pub fn new_task_id(name: &str, seed: &str) -> TaskId {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(now.as_nanos().to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(seed.as_bytes());
    let random: String = hasher.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    TaskId::new(format!(
        "{}_{:08x}_{random}",
        id_prefix(name),
        now.as_secs() & 0xffff_ffff
    ))
}

/// True when `id` has the shape [`new_task_id`] gives (what a session accepts from the DB
/// before putting it in a remote path or command).
pub fn is_task_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_make_safe_ids() {
        for name in [
            "",
            "a b",
            "x'$(rm -rf ~)`\n..",
            "../../etc",
            "42",
            "ünïcode",
            "_",
        ] {
            let id = new_task_id(name, "seed");
            assert!(is_task_id(id.as_str()), "{name:?} gave {id}");
        }
        assert_eq!(id_prefix("relax Si/2"), "relax_Si_2");
        assert_eq!(id_prefix("42"), "t42");
        assert_ne!(new_task_id("a", "s"), new_task_id("a", "s"));
    }
}
