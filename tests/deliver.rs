//! Delivering a task's outputs from its run dir to a destination
//! (`xpr::session::deliver`): the run dir's path is never a pattern, a pattern matching
//! nothing is an error, a destination file with other bytes is kept as `NAME.~N~`, identical
//! ones are left alone, modes are kept and no temporary file is left behind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use xpr::session::deliver::{DeliverError, Existing, deliver_outputs};

/// A run dir under a path full of glob characters, and a destination.
struct Dirs {
    _tmp: tempfile::TempDir,
    run: PathBuf,
    dest: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("we ird [x]?*/_expyre/run_t1");
        let dest = tmp.path().join("dest [y]");
        std::fs::create_dir_all(&run).unwrap();
        Dirs {
            _tmp: tmp,
            run,
            dest,
        }
    }

    fn output(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.run.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn dest_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn outputs(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| p.to_string()).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_run_dir_with_glob_characters_is_a_path_and_only_the_pattern_matches() {
    let d = Dirs::new();
    d.output("out.txt", b"result\n");
    d.output("sub/a.dat", b"a");
    d.output("sub/b.dat", b"b");
    d.output("other.log", b"not asked for");
    let delivery = deliver_outputs(
        &d.run,
        &outputs(&["out.txt", "sub/*.dat"]),
        &d.dest,
        Existing::default(),
    )
    .unwrap();
    assert_eq!(read(&d.dest.join("out.txt")), "result\n");
    assert_eq!(read(&d.dest.join("sub/a.dat")), "a");
    assert_eq!(read(&d.dest.join("sub/b.dat")), "b");
    assert!(!d.dest.join("other.log").exists());
    let written: Vec<&Path> = delivery.paths().collect();
    assert_eq!(written.len(), 3, "{delivery:?}");
    assert_eq!(
        d.dest_names(),
        ["out.txt", "sub"],
        "no temporary file is left"
    );
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error_naming_it_after_the_rest_is_delivered() {
    let d = Dirs::new();
    d.output("out.txt", b"x");
    let err = deliver_outputs(
        &d.run,
        &outputs(&["never.txt", "out.txt", "*.none"]),
        &d.dest,
        Existing::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("\"never.txt\", \"*.none\" matched nothing"),
        "{message}"
    );
    let DeliverError::Unmatched {
        patterns,
        delivered,
        ..
    } = err
    else {
        panic!("expected Unmatched: {message}");
    };
    assert_eq!(patterns, ["never.txt", "*.none"]);
    assert_eq!(delivered.delivered.len(), 1);
    assert_eq!(read(&d.dest.join("out.txt")), "x");
}

#[test]
fn a_different_file_in_the_way_is_kept_numbered_and_an_identical_one_left_alone() {
    let d = Dirs::new();
    std::fs::create_dir_all(&d.dest).unwrap();
    std::fs::write(d.dest.join("out.txt"), "the user's own\n").unwrap();
    let out = d.output("out.txt", b"first run\n");

    let delivery =
        deliver_outputs(&d.run, &outputs(&["out.txt"]), &d.dest, Existing::default()).unwrap();
    let kept: Vec<(&Path, &Path)> = delivery.kept_aside().collect();
    assert_eq!(
        kept,
        [(
            d.dest.join("out.txt").as_path(),
            d.dest.join("out.txt.~1~").as_path()
        )]
    );
    assert_eq!(read(&d.dest.join("out.txt")), "first run\n");
    assert_eq!(read(&d.dest.join("out.txt.~1~")), "the user's own\n");

    // The same bytes again: nothing is written, nothing kept aside.
    let delivery =
        deliver_outputs(&d.run, &outputs(&["out.txt"]), &d.dest, Existing::default()).unwrap();
    assert!(delivery.delivered.is_empty(), "{delivery:?}");
    assert_eq!(delivery.unchanged, [d.dest.join("out.txt")]);
    assert_eq!(d.dest_names(), ["out.txt", "out.txt.~1~"]);

    // Other bytes: the next number, past the highest one there (as cp --backup=numbered).
    std::fs::write(d.dest.join("out.txt.~7~"), "older").unwrap();
    std::fs::write(&out, "second run\n").unwrap();
    deliver_outputs(&d.run, &outputs(&["out.txt"]), &d.dest, Existing::default()).unwrap();
    assert_eq!(read(&d.dest.join("out.txt")), "second run\n");
    assert_eq!(read(&d.dest.join("out.txt.~8~")), "first run\n");
    assert_eq!(read(&d.dest.join("out.txt.~1~")), "the user's own\n");
    assert_eq!(
        d.dest_names(),
        ["out.txt", "out.txt.~1~", "out.txt.~7~", "out.txt.~8~"]
    );
}

#[test]
fn refusing_leaves_the_old_file_and_names_it() {
    let d = Dirs::new();
    std::fs::create_dir_all(&d.dest).unwrap();
    std::fs::write(d.dest.join("out.txt"), "mine").unwrap();
    d.output("out.txt", b"theirs");
    let err =
        deliver_outputs(&d.run, &outputs(&["out.txt"]), &d.dest, Existing::Refuse).unwrap_err();
    assert!(matches!(err, DeliverError::Exists { .. }), "{err}");
    assert!(
        err.to_string().contains("out.txt exists and differs"),
        "{err}"
    );
    assert_eq!(read(&d.dest.join("out.txt")), "mine");
    assert_eq!(d.dest_names(), ["out.txt"]);
}

#[test]
fn modes_and_directories_are_kept() {
    let d = Dirs::new();
    let script = d.output("bin/run.sh", b"#!/bin/sh\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o750)).unwrap();
    let data = d.output("bin/data/table.csv", b"1,2\n");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    deliver_outputs(&d.run, &outputs(&["bin"]), &d.dest, Existing::default()).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&d.dest.join("bin/run.sh")), 0o750);
    assert_eq!(mode(&d.dest.join("bin/data/table.csv")), 0o644);
    assert_eq!(read(&d.dest.join("bin/data/table.csv")), "1,2\n");
}

#[test]
fn a_link_out_of_the_run_dir_is_not_followed_and_unsafe_patterns_are_refused() {
    let d = Dirs::new();
    let secret = d._tmp.path().join("secret");
    std::fs::write(&secret, "private").unwrap();
    std::os::unix::fs::symlink(&secret, d.run.join("leak")).unwrap();
    let err =
        deliver_outputs(&d.run, &outputs(&["leak"]), &d.dest, Existing::default()).unwrap_err();
    assert!(matches!(err, DeliverError::Unsupported { .. }), "{err}");
    assert!(!d.dest.join("leak").exists());

    // A link inside the run dir delivers its target's bytes.
    d.output("real.txt", b"real");
    std::os::unix::fs::symlink("real.txt", d.run.join("alias.txt")).unwrap();
    deliver_outputs(
        &d.run,
        &outputs(&["alias.txt"]),
        &d.dest,
        Existing::default(),
    )
    .unwrap();
    assert_eq!(read(&d.dest.join("alias.txt")), "real");
    assert!(!d.dest.join("alias.txt").is_symlink());

    for pattern in ["../secret", "/etc/passwd"] {
        let err = deliver_outputs(&d.run, &outputs(&[pattern]), &d.dest, Existing::default())
            .unwrap_err();
        assert!(matches!(err, DeliverError::BadPattern { .. }), "{err}");
    }
}
