//! Parameter sweeps through the public API: expansion order and counts, points files and their
//! errors, substitution into argv and shell commands (run through `sh`), and determinism.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xpr::sweep::{
    Param, Point, SweepError, SweepSpec, load_points, point_name, substitute, substitute_str,
};
use xpr::task::{TaskCommand, TaskSpec, task_identity};

fn params(texts: &[&str]) -> Vec<Param> {
    texts.iter().map(|t| Param::parse(t).unwrap()).collect()
}

/// Each point's args as compact JSON text: shows values and key order at once.
fn args_of(spec: &SweepSpec) -> Vec<String> {
    spec.points()
        .unwrap()
        .map(|p| p.to_args().to_string())
        .collect()
}

fn point(index: usize, args: Value) -> Point {
    let Value::Object(map) = args else {
        panic!("not an object: {args}")
    };
    Point::new(index, map)
}

/// A file named `name` holding `text` in a fresh temp dir (kept alive by the returned guard).
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_err(name: &str, text: &str) -> String {
    let (_dir, path) = file(name, text);
    let err = load_points(&path).unwrap_err().to_string();
    // Every message names the file as given, so that the user knows which one.
    assert!(err.contains(&path.display().to_string()), "{err}");
    err.replace(&path.display().to_string(), name)
}

// ------------------------------------------------------------------------------- expansion

#[test]
fn grid_is_nested_loops_last_fastest() {
    let spec = SweepSpec::Grid(params(&["a=1,2,3", "b=x,y"]));
    assert_eq!(spec.len().unwrap(), 6);
    assert_eq!(
        args_of(&spec),
        [
            r#"{"a":1,"b":"x"}"#,
            r#"{"a":1,"b":"y"}"#,
            r#"{"a":2,"b":"x"}"#,
            r#"{"a":2,"b":"y"}"#,
            r#"{"a":3,"b":"x"}"#,
            r#"{"a":3,"b":"y"}"#,
        ]
    );
    let indices: Vec<usize> = spec.points().unwrap().map(|p| p.index()).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5]);
    // Key order is the spec's order, not alphabetical.
    let spec = SweepSpec::Grid(params(&["z=1", "a=2"]));
    assert_eq!(args_of(&spec), [r#"{"z":1,"a":2}"#]);
}

#[test]
fn zip_takes_ith_values_and_refuses_unequal_lengths() {
    let spec = SweepSpec::Zip(params(&["lr=0.1,0.01,1e-3", "seed=@range(1,4)"]));
    assert_eq!(spec.len().unwrap(), 3);
    assert_eq!(
        args_of(&spec),
        [
            r#"{"lr":0.1,"seed":1}"#,
            r#"{"lr":0.01,"seed":2}"#,
            r#"{"lr":0.001,"seed":3}"#
        ]
    );
    let spec = SweepSpec::Zip(params(&["lr=0.1,0.01,0.001", "seed=1,2", "tag=a,b,c"]));
    let err = spec.points().unwrap_err();
    assert!(matches!(err, SweepError::ZipLengths { .. }));
    assert_eq!(
        err.to_string(),
        "a zip sweep takes the i-th value of every parameter, but their lengths differ: \
         lr has 3, seed has 2, tag has 3 (hint: give every parameter the same number of \
         values, or sweep a grid)"
    );
}

#[test]
fn invalid_specs_are_refused_with_the_name_at_fault() {
    let cases = [
        (SweepSpec::Grid(vec![]), "the sweep has no parameters"),
        (SweepSpec::Points(vec![]), "the sweep has no points"),
        (
            SweepSpec::Grid(vec![Param::new("lr", vec![])]),
            "parameter `lr`: it has no values",
        ),
        (
            SweepSpec::Zip(params(&["lr=1,2", "seed=1,2", "lr=3,4"])),
            "parameter `lr` is given twice",
        ),
        (
            SweepSpec::Grid(vec![Param::new("learning rate", vec![json!(1)])]),
            "parameter `learning rate`: \"learning rate\" is not a parameter name",
        ),
        (
            SweepSpec::Points(vec![point(0, json!({"a": 1})), point(1, json!({}))]),
            "point 1: it has no parameters",
        ),
        (
            SweepSpec::Points(vec![point(0, json!({"a-b": 1}))]),
            "point 0: \"a-b\" is not a parameter name",
        ),
    ];
    for (spec, says) in cases {
        let err = spec.len().unwrap_err().to_string();
        assert!(err.starts_with(says), "{err}");
        assert!(err.contains("(hint: "), "{err}");
    }
    // More points than a usize counts.
    let huge = SweepSpec::Grid(
        (0..20)
            .map(|i| Param::parse(&format!("p{i}=@range(0,1000)")).unwrap())
            .collect(),
    );
    let err = huge.len().unwrap_err().to_string();
    assert!(
        err.starts_with("the grid over p0 (1000 values), p1 (1000 values)"),
        "{err}"
    );
}

#[test]
fn listed_points_are_numbered_by_position() {
    let spec = SweepSpec::Points(vec![point(7, json!({"a": 1})), point(7, json!({"a": 2}))]);
    let got: Vec<(usize, Value)> = spec
        .points()
        .unwrap()
        .map(|p| (p.index(), p.to_args()))
        .collect();
    assert_eq!(got, [(0, json!({"a": 1})), (1, json!({"a": 2}))]);
}

#[test]
fn a_hundred_thousand_points_are_counted_and_streamed() {
    let spec = SweepSpec::Grid(params(&["a=@range(0,100)", "b=@range(0,1000)"]));
    assert_eq!(spec.len().unwrap(), 100_000);
    let points = spec.points().unwrap();
    assert_eq!(points.len(), 100_000);
    let (mut count, mut last) = (0, None);
    for p in points {
        count += 1;
        last = Some(p);
    }
    assert_eq!(count, 100_000);
    let last = last.unwrap();
    assert_eq!(
        (last.index(), last.to_args()),
        (99_999, json!({"a": 99, "b": 999}))
    );
}

#[test]
fn expansion_is_deterministic_down_to_task_identity() {
    let tasks = || -> Vec<(TaskSpec, String)> {
        let spec = SweepSpec::Grid(params(&[
            "lr=1e-3,0.01",
            "opt=adam,\"s g d\"",
            "n=@range(0,3)",
        ]));
        spec.points()
            .unwrap()
            .map(|p| {
                let mut task = TaskSpec::argv("", ["train", "--lr", "{lr}", "--opt={opt}"]);
                task.name = point_name("train", &p);
                task.command = substitute(&task.command, &p).unwrap();
                task.args = Some(p.to_args());
                let identity = task_identity(&task, &[]).unwrap();
                (task, identity)
            })
            .collect()
    };
    let (first, second) = (tasks(), tasks());
    assert_eq!(first.len(), 12);
    assert_eq!(first, second);
    let mut identities: Vec<&String> = first.iter().map(|(_, id)| id).collect();
    identities.sort();
    identities.dedup();
    assert_eq!(identities.len(), 12, "every point is a task of its own");

    let (_dir, path) = file(
        "p.jsonl",
        "{\"x\": 1.50, \"y\": [1, {\"b\": 2, \"a\": 1}]}\n",
    );
    assert_eq!(load_points(&path).unwrap(), load_points(&path).unwrap());
    assert_eq!(
        load_points(&path).unwrap()[0].to_args().to_string(),
        r#"{"x":1.5,"y":[1,{"b":2,"a":1}]}"#
    );
}

// ------------------------------------------------------------------------------- files

#[test]
fn every_file_format_gives_the_same_points() {
    let expected = [
        json!({"lr": 0.1, "seed": 1, "opt": "adam"}),
        json!({"lr": 0.01, "seed": 2, "opt": "s g d"}),
    ];
    let files = [
        (
            "points.json",
            r#"[{"lr": 0.1, "seed": 1, "opt": "adam"},
               {"lr": 0.01, "seed": 2, "opt": "s g d"}]"#,
        ),
        (
            "points.jsonl",
            "{\"lr\": 0.1, \"seed\": 1, \"opt\": \"adam\"}\n\n  \n\
             {\"lr\": 0.01, \"seed\": 2, \"opt\": \"s g d\"}\n",
        ),
        (
            "points.NDJSON",
            "{\"lr\": 0.1, \"seed\": 1, \"opt\": \"adam\"}\n\
             {\"lr\": 0.01, \"seed\": 2, \"opt\": \"s g d\"}",
        ),
        (
            "points.csv",
            "lr,seed,opt\n0.1,1,adam\n\n0.01, 2 ,\"s g d\"\n",
        ),
    ];
    for (name, text) in files {
        let (_dir, path) = file(name, text);
        let points = load_points(&path).unwrap();
        let got: Vec<(usize, Value)> = points.iter().map(|p| (p.index(), p.to_args())).collect();
        assert_eq!(
            got,
            [(0, expected[0].clone()), (1, expected[1].clone())],
            "{name}"
        );
        // In the file's key order.
        assert_eq!(points[0].names().collect::<Vec<_>>(), ["lr", "seed", "opt"]);
    }
}

#[test]
fn csv_cells_are_typed_as_documented() {
    let (_dir, path) = file(
        "p.csv",
        "n,x,e,flag,off,text,padded,empty,nul,big\n\
         3,-0.5,1e-3,true,false,abc,007,,null,123456789012345678901234\n",
    );
    let points = load_points(&path).unwrap();
    assert_eq!(
        points[0].to_args(),
        json!({"n": 3, "x": -0.5, "e": 0.001, "flag": true, "off": false, "text": "abc",
               "padded": "007", "empty": "", "nul": "null",
               "big": "123456789012345678901234"})
    );
}

#[test]
fn bad_files_name_the_file_line_and_fault() {
    let jsonl = "{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}\n{\"a\": 4}\n{\"a\": 5}\n7\n";
    let cases = [
        (
            "points.jsonl",
            jsonl,
            "points.jsonl line 7: not a JSON object but a number (hint: each point is an \
             object of parameters, {\"lr\": 0.1, \"seed\": 1})",
        ),
        (
            "points.jsonl",
            "{\"a\": 1}\n{\"a\": }\n",
            "points.jsonl line 2: not valid JSON: expected value at column 7 (hint: each line",
        ),
        (
            "points.jsonl",
            "{\"a\": 1} {\"a\": 2}\n",
            "points.jsonl line 1: not valid JSON: trailing characters at column 10",
        ),
        (
            "points.jsonl",
            "{\"a\": 1}\n{\"bad key\": 1}\n",
            "points.jsonl line 2: \"bad key\" is not a parameter name",
        ),
        (
            "points.jsonl",
            "{\"a\": 1}\n{}\n",
            "points.jsonl line 2: an empty object",
        ),
        (
            "points.json",
            "[{\"a\": 1}, [1, 2]]",
            "points.json item 2: not a JSON object but an array",
        ),
        (
            "points.json",
            "[\n{\"a\": 1},\n{\"a\" 2}\n]",
            "points.json line 3: not valid JSON: expected `:` at column 6 (hint: a .json points file",
        ),
        (
            "points.json",
            "{\"a\": 1}",
            "points.json: holds an object, not an array of points",
        ),
        ("points.json", "[]", "points.json: holds no points"),
        ("points.jsonl", "\n\n", "points.jsonl: holds no points"),
        ("points.csv", "a,b\n", "points.csv: holds no points"),
        (
            "points.csv",
            "a,b\n1,2\n3\n",
            "points.csv line 3: 1 cell, but the header has 2",
        ),
        (
            "points.csv",
            "a,b c\n1,2\n",
            "points.csv line 1: in the header: \"b c\" is not a parameter name",
        ),
        (
            "points.csv",
            "a,b,a\n1,2,3\n",
            "points.csv line 1: column \"a\" appears twice",
        ),
        (
            "points.txt",
            "a\n1\n",
            "points.txt: not a known points file format (hint: name it .json for an array of \
             objects, .jsonl or .ndjson for one object per line, .csv for a header row and \
             one point per row)",
        ),
    ];
    for (name, text, says) in cases {
        let err = load_err(name, text);
        assert!(
            err.starts_with(says),
            "{name} {text:?}:\n{err}\nnot:\n{says}"
        );
        assert!(err.contains("(hint: "), "{err}");
    }
    let missing = Path::new("/nonexistent/points.csv");
    let err = load_points(missing).unwrap_err();
    assert!(matches!(err, SweepError::ReadPoints { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read points file /nonexistent/points.csv: "),
        "{err}"
    );
}

// ------------------------------------------------------------------------------- substitution

fn one_point(args: Value) -> Point {
    point(4, args)
}

#[test]
fn argv_words_stay_one_word_each() {
    let p = one_point(json!({"lr": 0.001, "opt": "a b; rm -rf x", "flag": true, "l": [1, "x"]}));
    let cmd = TaskCommand::Argv(
        [
            "train",
            "--lr",
            "{lr}",
            "--opt={opt}",
            "{flag}",
            "{l}",
            "{{lr}}",
        ]
        .map(String::from)
        .to_vec(),
    );
    assert_eq!(
        substitute(&cmd, &p).unwrap(),
        TaskCommand::Argv(
            [
                "train",
                "--lr",
                "0.001",
                "--opt=a b; rm -rf x",
                "true",
                r#"[1,"x"]"#,
                "{lr}"
            ]
            .map(String::from)
            .to_vec()
        )
    );
}

/// The words `sh` makes of `line`, printed one per line by `printf`; run in an empty temp dir,
/// so that a line that quotes badly (a bug) cannot touch anything else.
fn shell_words(line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\n' {line}"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{line} made files: {left:?}");
    assert!(out.status.success(), "{line}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn shell_values_go_in_as_one_quoted_word() {
    let hostile = "a b; rm -rf x $(touch pwned) `id` 'q' \"d\" \\";
    let p = one_point(json!({"v": hostile, "n": 3, "empty": ""}));
    let TaskCommand::Shell(line) = substitute(
        &TaskCommand::Shell("{v} --n={n} {empty} ${{0+set}} {{}}".into()),
        &p,
    )
    .unwrap() else {
        panic!("not a shell line")
    };
    assert_eq!(
        shell_words(&line),
        [hostile, "--n=3", "", "set", "{}"],
        "line: {line}"
    );
    // Inside a quoted region, the quotes of the word are text (as documented).
    let p = one_point(json!({"v": "a b"}));
    let TaskCommand::Shell(line) =
        substitute(&TaskCommand::Shell("\"lr={v}\"".into()), &p).unwrap()
    else {
        panic!("not a shell line")
    };
    assert_eq!(shell_words(&line), ["lr='a b'"]);
}

#[test]
fn unknown_placeholders_and_unclosed_braces_are_errors() {
    let p = one_point(json!({"lr": 0.1, "seed": 1}));
    let err = substitute(&TaskCommand::Shell("echo ${HOME} {lr}".into()), &p).unwrap_err();
    assert!(matches!(&err, SweepError::UnknownPlaceholder { name, .. } if name == "HOME"));
    assert_eq!(
        err.to_string(),
        "unknown placeholder {HOME} in \"echo ${HOME} {lr}\": the point's parameters are lr, \
         seed (hint: write {{ and }} for literal braces, e.g. `${{HOME}}` in a shell line)"
    );
    let argv = TaskCommand::Argv(vec!["x".into(), "{lr".into()]);
    let err = substitute(&argv, &p).unwrap_err().to_string();
    assert_eq!(
        err,
        "template \"{lr\": the `{` at byte 0 is not closed (hint: write `{{` for a literal `{`)"
    );
    let err = substitute_str("a}b", &p).unwrap_err().to_string();
    assert!(err.contains("`}` at byte 1 has no `{`"), "{err}");
    let nul = one_point(json!({"v": "a\u{0}b"}));
    let err = substitute(&TaskCommand::Argv(vec!["{v}".into()]), &nul)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the value of {v} holds a NUL byte"), "{err}");
}

#[test]
fn names_come_from_templates_or_the_index() {
    let p = one_point(json!({"lr": 0.001, "opt": "s g d/2", "seed": 7}));
    assert_eq!(
        substitute_str("train-{lr}-{opt}-{seed}", &p).unwrap(),
        "train-0.001-s_g_d_2-7"
    );
    assert_eq!(point_name("train", &p), "train-4");
    assert_eq!(point_name("my sweep!", &p), "my_sweep_-4");
}
