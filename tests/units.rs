//! Time and memory units against ExPyRe's accepted spellings (reference: expyre-compat.md,
//! "Units"), and resource dicts read from JSON.

use serde_json::json;
use xpr::resources::{
    CountRequest, MemRequest, Resources, ResourcesError, format_hms, format_mem, format_mem_exact,
    mem_from_json, parse_mem, parse_time, time_from_json,
};

#[test]
fn time_examples_of_the_reference() {
    for (text, seconds) in [
        ("5", 5),
        ("10:10", 610),
        ("2:10:10", 7810),
        ("3-2:10:10", 267010),
        ("00:30", 30),
        ("30m", 1800),
    ] {
        assert_eq!(parse_time(text), Ok(Some(seconds)), "parse_time({text:?})");
    }
    assert!(parse_time("1h1s").is_err());
    assert_eq!(parse_time("_none_"), Ok(None));
}

#[test]
fn time_with_units_any_case_spaces_and_fractions() {
    for (text, seconds) in [
        ("48h", 48 * 3600),
        ("48H", 48 * 3600),
        ("  2d ", 2 * 86400),
        ("1.5h", 5400),
        ("1.5 m", 90),
        ("5.s", 5),
        ("5.9s", 5), // truncated, as Python's int()
        ("7s", 7),
        ("48:00:00", 48 * 3600),
        ("1-0", 86400), // ExPyRe allows a day count before any clock form
        ("100:00", 6000),
    ] {
        assert_eq!(parse_time(text), Ok(Some(seconds)), "parse_time({text:?})");
    }
    assert_eq!(parse_time(" _NONE_ "), Ok(None));
}

#[test]
fn time_rejects_what_expyre_rejects() {
    for text in [
        "", "h", "1h1s", "-5", "+5", "1e3s", "inf", "nan", "1:2:3:4", "1-", "-1:00", "1.5", "5 x",
        "1:", "1::2", "5sec", "5.",
    ] {
        let err = parse_time(text).expect_err(text);
        assert_eq!(err.what, "time");
        assert_eq!(err.value, text);
        assert!(err.to_string().contains("hint:"), "{err}");
    }
    assert!(parse_time("99999999999999999999").is_err());
    assert!(parse_time("999999999999999999-0").is_err());
}

#[test]
fn time_from_json_values() {
    assert_eq!(time_from_json(&json!(3600)), Ok(Some(3600)));
    assert_eq!(time_from_json(&json!("1h")), Ok(Some(3600)));
    assert_eq!(time_from_json(&json!(null)), Ok(None));
    assert_eq!(time_from_json(&json!("_none_")), Ok(None));
    for bad in [json!(-1), json!(1.5), json!(true), json!([1]), json!("x")] {
        assert!(time_from_json(&bad).is_err(), "{bad}");
    }
}

#[test]
fn memory_examples_of_the_reference() {
    for (text, kb) in [
        ("5kB", 5),
        ("5k", 5),
        ("5MB", 5120),
        ("5GB", 5 * 1024 * 1024),
        ("5TB", 5 * 1024 * 1024 * 1024),
        ("5mb", 5120),
        ("5Gb", 5 * 1024 * 1024),
        ("60GB", 60 * 1024 * 1024),
        (" 1.5 g ", 1536 * 1024),
        ("0.5k", 0), // truncated to whole kB, as Python's int()
    ] {
        assert_eq!(parse_mem(text), Ok(kb), "parse_mem({text:?})");
    }
}

#[test]
fn memory_rejects_bare_numbers_and_junk() {
    let err = parse_mem("5").unwrap_err();
    assert_eq!(err.what, "memory");
    assert!(err.to_string().contains("needs a unit"), "{err}");
    for text in [
        "5", "5.5", "", "gb", "5pb", "5 bytes", "-5GB", "1e3k", "5GiB", "5g5", "_none_",
    ] {
        assert!(parse_mem(text).is_err(), "parse_mem({text:?}) should fail");
    }
    assert!(parse_mem("99999999999999999999T").is_err());
}

#[test]
fn mem_from_json_values() {
    assert_eq!(mem_from_json(&json!(1024)), Ok(Some(1024)));
    assert_eq!(mem_from_json(&json!("1MB")), Ok(Some(1024)));
    assert_eq!(mem_from_json(&json!(null)), Ok(None));
    assert_eq!(mem_from_json(&json!("_none_")), Ok(None));
    for bad in [json!("5"), json!(-1), json!(2.5), json!(false), json!({})] {
        assert!(mem_from_json(&bad).is_err(), "{bad}");
    }
}

#[test]
fn hms_examples_of_the_reference() {
    assert_eq!(format_hms(5), "0:00:05");
    assert_eq!(format_hms(3700), "1:01:40");
    assert_eq!(format_hms(2 * 86400 + 3600 + 10), "49:00:10");
    assert_eq!(format_hms(0), "0:00:00");
}

#[test]
fn hms_reads_back() {
    for seconds in [0, 1, 59, 60, 3599, 3600, 86399, 86400, 267010, 1_000_000] {
        assert_eq!(parse_time(&format_hms(seconds)), Ok(Some(seconds)));
    }
}

#[test]
fn memory_formats() {
    assert_eq!(format_mem(60 * 1024 * 1024), "60.0 GiB");
    assert_eq!(format_mem_exact(5 * 1024 * 1024), "5GB");
    assert_eq!(format_mem_exact(1500), "1500kB");
    assert_eq!(format_mem_exact(0), "0kB");
    for kb in [0, 1, 1023, 1024, 1536, 1 << 20, 3 << 30, 1500 * 1024 * 1024] {
        assert_eq!(parse_mem(&format_mem_exact(kb)), Ok(kb));
    }
}

#[test]
fn resources_current_form() {
    let r = Resources::from_json(&json!({
        "max_time": "48h", "num_cores": 32, "max_mem_tot": "100GB",
        "partitions": ["node3.*", "node16.*"], "exact_fit": false,
    }))
    .unwrap();
    assert_eq!(r.max_time, Some(48 * 3600));
    assert_eq!(r.count, CountRequest::Cores(32));
    assert_eq!(r.mem, Some(MemRequest::Total(100 * 1024 * 1024)));
    assert_eq!(r.partitions, ["node3.*", "node16.*"]);
    assert!(!r.exact_fit);
    assert!(!r.partial_node);
    assert_eq!(
        r,
        Resources::cores(32)
            .with_max_time(48 * 3600)
            .with_max_mem_tot(100 * 1024 * 1024)
            .with_partitions(["node3.*", "node16.*"])
            .with_exact_fit(false)
    );
}

#[test]
fn resources_defaults_and_queues_synonym() {
    let r =
        Resources::from_json(&json!({"max_time": 60, "num_nodes": 2, "queues": "debug"})).unwrap();
    assert_eq!(
        r,
        Resources::nodes(2)
            .with_max_time(60)
            .with_partitions(["debug"])
    );
    assert!(r.exact_fit && !r.partial_node && r.effective_exact_fit());
    let r = Resources::from_json(&json!({"max_time": null, "num_cores": 8, "partial_node": true}))
        .unwrap();
    assert_eq!(r.max_time, None);
    assert!(r.partial_node && !r.effective_exact_fit());
}

#[test]
fn resources_older_form() {
    let r = Resources::from_json(&json!({
        "max_time": "1h", "n": [1, "nodes"], "partitions": ".*bigmem",
    }))
    .unwrap();
    assert_eq!(r.count, CountRequest::Nodes(1));
    assert_eq!(r.partitions, [".*bigmem"]);

    let r = Resources::from_json(&json!({
        "max_time": 600, "n": [10, "tasks"], "ncores_per_task": 4, "max_mem_per_task": "2GB",
    }))
    .unwrap();
    assert_eq!(
        r.count,
        CountRequest::Tasks {
            tasks: 10,
            cores_per_task: 4
        }
    );
    assert_eq!(r.mem, Some(MemRequest::PerTask(2 * 1024 * 1024)));

    let r = Resources::from_json(&json!({"max_time": 1, "n": [3, "nodes"], "ncores_per_task": 0}))
        .unwrap();
    assert_eq!(
        r.count,
        CountRequest::NodesOfTasks {
            nodes: 3,
            cores_per_task: 0
        }
    );
}

#[test]
fn resources_round_trip_through_json() {
    for r in [
        Resources::cores(17)
            .with_max_time(3600)
            .with_exact_fit(false),
        Resources::nodes(2)
            .with_max_mem_per_core(1024)
            .with_partitions(["a", "b.*"])
            .with_partial_node(true),
        Resources::new(CountRequest::Tasks {
            tasks: 4,
            cores_per_task: 2,
        })
        .with_mem(MemRequest::PerTask(10)),
        Resources::new(CountRequest::NodesOfTasks {
            nodes: 1,
            cores_per_task: 4,
        }),
    ] {
        assert_eq!(
            Resources::from_json(&r.to_json()),
            Ok(r.clone()),
            "{}",
            r.to_json()
        );
    }
}

#[test]
fn resources_errors_name_the_key() {
    let err = |v: serde_json::Value| Resources::from_json(&v).unwrap_err();

    let e = err(json!({"max_time": 1, "num_core": 4}));
    assert_eq!(
        e,
        ResourcesError::UnknownKey {
            key: "num_core".into(),
            suggestion: Some("num_cores")
        }
    );
    assert!(e.to_string().contains("did you mean \"num_cores\""), "{e}");
    let e = err(json!({"max_time": 1, "num_cores": 4, "max-mem-tot": "1GB"}));
    assert!(
        e.to_string().contains("did you mean \"max_mem_tot\""),
        "{e}"
    );
    let e = err(json!({"max_time": 1, "num_cores": 4, "colour": "blue"}));
    assert!(e.to_string().contains("known keys are"), "{e}");

    let e = err(json!({"max_time": 1, "num_nodes": 1, "num_cores": 4}));
    assert_eq!(
        e,
        ResourcesError::Conflict {
            first: "num_nodes",
            second: "num_cores"
        }
    );
    assert!(
        e.to_string().contains("\"num_nodes\" and \"num_cores\""),
        "{e}"
    );
    assert!(matches!(
        err(json!({"max_time": 1, "num_nodes": 1, "max_mem_tot": 1, "max_mem_per_core": 1})),
        ResourcesError::Conflict {
            first: "max_mem_tot",
            second: "max_mem_per_core"
        }
    ));
    assert!(matches!(
        err(json!({"max_time": 1, "num_nodes": 1, "partitions": "a", "queues": "b"})),
        ResourcesError::Conflict { .. }
    ));
    assert!(matches!(
        err(json!({"max_time": 1, "n": [1, "nodes"], "num_nodes": 1})),
        ResourcesError::Conflict {
            first: "n",
            second: "num_nodes"
        }
    ));
    assert!(matches!(
        err(json!({"max_time": 1, "num_cores": 4, "ncores_per_task": 2})),
        ResourcesError::OlderFormOnly {
            key: "ncores_per_task"
        }
    ));
    assert_eq!(
        err(json!({"num_cores": 4})),
        ResourcesError::Missing { what: "max_time" }
    );
    assert!(matches!(
        err(json!({"max_time": 1})),
        ResourcesError::Missing { .. }
    ));

    let e = err(json!({"max_time": "1h1s", "num_cores": 4}));
    assert!(
        matches!(
            e,
            ResourcesError::Unit {
                key: "max_time",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("\"max_time\"") && e.to_string().contains("1h1s"),
        "{e}"
    );
    let e = err(json!({"max_time": 1, "num_cores": 4, "max_mem_per_core": "5"}));
    assert!(
        matches!(
            e,
            ResourcesError::Unit {
                key: "max_mem_per_core",
                ..
            }
        ),
        "{e:?}"
    );

    for (value, key) in [
        (json!({"max_time": 1, "num_cores": 0}), "num_cores"),
        (json!({"max_time": 1, "num_cores": 2.5}), "num_cores"),
        (json!({"max_time": 1, "num_nodes": "2"}), "num_nodes"),
        (json!({"max_time": 1, "n": [2, "cores"]}), "n"),
        (json!({"max_time": 1, "n": 2}), "n"),
        (
            json!({"max_time": 1, "num_nodes": 1, "exact_fit": "no"}),
            "exact_fit",
        ),
        (
            json!({"max_time": 1, "num_nodes": 1, "partitions": []}),
            "partitions",
        ),
        (
            json!({"max_time": 1, "num_nodes": 1, "partitions": [1]}),
            "partitions",
        ),
    ] {
        match err(value.clone()) {
            ResourcesError::InvalidValue { key: k, .. } => assert_eq!(k, key, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
    }

    let e = err(json!({"max_time": 1, "num_nodes": 1, "partitions": ["ok", "node(16"]}));
    assert!(
        matches!(&e, ResourcesError::BadRegex { key: "partitions", pattern, .. } if pattern == "node(16"),
        "{e:?}"
    );
    assert!(matches!(
        err(json!([1])),
        ResourcesError::NotAnObject { found: "a list" }
    ));
}
