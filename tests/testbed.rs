//! Health of the test bed (`tests/testbed/setup.sh`): every endpoint its env file names answers.
//!
//! These tests go through the same door as xpr: OpenSSH with the generated `ssh_config`
//! (`ssh -F $XPR_SSH_CONFIG xpr-local|xpr-hostA|xpr-hostB|xpr-sim ...`), as the unprivileged
//! test users. They fail loudly when the test bed is down; a component is skipped only when
//! switched off with `XPR_TESTBED_OFF` (see `tests/common/mod.rs`). When one of them fails, later
//! failures of the scheduler tests are probably the test bed's fault, not xpr's.

mod common;

use common::Testbed;
use std::process::{Command, Output};

/// Runs `script` through `sh -c` on `host` (a `Host` of the generated ssh_config).
fn ssh(tb: &Testbed, host: &str, script: &str) -> Output {
    Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .arg(host)
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh (is openssh-client installed?): {e}"))
}

/// Like [`ssh`], but panics unless the command succeeds; returns its stdout.
fn ssh_ok(tb: &Testbed, host: &str, script: &str) -> String {
    let out = ssh(tb, host, script);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`ssh -F {} {host} '{script}'` failed ({})\n--- stdout\n{stdout}\n--- stderr\n{}",
        tb.ssh_config().display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A comma-separated list variable of the env file.
fn list(tb: &Testbed, key: &str) -> Vec<String> {
    tb.var(key)
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `XPR_<NAME>=1` in the env file: the component was started.
fn enabled(tb: &Testbed, key: &str) -> bool {
    tb.var(key) == "1"
}

#[test]
fn ssh_reaches_every_host_as_the_test_user() {
    let Some(tb) = Testbed::require("ssh") else {
        return;
    };
    let netns = Testbed::require("netns").is_some() && enabled(&tb, "XPR_NETNS");
    for host in list(&tb, "XPR_SSH_HOSTS") {
        if host != "xpr-local" && !netns {
            continue;
        }
        let user = ssh_ok(&tb, &host, "id -un");
        assert_eq!(user.trim(), tb.var("XPR_USER"), "user logged in on {host}");
    }
}

#[test]
fn namespace_hosts_have_their_own_address() {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    assert!(
        enabled(&tb, "XPR_NETNS"),
        "XPR_NETNS is not 1: the test bed runs without its namespace hosts"
    );
    for (host, ip) in [
        ("xpr-hostA", tb.var("XPR_HOSTA")),
        ("xpr-hostB", tb.var("XPR_HOSTB")),
    ] {
        let addrs = ssh_ok(&tb, host, "ip -br addr");
        assert!(
            addrs.contains(&format!("{ip}/")),
            "{host} should have address {ip}, has:\n{addrs}"
        );
    }
}

#[test]
fn host_a_cannot_reach_the_root_loopback_sshd() {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let probe = format!(
        "timeout 2 bash -c '</dev/tcp/127.0.0.1/{}'",
        tb.var("XPR_SSH_PORT")
    );
    // the probe itself works: from xpr-local the port is open ...
    ssh_ok(&tb, "xpr-local", &probe);
    // ... but hostA's loopback is its own
    let out = ssh(&tb, "xpr-hostA", &probe);
    assert!(
        !out.status.success(),
        "xpr-hostA reached 127.0.0.1:{} - it is not isolated in its network namespace",
        tb.var("XPR_SSH_PORT")
    );
}

#[test]
fn slurm_lists_the_partitions_with_their_time_limits() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    assert!(
        enabled(&tb, "XPR_SLURM"),
        "XPR_SLURM is not 1: the test bed runs without Slurm"
    );
    let partitions = list(&tb, "XPR_SLURM_PARTITIONS");
    assert_eq!(
        partitions,
        ["debug", "short", "tiny"],
        "XPR_SLURM_PARTITIONS"
    );
    let netns = Testbed::require("netns").is_some();
    for host in list(&tb, "XPR_SLURM_SSH_HOSTS") {
        if host != "xpr-local" && !netns {
            continue;
        }
        let out = ssh_ok(&tb, &host, "sinfo -h -o '%P %l %a'");
        let mut lines: Vec<&str> = out.lines().map(str::trim).collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            ["debug* infinite up", "short 1:00:00 up", "tiny 1:00 up"],
            "sinfo partitions on {host}"
        );
    }
}

#[test]
fn slurm_node_advertises_more_cpus_than_the_machine_has() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let cpus = ssh_ok(&tb, "xpr-local", "sinfo -h -o %c");
    assert_eq!(
        cpus.trim(),
        tb.var("XPR_SLURM_CPUS"),
        "CPUs of the Slurm node"
    );
}

#[test]
fn sacct_answers() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    assert!(
        enabled(&tb, "XPR_SLURMDBD"),
        "XPR_SLURMDBD is not 1: sacct has no database"
    );
    let netns = Testbed::require("netns").is_some();
    for host in list(&tb, "XPR_SLURM_SSH_HOSTS") {
        if host != "xpr-local" && !netns {
            continue;
        }
        // `sacct` exits 0 with an empty list when slurmdbd is up, and non-zero when it is not
        ssh_ok(&tb, &host, "sacct -X -n -P -o JobID,State -S now-1hours");
        let clusters = ssh_ok(&tb, &host, "sacctmgr -n -P show cluster format=Cluster");
        assert!(
            clusters.lines().any(|l| l == "xpr"),
            "cluster `xpr` in slurmdbd on {host}: {clusters}"
        );
    }
}

#[test]
fn every_grid_engine_answers_with_its_queue_and_pe() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    assert!(
        enabled(&tb, "XPR_SGE"),
        "XPR_SGE is not 1: the test bed runs without Grid Engine"
    );
    let netns = Testbed::require("netns").is_some();
    for host in list(&tb, "XPR_SGE_SSH_HOSTS") {
        if host != "xpr-local" && !netns {
            continue;
        }
        let queues = ssh_ok(&tb, &host, "qstat -f -q all.q");
        assert!(
            queues
                .lines()
                .any(|l| l.starts_with("all.q@") && l.contains("lx-amd64")),
            "qstat -f on {host} lists no instance of all.q:\n{queues}"
        );
        // A queue instance in state `u` has no execd reporting: jobs would wait for ever.
        let unreachable: Vec<&str> = queues
            .lines()
            .filter(|l| l.starts_with("all.q@"))
            .filter(|l| l.split_whitespace().nth(5).is_some_and(|s| s.contains('u')))
            .collect();
        assert!(
            unreachable.is_empty(),
            "no execd reports on {host} (queue state u): {unreachable:?} (hint: rerun tests/testbed/setup.sh)"
        );
        let pes = ssh_ok(&tb, &host, "qconf -spl");
        assert!(
            pes.lines().any(|l| l == "smp"),
            "parallel environments on {host}: {pes}"
        );
        let sched = ssh_ok(&tb, &host, "qconf -ssconf");
        assert!(
            sched
                .lines()
                .any(|l| l.split_whitespace().eq(["schedule_interval", "0:0:1"])),
            "scheduling interval on {host} should be 1 s:\n{sched}"
        );
    }
}

#[test]
fn host_b_runs_a_grid_engine_of_its_own() {
    let Some(tb) = Testbed::require("sge") else {
        return;
    };
    if Testbed::require("netns").is_none() || tb.var("XPR_SGE_MODE") != "both" {
        eprintln!(
            "SKIPPED: needs XPR_SGE_MODE=both (is {})",
            tb.var("XPR_SGE_MODE")
        );
        return;
    }
    let cell = |host| {
        ssh_ok(&tb, host, "echo ${SGE_CELL:-default}")
            .trim()
            .to_owned()
    };
    assert_eq!(
        cell("xpr-local"),
        tb.var("XPR_SGE_CELL_LOCAL"),
        "SGE cell on xpr-local"
    );
    assert_eq!(
        cell("xpr-hostB"),
        tb.var("XPR_SGE_CELL_HOSTB"),
        "SGE cell on xpr-hostB"
    );
    // each qmaster sees itself as master; hostB's is reached at hostB's own address
    let script = format!(
        "getent ahostsv4 $(cat {}/$SGE_CELL/common/act_qmaster)",
        tb.var("XPR_SGE_ROOT")
    );
    let master = ssh_ok(&tb, "xpr-hostB", &script);
    assert!(
        master.starts_with(tb.var("XPR_HOSTB")),
        "hostB's qmaster should resolve to {} inside xpr-hostB, got: {master}",
        tb.var("XPR_HOSTB")
    );
}

#[test]
fn the_simulator_host_finds_the_pbs_and_lsf_simulators_on_path() {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let host = tb.var("XPR_SIM_SSH_HOST");
    assert!(
        !host.is_empty(),
        "XPR_SIM_SSH_HOST is empty: the test bed runs without its simulator host"
    );
    let who = ssh_ok(&tb, host, "id -un; echo \"$HOME\"; echo \"$PATH\"");
    let lines: Vec<&str> = who.lines().collect();
    assert_eq!(lines.len(), 3, "{who}");
    assert_eq!(lines[0], tb.var("XPR_SIM_USER"), "user logged in on {host}");
    assert_eq!(lines[1], tb.var("XPR_SIM_USER_HOME"), "home on {host}");
    let home = lines[1];
    assert!(
        lines[2].starts_with(&format!(
            "{home}/.xpr-sim/simulators/pbs/bin:{home}/.xpr-sim/simulators/lsf/bin:"
        )),
        "the login shell on {host} should put the simulators first on PATH: {}",
        lines[2]
    );
    // Installed (as the life_sim tests do), the simulators' commands are what a session's
    // commands find by name, before Grid Engine's qsub/qstat of xpr-hostB.
    let install = Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/simulators/install.sh"),
    )
    .arg(host)
    .arg(tb.ssh_config())
    .output()
    .unwrap();
    assert!(
        install.status.success(),
        "tests/simulators/install.sh {host} failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    // (one name per `command -v`: dash's reports only its first)
    let found = ssh_ok(
        &tb,
        host,
        "for c in qsub qstat qdel bsub bjobs bkill; do command -v \"$c\"; done",
    );
    for (line, command) in found.lines().zip([
        "pbs/qsub",
        "pbs/qstat",
        "pbs/qdel",
        "lsf/bsub",
        "lsf/bjobs",
        "lsf/bkill",
    ]) {
        let (kind, name) = command.split_once('/').unwrap();
        assert_eq!(
            line,
            format!("{home}/.xpr-sim/simulators/{kind}/bin/{name}"),
            "on {host}"
        );
    }
    assert_eq!(found.lines().count(), 6, "{found}");
    // A test gives its simulators settings through the ssh client's SetEnv.
    let out = Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .arg("-o")
        .arg("SetEnv=XPR_SIM_SPOOL=/nonexistent/spool XPR_SIM_LSF_MINUTE=2")
        .arg(host)
        .arg("echo \"$XPR_SIM_SPOOL $XPR_SIM_LSF_MINUTE\"")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/nonexistent/spool 2",
        "sshd of {host} should accept XPR_SIM_* variables; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
