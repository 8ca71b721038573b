//! The habits of a good command line (issue 13): shell completions that a shell loads and
//! completes with, man pages, `-v`/`-vv` (and ExPyRe's `EXPYRE_TIMING_VERBOSE`) showing the
//! engine's remote commands with their durations.

mod support;

use std::process::Command;

use support::{Xpr, stderr, stdout};

/// What bash completes for the words `line` (the last one being completed), with the script
/// of `xpr completions bash` loaded, its function called as bash calls it (the command, the
/// word being completed, the word before).
fn bash_completes(xpr: &Xpr, line: &[&str]) -> Vec<String> {
    let script = xpr.home.path().join("xpr.bash");
    std::fs::write(&script, xpr.ok(&["completions", "bash"])).unwrap();
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _xpr xpr \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        line.len() - 1,
        line.join(" "),
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "bash: {}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_generated_script() {
    let xpr = Xpr::new();
    let subcommands = bash_completes(&xpr, &["xpr", "sw"]);
    assert_eq!(subcommands, ["sweep"]);
    let flags = bash_completes(&xpr, &["xpr", "run", "--max-t"]);
    assert_eq!(flags, ["--max-time"]);
    let shells = bash_completes(&xpr, &["xpr", "completions", "z"]);
    assert_eq!(shells, ["zsh"]);
}

#[test]
fn zsh_and_fish_scripts_name_the_subcommands() {
    let xpr = Xpr::new();
    for shell in ["zsh", "fish"] {
        let script = xpr.ok(&["completions", shell]);
        assert!(script.contains("sweep"), "{shell}: {script}");
        assert!(script.contains("max-time"), "{shell}");
    }
}

#[test]
fn man_pages_are_written_for_xpr_and_each_subcommand() {
    let xpr = Xpr::new();
    let dir = xpr.home.path().join("man/man1");
    let out = xpr.run(&["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let main = std::fs::read_to_string(dir.join("xpr.1")).unwrap();
    assert!(main.contains(".TH xpr 1"), "{main}");
    assert!(main.contains("Run work on HPC clusters"), "{main}");
    let run = std::fs::read_to_string(dir.join("xpr-run.1")).unwrap();
    assert!(run.contains("max\\-time"), "{run}");
    // On stdout without a dir.
    assert!(xpr.ok(&["man"]).starts_with(".ie"));
}

#[test]
fn vv_shows_each_remote_command_with_its_duration_and_v_does_not() {
    let xpr = Xpr::new();
    let out = xpr.run(&["-vv", "run", "--", "echo", "traced"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "traced\n", "tracing stays off stdout");
    let err = stderr(&out);
    let commands: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("remote command"))
        .collect();
    assert!(!commands.is_empty(), "{err}");
    assert!(commands.iter().all(|l| l.contains("took=")), "{err}");
    assert!(
        err.lines().any(|l| l.contains(" poll ")),
        "poll rounds: {err}"
    );

    let out = xpr.run(&["-v", "run", "--force-rerun", "--", "echo", "quiet"]);
    assert!(!stderr(&out).contains("remote command"), "{}", stderr(&out));
    let out = xpr.run(&["run", "--force-rerun", "--", "echo", "quieter"]);
    assert!(!stderr(&out).contains("DEBUG"), "{}", stderr(&out));
}

#[test]
fn expyre_timing_verbose_is_vv() {
    let xpr = Xpr::new().env("EXPYRE_TIMING_VERBOSE", "1");
    let out = xpr.run(&["run", "--", "echo", "timed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("remote command"), "{}", stderr(&out));
}
