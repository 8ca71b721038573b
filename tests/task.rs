//! Task identity and the task's job-script body, through the public API. The body is run
//! for real by bash in a temp dir.

use std::fs;
use std::path::Path;
use std::process::Command;

use xpr::stage::plan_inputs;
use xpr::task::{
    EXIT_FILE, STARTED_FILE, STDERR_FILE, STDOUT_FILE, TaskSpec, body_lines, task_identity,
};

fn identity_in(dir: &Path, spec: &TaskSpec) -> String {
    let plan = plan_inputs(dir, &spec.inputs).unwrap();
    task_identity(spec, &plan).unwrap()
}

#[test]
fn identity_follows_name_command_args_env_and_input_contents() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("in.txt"), "1").unwrap();
    let mut spec = TaskSpec::argv("t", ["prog", "in.txt"]);
    spec.inputs = vec!["in.txt".into()];
    let base = identity_in(dir.path(), &spec);
    assert_eq!(base.len(), 64);
    // Same task, same identity; the name is part of it (ExPyRe's `{name}_{hash}`).
    assert_eq!(identity_in(dir.path(), &spec.clone()), base);
    let mut renamed = spec.clone();
    renamed.name = "other".into();
    assert_ne!(identity_in(dir.path(), &renamed), base);

    let mut with_env = spec.clone();
    with_env.env = vec![("OMP_NUM_THREADS".into(), "4".into())];
    assert_ne!(identity_in(dir.path(), &with_env), base);

    let mut with_args = spec.clone();
    with_args.args = Some(serde_json::json!({"x": 1}));
    assert_ne!(identity_in(dir.path(), &with_args), base);

    fs::write(dir.path().join("in.txt"), "2").unwrap();
    assert_ne!(identity_in(dir.path(), &spec), base);
}

/// A caller's own identity key (the ExPyRe drop-in's restart rule) stands for the command
/// and inputs: same name and key, same task, whatever those hold; another key or name, another.
#[test]
fn an_identity_key_replaces_command_and_inputs_but_not_the_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("call.pkl"), "args 1").unwrap();
    let mut spec = TaskSpec::argv("f", ["python3", "runner.py"]);
    spec.inputs = vec!["call.pkl".into()];
    let plain = identity_in(dir.path(), &spec);
    spec.identity_key = Some("k1".into());
    let keyed = identity_in(dir.path(), &spec);
    assert_ne!(keyed, plain);
    // The pickled call changes (an argument in `hash_ignore`): still the same task.
    fs::write(dir.path().join("call.pkl"), "args 2").unwrap();
    assert_eq!(identity_in(dir.path(), &spec), keyed);
    let mut other_key = spec.clone();
    other_key.identity_key = Some("k2".into());
    assert_ne!(identity_in(dir.path(), &other_key), keyed);
    let mut other_name = spec.clone();
    other_name.name = "g".into();
    assert_ne!(identity_in(dir.path(), &other_name), keyed);
}

/// Failure analysis settings judge a result, they do not change it: a task with a whitelist
/// is the same task (it reuses an earlier run), and a spec stored before the field existed
/// still loads, and stores as it was.
#[test]
fn error_rules_are_not_part_of_the_identity_and_old_specs_load() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TaskSpec::argv("t", ["prog"]);
    let base = identity_in(dir.path(), &spec);
    let mut judged = spec.clone();
    judged.error_rules.error_patterns = vec!["^CRITICAL".into()];
    judged.error_rules.error_whitelist = vec!["harmless warning here".into()];
    judged.error_rules.whitelist_threshold = Some(1);
    judged.error_rules.error_lines_fail = Some(true);
    assert_eq!(identity_in(dir.path(), &judged), base);

    let old = r#"{"name":"t","command":{"argv":["prog"]},"inputs":[],"args":null,"env":[],
                  "pre_commands":[],"post_commands":[],"outputs":[]}"#;
    let loaded: TaskSpec = serde_json::from_str(old).unwrap();
    assert_eq!(loaded, spec);
    assert!(loaded.error_rules.is_empty());
    let stored = serde_json::to_value(&loaded).unwrap();
    assert!(stored.get("error_rules").is_none(), "{stored}");
    let round: TaskSpec = serde_json::from_value(serde_json::to_value(&judged).unwrap()).unwrap();
    assert_eq!(round, judged);
}

#[test]
fn identity_frames_fields_so_bytes_cannot_move_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = TaskSpec::argv("t", ["ab", "c"]);
    let b = TaskSpec::argv("t", ["a", "bc"]);
    assert_ne!(identity_in(dir.path(), &a), identity_in(dir.path(), &b));
    let shell = TaskSpec::shell("t", "ab c");
    assert_ne!(identity_in(dir.path(), &shell), identity_in(dir.path(), &a));
}

fn run_body(spec: &TaskSpec) -> (tempfile::TempDir, i32) {
    let dir = tempfile::tempdir().unwrap();
    let script = body_lines(spec).join("\n");
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .status()
        .unwrap();
    (dir, status.code().unwrap())
}

#[test]
fn the_body_runs_argv_words_unchanged_and_records_exit_status_last() {
    let hostile = [
        "it's",
        "a \"b\"",
        "$(touch pwned)",
        "`x`",
        "line\nbreak",
        "$HOME",
    ];
    let mut argv = vec!["printf".to_owned(), "%s\\0".to_owned()];
    argv.extend(hostile.iter().map(|s| s.to_string()));
    let mut spec = TaskSpec::argv("t", argv);
    spec.env = vec![("XPR_TEST_VALUE".into(), "a b 'c'".into())];
    spec.post_commands = vec!["echo \"post $XPR_TEST_VALUE\" >&2".into()];
    let (dir, code) = run_body(&spec);
    assert_eq!(code, 0);
    let out = fs::read(dir.path().join(STDOUT_FILE)).unwrap();
    let words: Vec<&[u8]> = out.split(|b| *b == 0).filter(|w| !w.is_empty()).collect();
    let expected: Vec<&[u8]> = hostile.iter().map(|s| s.as_bytes()).collect();
    assert_eq!(words, expected);
    assert!(!dir.path().join("pwned").exists());
    assert_eq!(
        fs::read_to_string(dir.path().join(EXIT_FILE)).unwrap(),
        "0\n"
    );
    assert!(
        fs::read_to_string(dir.path().join(STARTED_FILE))
            .unwrap()
            .contains(' ')
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(STDERR_FILE)).unwrap(),
        "post a b 'c'\n"
    );
    // No temporary marker is left behind.
    assert!(!dir.path().join(format!("{EXIT_FILE}.tmp")).exists());
}

#[test]
fn the_body_passes_on_a_failing_exit_status() {
    let spec = TaskSpec::shell("t", "echo oops >&2; exit 3");
    let (dir, code) = run_body(&spec);
    assert_eq!(code, 3);
    assert_eq!(
        fs::read_to_string(dir.path().join(EXIT_FILE)).unwrap(),
        "3\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(STDERR_FILE)).unwrap(),
        "oops\n"
    );
}
