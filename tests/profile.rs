//! Starting a task from a profile (`xpr::session::profile`): the merge `xpr run --profile P`
//! does, the same for any caller. Explicit choices win; the profile fills in the rest.

use std::path::Path;

use serde_json::json;
use xpr::config::{ConfigErrorKind, ConfigSearch, LoadedConfig};
use xpr::db::EndState;
use xpr::resources::{CountRequest, Resources};
use xpr::session::profile::{ProfileError, TaskOptions};
use xpr::session::{Retries, StartRequest};
use xpr::task::TaskSpec;

/// A config with a Slurm system and two profiles, loaded from a temp dir.
fn config(dir: &Path) -> LoadedConfig {
    let file = dir.join("config.json");
    let doc = json!({
        "systems": {"hpc": {"host": "hpc.example.org", "scheduler": "slurm",
                            "partitions": {"standard": {"num_cores": 128}}}},
        "profiles": {
            "short": {"system": "hpc",
                      "resources": {"max_time": "1h", "num_nodes": 1, "partitions": ["standard"]},
                      "header": ["#SBATCH --qos=short"],
                      "env": {"OMP_NUM_THREADS": "1", "MODE": "profile"}},
            "broken": {"resources": {"num_nodes": 1}},
            "picky": {"error_whitelist": ["site banner noise here"], "whitelist_threshold": 2,
                      "error_lines_fail": true}
        }
    });
    std::fs::write(&file, doc.to_string()).unwrap();
    LoadedConfig::from_files(&[file], dir).unwrap()
}

fn spec() -> TaskSpec {
    TaskSpec::argv("job", ["true"])
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_profile_gives_system_resources_header_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = config(dir.path());
    let request =
        StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("short")).unwrap();
    assert_eq!(request.system, "hpc");
    assert_eq!(
        request.resources,
        Resources::nodes(1)
            .with_max_time(3600)
            .with_partitions(["standard"])
    );
    assert_eq!(request.extra_header, ["#SBATCH --qos=short"]);
    assert_eq!(
        request.spec.env,
        env(&[("OMP_NUM_THREADS", "1"), ("MODE", "profile")])
    );
}

#[test]
fn explicit_choices_win_over_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = config(dir.path());
    let mut spec = spec();
    spec.env = env(&[("MODE", "spec"), ("SPEC_ONLY", "s")]);
    let options = TaskOptions::new()
        .profile("short")
        .system("local")
        .resources(Resources::cores(2).with_partial_node(true))
        .env("MODE", "explicit")
        .env("EXTRA", "e")
        .header(["#SBATCH --mail-type=END"])
        .base_dir("/data/project");
    let request = StartRequest::from_profile(spec, &loaded, &options).unwrap();
    assert_eq!(request.system, "local");
    assert_eq!(request.resources.count, CountRequest::Cores(2));
    assert!(request.resources.partial_node);
    assert_eq!(
        request.resources.max_time, None,
        "resources replace as a whole"
    );
    // A later value replaces the earlier one in its place; new names follow.
    assert_eq!(
        request.spec.env,
        env(&[
            ("OMP_NUM_THREADS", "1"),
            ("MODE", "explicit"),
            ("SPEC_ONLY", "s"),
            ("EXTRA", "e")
        ])
    );
    assert_eq!(
        request.extra_header,
        ["#SBATCH --qos=short", "#SBATCH --mail-type=END"]
    );
    assert_eq!(
        request.base_dir.as_deref(),
        Some(Path::new("/data/project"))
    );
}

#[test]
fn without_a_profile_the_builtin_local_system_and_one_core_for_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = LoadedConfig::from_files(&[], dir.path()).unwrap();
    let request = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new()).unwrap();
    assert_eq!(request.system, "local");
    assert_eq!(
        request.resources,
        Resources::cores(1)
            .with_partial_node(true)
            .with_max_time(3600)
    );
    assert!(request.extra_header.is_empty());
    assert!(request.spec.env.is_empty());
}

#[test]
fn an_unknown_or_invalid_profile_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = config(dir.path());
    let err = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("shrot"))
        .unwrap_err();
    let ProfileError::Config(config_err) = &err else {
        panic!("expected a config error: {err}");
    };
    assert!(matches!(
        *config_err.kind,
        ConfigErrorKind::UnknownProfile { .. }
    ));
    assert!(err.to_string().contains("did you mean \"short\"?"), "{err}");
    assert!(
        err.to_string()
            .starts_with(&dir.path().join("config.json").display().to_string()),
        "names the file: {err}"
    );

    // `broken` has no max_time: its resources are no request.
    let err = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("broken"))
        .unwrap_err();
    assert!(matches!(err, ProfileError::Resources { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("profile \"broken\" has invalid resources"),
        "{err}"
    );
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("max_time"), "{cause}");
    // Explicit resources need none of the profile's.
    let options = TaskOptions::new()
        .profile("broken")
        .resources(Resources::cores(1));
    assert!(StartRequest::from_profile(spec(), &loaded, &options).is_ok());
}

#[test]
fn a_profile_of_a_config_with_problems_points_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let expyre = dir.path().join("_expyre");
    std::fs::create_dir_all(&expyre).unwrap();
    std::fs::write(expyre.join("config.json"), "{\"profiles\": ").unwrap();
    let loaded =
        LoadedConfig::load_lenient(&ConfigSearch::new(dir.path(), Some(dir.path().into())))
            .unwrap();
    let err = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("short"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("profile \"short\" cannot be used: the config has problems"),
        "{err}"
    );
    // Without a profile the built-in local system still works.
    assert!(StartRequest::from_profile(spec(), &loaded, &TaskOptions::new()).is_ok());
}

#[test]
fn a_profile_gives_gpus_and_an_account_and_bad_ones_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let resources = |extra: serde_json::Value| {
        let mut r = json!({"max_time": "1h", "num_nodes": 1});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    let doc = json!({
        "systems": {"hpc": {"host": "hpc.example.org", "scheduler": "slurm",
                            "resource_lines": true,
                            "partitions": {"gpu": {"num_cores": 32}}}},
        "profiles": {
            "gpu": {"system": "hpc", "resources": resources(json!({"gpus": 4, "account": "e89-gpu"}))},
            "zero": {"resources": resources(json!({"gpus": 0}))},
            "spaced": {"resources": resources(json!({"account": "e89 gpu"}))},
        }
    });
    std::fs::write(&file, doc.to_string()).unwrap();
    let loaded = LoadedConfig::from_files(&[file], dir.path()).unwrap();
    let request =
        StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("gpu")).unwrap();
    assert_eq!(
        request.resources,
        Resources::nodes(1)
            .with_max_time(3600)
            .with_gpus(4)
            .with_account("e89-gpu")
    );
    for (profile, key) in [("zero", "gpus"), ("spaced", "account")] {
        let err = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile(profile))
            .unwrap_err();
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains(&format!("{key:?}")), "{profile}: {cause}");
    }
}

/// A profile's failure analysis settings travel with the task's spec, under the task's own.
#[test]
fn a_profile_gives_error_rules_under_the_tasks_own() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = config(dir.path());
    let mut own = spec();
    own.error_rules.error_whitelist = vec!["my own noise".into()];
    own.error_rules.error_lines_fail = Some(false);
    let request =
        StartRequest::from_profile(own, &loaded, &TaskOptions::new().profile("picky")).unwrap();
    let rules = &request.spec.error_rules;
    assert_eq!(
        rules.error_whitelist,
        ["site banner noise here", "my own noise"]
    );
    assert_eq!(
        rules.whitelist_threshold,
        Some(2),
        "the profile's: the task sets none"
    );
    assert_eq!(rules.error_lines_fail, Some(false), "the task's own wins");
    // Without a profile the spec's rules are left as they are.
    let plain = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new()).unwrap();
    assert!(plain.spec.error_rules.is_empty());
}

#[test]
fn a_profile_gives_retry_defaults_and_a_bad_class_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let doc = json!({
        "systems": {"hpc": {"host": "hpc.example.org", "scheduler": "slurm",
                            "partitions": {"standard": {"num_cores": 128}}}},
        "profiles": {
            "patient": {"system": "hpc", "max_retries": 3, "retry_on": ["timeout", "node_fail"],
                        "retry_time_factor": 2},
            "plain": {"system": "hpc"},
            "typo": {"retry_on": ["timeuot"]},
            "never": {"retry_on": ["cancelled"]}
        }
    });
    std::fs::write(&file, doc.to_string()).unwrap();
    let loaded = LoadedConfig::from_files(&[file], dir.path()).unwrap();
    let request =
        StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("patient"))
            .unwrap();
    let want = Retries::up_to(3)
        .on(&[EndState::Timeout, EndState::NodeFail])
        .unwrap()
        .with_time_factor(2.0);
    assert_eq!(request.retries, Some(want));
    // No retry keys: the system's defaults apply when the task starts.
    let plain =
        StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile("plain")).unwrap();
    assert_eq!(plain.retries, None);
    for (profile, word) in [("typo", "timeuot"), ("never", "cancel")] {
        let err = StartRequest::from_profile(spec(), &loaded, &TaskOptions::new().profile(profile))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("profiles.{profile}.retry_on")) && err.contains(word),
            "{err}"
        );
    }
}
