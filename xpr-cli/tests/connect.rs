//! `xpr connect` / `xpr disconnect` on the real test bed: the master the user opens is found,
//! reported, and closed.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

fn xpr(home: &std::path::Path, cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xpr"))
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("EXPYRE_ROOT")
        .output()
        .unwrap()
}

#[test]
fn connect_opens_a_reusable_master_and_disconnect_closes_it() {
    let Some(bed) = common::Testbed::require("ssh") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let cwd = home.path().join("p");
    std::fs::create_dir_all(cwd.join("_expyre")).unwrap();
    let config = serde_json::json!({"systems": {"bed": {
        "host": "xpr-local", "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", bed.ssh_config().display()),
        "partitions": {"debug": {"num_cores": 16}}}}});
    std::fs::write(cwd.join("_expyre/config.json"), config.to_string()).unwrap();

    let out = xpr(home.path(), &cwd, &["connect", "bed"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("connected to bed"), "{text}");
    let sockets: Vec<_> = std::fs::read_dir(home.path().join(".xpr/ssh"))
        .unwrap()
        .collect();
    assert!(!sockets.is_empty(), "no control socket under ~/.xpr/ssh");

    // Connecting again finds the running master instead of opening a second one.
    let out = xpr(home.path(), &cwd, &["connect", "bed"]);
    assert!(out.status.success());

    let out = xpr(home.path(), &cwd, &["disconnect", "bed"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("disconnected from bed"));
    let out = xpr(home.path(), &cwd, &["disconnect", "bed"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no connection"));
}

#[test]
fn connect_to_a_local_system_says_there_is_nothing_to_connect_to() {
    let home = tempfile::tempdir().unwrap();
    let out = xpr(home.path(), home.path(), &["connect", "local"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to connect to"));
}
