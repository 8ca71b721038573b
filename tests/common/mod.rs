//! Shared helpers of the integration tests: finding the test bed and waiting with deadlines.
//!
//! The test bed (`tests/testbed/setup.sh`) writes an env file describing every endpoint. A test
//! that needs a component calls [`Testbed::require`]: it gets the test bed, or - only when the
//! component is switched off explicitly with `XPR_TESTBED_OFF=slurm,sge,...` or `all` - a skip
//! message and `None`. A missing test bed is a failure, never a silent skip.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The running test bed, as its env file describes it.
pub struct Testbed {
    vars: HashMap<String, String>,
}

impl Testbed {
    /// The env file: `$XPR_TESTBED_ENV`, else `/tmp/xpr-testbed/env.sh`.
    pub fn env_file() -> PathBuf {
        std::env::var_os("XPR_TESTBED_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/xpr-testbed/env.sh"))
    }

    /// The test bed, for a test needing `component` (`ssh`, `slurm`, `sge`, `netns`).
    /// Returns `None` (after printing why) only when the component is switched off in
    /// `XPR_TESTBED_OFF`; panics with a hint when the test bed is not running.
    pub fn require(component: &str) -> Option<Testbed> {
        let off = std::env::var("XPR_TESTBED_OFF").unwrap_or_default();
        if off
            .split(',')
            .map(str::trim)
            .any(|c| c == component || c == "all")
        {
            eprintln!(
                "SKIPPED: test bed component `{component}` is switched off by XPR_TESTBED_OFF={off}"
            );
            return None;
        }
        let path = Self::env_file();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "test bed env file {} unreadable ({e}); start the test bed with `tests/testbed/setup.sh` \
                 (as root), or switch the component off with XPR_TESTBED_OFF={component}",
                path.display()
            )
        });
        let mut vars = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("export ") else {
                continue;
            };
            for assignment in rest.split_whitespace() {
                if assignment.starts_with('#') {
                    break;
                }
                if let Some((k, v)) = assignment.split_once('=') {
                    vars.insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
        }
        Some(Testbed { vars })
    }

    /// A variable of the env file; panics naming it when absent.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| {
            panic!(
                "test bed env file {} has no {key}",
                Self::env_file().display()
            )
        })
    }

    /// The generated `ssh_config` (hosts `xpr-local`, `xpr-hostA`, `xpr-hostB`).
    pub fn ssh_config(&self) -> PathBuf {
        PathBuf::from(self.var("XPR_SSH_CONFIG"))
    }
}

/// Polls `condition` every 50 ms until it returns `Some`, or panics naming `what` after `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut condition: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = condition() {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
