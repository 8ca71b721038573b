//! Every shell program of the project passes `shellcheck` with no finding at all (errors,
//! warnings, infos and style notes alike): the remote programs the library carries
//! (`src/**/*.sh`, included with `include_str!`), the scripts (`scripts/`, `.ci/`), the test
//! bed (`tests/testbed/`) and the simulators (`tests/simulators/`). A shell program is a
//! `*.sh` file or a file whose `#!` line names `sh`, `bash` or `dash`.
//!
//! `shellcheck` (Debian package `shellcheck`, installed by `tests/testbed/setup.sh`) must be
//! there: without it the test fails, unless the whole test bed is switched off
//! (`XPR_TESTBED_OFF=all`), where it reports itself skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folders whose shell programs are checked, relative to the project root.
const ROOTS: &[&str] = &["src", "scripts", ".ci", "tests/testbed", "tests/simulators"];

fn is_shell_program(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "sh") {
        return true;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(interpreter) = first.strip_prefix(b"#!") else {
        return false;
    };
    let words: Vec<&[u8]> = interpreter
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    // `#!/bin/sh`, `#!/usr/bin/env bash`: the program is the last word's base name.
    let program = match words[..] {
        [env, program, ..] if env.ends_with(b"/env") => program,
        [program, ..] => program,
        [] => return false,
    };
    let name = program.rsplit(|&b| b == b'/').next().unwrap_or(program);
    matches!(name, b"sh" | b"bash" | b"dash")
}

fn shell_programs(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        if kind.is_dir() {
            shell_programs(&path, found);
        } else if kind.is_file() && is_shell_program(&path) {
            found.push(path);
        }
    }
}

#[test]
fn every_shell_program_passes_shellcheck() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ROOTS {
        shell_programs(&root.join(dir), &mut files);
    }
    files.sort();
    let relative: Vec<&Path> = files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap())
        .collect();
    // The search found the programs it is meant for (an empty list would pass vacuously).
    for known in [
        "src/session/sh/batch.sh",
        "src/scheduler/local/localq.sh",
        "tests/testbed/setup.sh",
        "tests/simulators/pbs/bin/qsub",
    ] {
        assert!(
            relative.contains(&Path::new(known)),
            "{known} not among {relative:?}"
        );
    }

    let version = Command::new("shellcheck").arg("--version").output();
    if version.as_ref().map_or(true, |o| !o.status.success()) {
        let off = std::env::var("XPR_TESTBED_OFF").unwrap_or_default();
        if off.split(',').map(str::trim).any(|c| c == "all") {
            eprintln!("SKIPPED: shellcheck is not installed and XPR_TESTBED_OFF={off}");
            return;
        }
        panic!(
            "shellcheck is not installed ({}) (hint: `apt-get install shellcheck`, which \
             tests/testbed/setup.sh does; XPR_TESTBED_OFF=all skips this test)",
            version
                .err()
                .map_or("it fails".to_owned(), |e| e.to_string())
        );
    }
    // From the project root, so `source=` directives and the paths in messages are relative
    // to it; `-x` follows the files a script sources.
    let out = Command::new("shellcheck")
        .args(["-x", "--format=gcc", "--"])
        .args(&relative)
        .current_dir(root)
        .output()
        .unwrap();
    let findings = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "shellcheck found (exit {:?}):\n{findings}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The library's programs travel in their wire form (comment lines, blank lines and
/// indentation dropped: `shell_program!` in `src/command.rs`), which is only safe without
/// here-documents, whose lines the shell takes as they are.
#[test]
fn library_shell_programs_have_no_here_documents() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    shell_programs(&root.join("src"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            assert!(
                code.starts_with('#') || !code.contains("<<"),
                "{}:{}: a here-document would not survive the wire form: {line}",
                file.display(),
                n + 1
            );
        }
    }
}
