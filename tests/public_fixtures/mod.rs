//! The public scheduler outputs of `fixtures/public/<dir>/` (copied byte for byte from other
//! projects' repositories; `fixtures/public/SOURCES.md` says where each came from), for the
//! parser tests.
//!
//! They are part of the repository, so a missing or empty directory, a listed file that is
//! gone and a new file nobody tests are failures, never a silent skip.

use std::path::PathBuf;

/// `fixtures/public/<dir>` (`slurm`, `pbs`, `pbspro`, `torque`, `sge`, `lsf`).
fn dir(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/public")
        .join(dir)
}

/// The names of the files in `fixtures/public/<dir>`, sorted; panics when the directory is
/// missing or empty.
fn listing(dir_name: &str) -> Vec<String> {
    let path = dir(dir_name);
    let entries = std::fs::read_dir(&path).unwrap_or_else(|e| {
        panic!(
            "public fixtures {}: {e} (hint: they are part of the repository; restore them with \
             `git checkout -- fixtures/public`)",
            path.display()
        )
    });
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "public fixtures {}: empty",
        path.display()
    );
    names
}

/// Checks that `fixtures/public/<dir>` holds exactly `expected` (each of which a test reads):
/// a file gone or a new file without a test fails.
pub fn assert_listed(dir_name: &str, expected: &[&str]) {
    let mut expected: Vec<&str> = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(
        listing(dir_name),
        expected,
        "fixtures/public/{dir_name} changed: update the test's list, and test each new file"
    );
}

/// The text of `fixtures/public/<dir>/<name>`; panics naming the path when it cannot be read.
pub fn read(dir_name: &str, name: &str) -> String {
    let path = dir(dir_name).join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("public fixture {}: {e}", path.display()))
}
