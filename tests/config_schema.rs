//! `schemas/config.schema.json` against the sample configs: every valid fixture passes the
//! schema and loads through the library; every invalid one is rejected by both.

use std::path::{Path, PathBuf};

use serde_json::Value;
use xpr::config::{Config, LoadedConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas/config.schema.json"))
        .expect("read schemas/config.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("schema is json");
    jsonschema::meta::validate(&schema).expect("schema is a valid draft 2020-12 schema");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_valid_fixture_passes_the_schema_and_loads() {
    let validator = schema();
    let files = json_files(&root().join("fixtures/configs"));
    assert!(
        files.len() >= 6,
        "expected the sample configs, found {files:?}"
    );
    for file in files {
        let doc = read_json(&file);
        let errors = schema_errors(&validator, &doc);
        assert!(
            errors.is_empty(),
            "{} fails the schema: {errors:#?}",
            file.display()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = Config::from_json_str(&text, &file) {
            panic!("{} does not load: {e}", file.display());
        }
    }
}

#[test]
fn merged_layered_fixture_passes_the_schema() {
    let validator = schema();
    let dir = root().join("fixtures/configs/layered");
    let files = vec![dir.join("home.json"), dir.join("project.json")];
    let loaded = LoadedConfig::from_files(&files, &dir).expect("layered pair loads");
    let merged = Value::Object(loaded.merged.clone());
    let errors = schema_errors(&validator, &merged);
    assert!(
        errors.is_empty(),
        "merged layers fail the schema: {errors:#?}"
    );
    // The home layer alone is a whole config too.
    let home = read_json(&files[0]);
    assert!(schema_errors(&validator, &home).is_empty());
}

#[test]
fn every_invalid_fixture_is_rejected_by_schema_and_library() {
    let validator = schema();
    let files = json_files(&root().join("fixtures/configs/invalid"));
    assert!(
        files.len() >= 10,
        "expected the invalid configs, found {files:?}"
    );
    for file in files {
        let doc = read_json(&file);
        assert!(
            !validator.is_valid(&doc),
            "{} passes the schema but should not",
            file.display()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        match Config::from_json_str(&text, &file) {
            Ok(_) => panic!("{} loads but should not", file.display()),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(&file.display().to_string()),
                    "{}: the error does not name the file: {message}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn schema_checks_units_like_the_library() {
    let validator = schema();
    let with_partition = |partition: Value| {
        serde_json::json!({"systems": {"s": {"host": null, "scheduler": "slurm",
            "partitions": {"p": partition}}}})
    };
    let good_times = [
        "5",
        "10:10",
        "2:10:10",
        "3-2:10:10",
        "00:30",
        "30m",
        "1.5h",
        "2d",
        "_none_",
        "3-10:10",
        "1.5 m",
    ];
    for t in good_times {
        let doc = with_partition(serde_json::json!({"num_cores": 4, "max_time": t}));
        assert!(validator.is_valid(&doc), "schema rejects time {t:?}");
        assert!(
            Config::from_json_str(&doc.to_string(), Path::new("t.json")).is_ok(),
            "library rejects time {t:?}"
        );
    }
    for t in ["1h1s", "ten minutes", "3-", ".5h", ""] {
        let doc = with_partition(serde_json::json!({"num_cores": 4, "max_time": t}));
        assert!(!validator.is_valid(&doc), "schema accepts time {t:?}");
        assert!(
            Config::from_json_str(&doc.to_string(), Path::new("t.json")).is_err(),
            "library accepts time {t:?}"
        );
    }
    for m in ["5kB", "5k", "5MB", "5GB", "1.5tb", "500 mb"] {
        let doc = with_partition(serde_json::json!({"num_cores": 4, "max_mem": m}));
        assert!(validator.is_valid(&doc), "schema rejects memory {m:?}");
        assert!(
            Config::from_json_str(&doc.to_string(), Path::new("m.json")).is_ok(),
            "library rejects memory {m:?}"
        );
    }
    for m in ["5", "5XB", "lots", "-5GB"] {
        let doc = with_partition(serde_json::json!({"num_cores": 4, "max_mem": m}));
        assert!(!validator.is_valid(&doc), "schema accepts memory {m:?}");
        assert!(
            Config::from_json_str(&doc.to_string(), Path::new("m.json")).is_err(),
            "library accepts memory {m:?}"
        );
    }
}

#[test]
fn schema_and_library_agree_on_resource_lines_gpus_and_account() {
    let validator = schema();
    let doc = |resource_lines: Value, resources: Value| {
        serde_json::json!({"systems": {"s": {"host": null, "scheduler": "slurm",
            "resource_lines": resource_lines, "partitions": {"p": {"num_cores": 4}}}},
            "profiles": {"p": {"system": "s", "resources": resources}}})
    };
    let loads = |d: &Value| {
        let config = Config::from_json_str(&d.to_string(), Path::new("r.json"))?;
        let resources = &config.profiles[0].resources;
        Ok::<_, Box<dyn std::error::Error>>(xpr::resources::Resources::from_json_map(resources)?)
    };
    let good = doc(
        serde_json::json!(true),
        serde_json::json!({"max_time": "1h", "num_cores": 1, "gpus": 2, "account": "e89-camm"}),
    );
    assert!(
        validator.is_valid(&good),
        "{:?}",
        schema_errors(&validator, &good)
    );
    assert!(loads(&good).is_ok());
    for (resource_lines, extra) in [
        (serde_json::json!("yes"), serde_json::json!({})),
        (serde_json::json!(false), serde_json::json!({"gpus": 0})),
        (serde_json::json!(false), serde_json::json!({"gpus": "2"})),
        (
            serde_json::json!(false),
            serde_json::json!({"account": "e89 camm"}),
        ),
        (serde_json::json!(false), serde_json::json!({"account": ""})),
        (
            serde_json::json!(false),
            serde_json::json!({"account": "a\u{7}"}),
        ),
    ] {
        let mut resources = serde_json::json!({"max_time": "1h", "num_cores": 1});
        resources
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let d = doc(resource_lines.clone(), resources);
        assert!(
            !validator.is_valid(&d),
            "schema accepts {resource_lines} {extra}"
        );
        assert!(
            loads(&d).is_err(),
            "library accepts {resource_lines} {extra}"
        );
    }
}

/// The results schema names every status and end state the library has, and no other: a new
/// one added to the code without the schema fails here, not in a user's validator.
#[test]
fn the_results_schema_lists_exactly_the_statuses_and_end_states_of_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/results.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let words = |def: &str| -> Vec<String> {
        schema["$defs"][def]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("$defs.{def}.enum"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let statuses: Vec<String> = xpr::db::TaskStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(words("status"), statuses);
    let ends: Vec<String> = xpr::db::EndState::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(words("endState"), ends);
}
