//! The one way the CLI tests run the `xpr` binary: a temp `$HOME` with a working directory in
//! it (so its own local-queue spool), no inherited `EXPYRE_*` settings, and extra environment
//! variables per test.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};

/// `xpr` in a temp home (see the module docs).
pub struct Xpr {
    /// The temp `$HOME` (removed on drop).
    pub home: tempfile::TempDir,
    /// The working directory in the home.
    pub cwd: PathBuf,
    env: Vec<(String, OsString)>,
}

impl Xpr {
    /// A fresh temp home with an empty working directory `work`.
    pub fn new() -> Xpr {
        Xpr::in_dir("work")
    }

    /// A fresh temp home working in `$HOME/<name>`.
    pub fn in_dir(name: &str) -> Xpr {
        let home = tempfile::tempdir().unwrap();
        let cwd = home.path().join(name);
        std::fs::create_dir_all(&cwd).unwrap();
        Xpr {
            home,
            cwd,
            env: Vec::new(),
        }
    }

    /// Sets `key=value` for every run.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Xpr {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Writes `config` as `<cwd>/_expyre/config.json`.
    pub fn with_project_config(self, config: &str) -> Xpr {
        std::fs::write(self.project_dir().join("config.json"), config).unwrap();
        self
    }

    /// The project's `_expyre` directory (the stage root once it exists), created.
    pub fn project_dir(&self) -> PathBuf {
        let dir = self.cwd.join("_expyre");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `program ARGS` with this home, working directory and environment.
    pub fn command_of(&self, program: impl Into<OsString>, args: &[&str]) -> Command {
        let mut command = Command::new(program.into());
        command
            .args(args)
            .current_dir(&self.cwd)
            .env("HOME", self.home.path())
            .env_remove("EXPYRE_ROOT")
            .env_remove("EXPYRE_HEADER_EXTRA")
            .env_remove("EXPYRE_SYS")
            .env_remove("XPR_LOCAL_QUEUE_DIR");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// `xpr ARGS`, ready to run.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(env!("CARGO_BIN_EXE_xpr"), args)
    }

    /// Runs `xpr ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `xpr ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "xpr {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs `xpr ARGS`, which must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("xpr {args:?}: {e}: {text}"))
    }

    /// Writes a file of the user's in the working directory.
    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.cwd.join(name), bytes).unwrap();
    }
}

/// A run's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
