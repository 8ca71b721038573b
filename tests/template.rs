//! The header template language through its public API: keys (xpr's memory, GPU and account
//! keys too), braces, format specs, errors.

use xpr::resources::{MemRequest, NodeAllocation};
use xpr::template::{HeaderVars, TemplateErrorKind, TemplateValue, render_line, render_lines};

const GB: u64 = 1024 * 1024;

/// 2 nodes of 16 cores, tasks of 4 cores, 2 d 1 h 10 s, partition `standard`, 2 GB per core,
/// 2 GPUs per node, account `e89-camm`.
fn alloc() -> NodeAllocation {
    NodeAllocation {
        partition: "std_key".into(),
        scheduler_partition: "standard".into(),
        num_nodes: 2,
        num_cores: 32,
        num_cores_per_node: 16,
        ncores_per_task: 4,
        max_time: Some(2 * 86400 + 3600 + 10),
        mem: Some(MemRequest::PerCore(2 * GB)),
        gpus: Some(2),
        account: Some("e89-camm".into()),
    }
}

fn vars() -> HeaderVars {
    HeaderVars::new(&alloc(), "job_7")
}

fn render(line: &str) -> Result<String, TemplateErrorKind> {
    render_line(line, &vars())
}

#[test]
fn every_key_renders_its_value() {
    let cases = [
        ("{num_nodes}", "2"),
        ("{num_cores}", "32"),
        ("{num_cores_per_node}", "16"),
        ("{id}", "job_7"),
        // The id unless a system's job_name_prefix is put before it (below).
        ("{job_name}", "job_7"),
        ("{max_time}", "49:00:10"),
        ("{partition}", "standard"),
        ("{queue}", "standard"),
        ("{nnodes}", "2"),
        ("{tot_ncores}", "32"),
        ("{ncores_per_node}", "16"),
        ("{tot_ntasks}", "8"),
        ("{ncores_per_task}", "4"),
        ("{ntasks_per_node}", "4"),
        ("{max_time_HMS}", "49:00:10"),
        // 176410 s = 2940.17 min, rounded up for LSF's -W.
        ("{max_time_minutes}", "2941"),
        // Memory in kB: 2 GB per core as asked, times 32 cores, times 16 cores per node.
        ("{max_mem_tot}", "67108864"),
        ("{max_mem_per_core}", "2097152"),
        ("{mem_per_node}", "33554432"),
        ("{gpus}", "2"),
        ("{num_gpus}", "4"),
        ("{account}", "e89-camm"),
    ];
    assert_eq!(cases.len(), HeaderVars::KEYS.len());
    for (template, want) in cases {
        assert_eq!(render(template).unwrap(), want, "{template}");
    }
}

#[test]
fn job_name_is_the_id_after_a_prefix() {
    let vars = vars().with_job_name("proj-job_7");
    assert_eq!(
        render_line("#SBATCH --job-name={job_name} -o job.{id}.out", &vars).unwrap(),
        "#SBATCH --job-name=proj-job_7 -o job.job_7.out"
    );
}

#[test]
fn a_slurm_line_renders_like_python() {
    assert_eq!(
        render("#SBATCH --nodes={num_nodes} --ntasks-per-node={ntasks_per_node} -p {partition}")
            .unwrap(),
        "#SBATCH --nodes=2 --ntasks-per-node=4 -p standard"
    );
}

#[test]
fn double_braces_are_literal_and_lines_are_right_stripped() {
    assert_eq!(render("a {{x}} {{{id}}}   \t").unwrap(), "a {x} {job_7}");
    assert_eq!(render("}}{{").unwrap(), "}{");
    assert_eq!(render("  leading kept").unwrap(), "  leading kept");
}

#[test]
fn format_specs_follow_python() {
    let cases = [
        ("{num_nodes:03d}", "002"),
        ("{num_cores:d}", "32"),
        ("{num_nodes:>4}", "   2"),
        ("{num_nodes:<4}|", "2   |"),
        ("{num_nodes:^5}|", "  2  |"),
        ("{num_nodes:x<3}", "2xx"),
        ("{num_nodes:+d}", "+2"),
        ("{num_nodes:+04}", "+002"),
        ("{num_nodes:>04}", "0002"),
        ("{id:>8}", "   job_7"),
        ("{id:*^9}", "**job_7**"),
        ("{id:s}", "job_7"),
        ("{id:.3}", "job"),
        ("{id:08}", "job_7000"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template).unwrap(), want, "{template}");
    }
}

#[test]
fn unsupported_or_mismatched_specs_are_refused() {
    for spec in [
        "{num_nodes:x}",
        "{num_nodes:,}",
        "{num_nodes:#d}",
        "{num_nodes:.2}",
        "{num_nodes:s}",
        "{id:d}",
        "{id:+}",
        "{id:=5}",
        "{num_nodes:5q}",
    ] {
        match render(spec) {
            Err(TemplateErrorKind::BadSpec { .. }) => {}
            other => panic!("{spec}: expected a spec error, got {other:?}"),
        }
    }
}

#[test]
fn unknown_key_names_key_suggestion_and_known_keys() {
    let err = render_lines(&["#SBATCH -N 1", "#SBATCH -n {num_core}"], &vars()).unwrap_err();
    assert_eq!(err.line_no, 2);
    assert_eq!(err.line, "#SBATCH -n {num_core}");
    assert_eq!(
        err.kind,
        TemplateErrorKind::UnknownKey {
            key: "num_core".into(),
            suggestion: Some("num_cores"),
        }
    );
    let text = err.to_string();
    for needle in [
        "line 2",
        "#SBATCH -n {num_core}",
        "`num_core`",
        "did you mean `num_cores`",
        "ntasks_per_node",
    ] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
    // Far from every key: no suggestion.
    assert!(matches!(
        render("{walltime_limit}"),
        Err(TemplateErrorKind::UnknownKey {
            suggestion: None,
            ..
        })
    ));
    // Keys are case-sensitive, as in Python, but the suggestion helps.
    assert!(matches!(
        render("{NUM_NODES}"),
        Err(TemplateErrorKind::UnknownKey {
            suggestion: Some("num_nodes"),
            ..
        })
    ));
}

#[test]
fn unbalanced_braces_name_their_column() {
    assert_eq!(
        render("ab {id"),
        Err(TemplateErrorKind::UnclosedBrace { column: 4 })
    );
    assert_eq!(
        render("ab } c"),
        Err(TemplateErrorKind::StrayCloseBrace { column: 4 })
    );
    assert_eq!(
        render("{id}}"),
        Err(TemplateErrorKind::StrayCloseBrace { column: 5 })
    );
    let err = render_lines(&["ok", "", "x { y"], &vars()).unwrap_err();
    assert_eq!(err.line_no, 3);
    assert!(err.to_string().contains("write `{{`"), "{err}");
}

#[test]
fn python_features_outside_the_language_are_refused_clearly() {
    assert!(matches!(
        render("{}"),
        Err(TemplateErrorKind::Positional { .. })
    ));
    assert!(matches!(
        render("{0}"),
        Err(TemplateErrorKind::Positional { .. })
    ));
    assert!(matches!(
        render("{id.upper}"),
        Err(TemplateErrorKind::FieldAccess { .. })
    ));
    assert!(matches!(
        render("{id[0]}"),
        Err(TemplateErrorKind::FieldAccess { .. })
    ));
    assert!(matches!(
        render("{id!r}"),
        Err(TemplateErrorKind::Conversion { .. })
    ));
    assert_eq!(
        render("{id:{num_nodes}}"),
        Err(TemplateErrorKind::NestedField)
    );
}

#[test]
fn no_time_limit_makes_max_time_an_error_with_a_hint() {
    let mut a = alloc();
    a.max_time = None;
    let vars = HeaderVars::new(&a, "j");
    assert!(matches!(
        vars.get("max_time"),
        Some(TemplateValue::Missing { .. })
    ));
    for line in ["#SBATCH --time={max_time}", "{max_time_HMS}"] {
        let err = render_line(line, &vars).unwrap_err();
        assert!(matches!(err, TemplateErrorKind::NoValue { .. }), "{err:?}");
        assert!(err.to_string().contains("--max-time"), "{err}");
    }
    // Lines without the time still render.
    assert_eq!(render_line("-N {num_nodes}", &vars).unwrap(), "-N 2");
}

#[test]
fn a_value_with_a_line_break_cannot_inject_header_lines() {
    let vars = HeaderVars::new(&alloc(), "a\n#SBATCH --qos=evil");
    assert!(matches!(
        render_line("#SBATCH -J {id}", &vars),
        Err(TemplateErrorKind::ControlCharInValue { .. })
    ));
}

#[test]
fn zero_cores_per_task_is_taken_as_one() {
    let mut a = alloc();
    a.ncores_per_task = 0;
    let vars = HeaderVars::new(&a, "j");
    assert_eq!(
        render_line("{tot_ntasks} {ncores_per_task}", &vars).unwrap(),
        "32 1"
    );
}

#[test]
fn memory_keys_derive_every_form_from_the_one_asked_rounding_shares_up() {
    let with = |mem| {
        let mut a = alloc();
        a.mem = Some(mem);
        render_line(
            "{max_mem_tot} {max_mem_per_core} {mem_per_node}",
            &HeaderVars::new(&a, "j"),
        )
        .unwrap()
    };
    // 2 nodes, 32 cores: 10000001 kB / 32 = 312500.03, / 2 = 5000000.5.
    assert_eq!(
        with(MemRequest::Total(10_000_001)),
        "10000001 312501 5000001"
    );
    assert_eq!(with(MemRequest::PerCore(1000)), "32000 1000 16000");
    // The older per-task form: 8 tasks of 4 cores, 4 tasks per node.
    assert_eq!(with(MemRequest::PerTask(1001)), "8008 251 4004");
}

#[test]
fn resource_keys_not_asked_for_are_errors_saying_which_flag_gives_them() {
    let mut a = alloc();
    a.mem = None;
    a.gpus = None;
    a.account = None;
    let vars = HeaderVars::new(&a, "j");
    for (line, key, flag) in [
        ("#SBATCH --mem={mem_per_node}K", "mem_per_node", "--mem"),
        ("{max_mem_tot}", "max_mem_tot", "--mem"),
        ("{max_mem_per_core}", "max_mem_per_core", "--mem-per-core"),
        ("#SBATCH --gres=gpu:{gpus}", "gpus", "--gpus"),
        ("{num_gpus}", "num_gpus", "--gpus"),
        ("#SBATCH --account={account}", "account", "--account"),
    ] {
        let err = render_line(line, &vars).unwrap_err();
        let TemplateErrorKind::NoValue { key: named, .. } = &err else {
            panic!("{line}: {err:?}")
        };
        assert_eq!(named, key);
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{{{key}}}`")) && text.contains(flag),
            "{text}"
        );
    }
}
