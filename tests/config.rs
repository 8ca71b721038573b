//! The config module through its public API: discovery in temporary directory trees, layered
//! merging, older key names, defaults, error messages (file + JSON path + hint), the built-in
//! `local` system, provenance and the remote run directory.

use std::path::{Path, PathBuf};

use serde_json::json;
use tempfile::TempDir;
use xpr::config::{
    Config, ConfigErrorKind, ConfigSearch, LoadedConfig, StageRootOrigin, discover, remote_rundir,
};
use xpr::scheduler::SchedulerKind;

const GB: u64 = 1024 * 1024;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/configs")
        .join(name)
}

fn load_fixture(name: &str) -> Config {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Config::from_json_str(&text, &path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The error message of loading `fixtures/configs/invalid/<name>`, checked to name the file.
fn invalid_fixture_error(name: &str) -> (String, ConfigErrorKind) {
    let path = fixture("invalid").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let err = Config::from_json_str(&text, &path).expect_err(name);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: ", path.display())),
        "{name}: error does not start with the file: {message}"
    );
    (message, *err.kind)
}

/// Writes `value` as `<dir>/config.json`, creating `dir`.
fn write_config(dir: &Path, value: serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("config.json");
    std::fs::write(&file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    file
}

fn slurm_system(host: &str, partitions: serde_json::Value) -> serde_json::Value {
    json!({"host": host, "scheduler": "slurm", "partitions": partitions})
}

/// A temp tree with `home/` inside; paths are canonical so comparisons hold on any platform.
struct Tree {
    _tmp: TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Self {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        Self { _tmp: tmp, root }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let d = self.root.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn search_from(&self, rel: &str) -> ConfigSearch {
        ConfigSearch::new(self.dir(rel), Some(self.home()))
    }

    /// `files` restricted to this tree (a walk to `/` may pass unrelated directories).
    fn ours(&self, files: &[PathBuf]) -> Vec<PathBuf> {
        files
            .iter()
            .filter(|f| f.starts_with(&self.root))
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------- discovery

#[test]
fn expyre_root_is_the_only_config_and_the_stage_root() {
    let t = Tree::new();
    write_config(
        &t.home().join(".expyre"),
        json!({"systems": {"home_sys": slurm_system("h.example.org", json!(null))}}),
    );
    write_config(
        &t.root.join("home/proj/_expyre"),
        json!({"systems": {"proj_sys": slurm_system("p.example.org", json!(null))}}),
    );
    let root = t.dir("elsewhere/xroot");
    let root_file = write_config(
        &root,
        json!({"systems": {"root_sys": slurm_system("r.example.org", json!(null))}}),
    );

    let search = t
        .search_from("home/proj")
        .with_expyre_root(root.as_os_str());
    let loaded = LoadedConfig::load(&search).unwrap();
    assert_eq!(loaded.files, vec![root_file]);
    let names: Vec<&str> = loaded
        .config
        .systems
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["local", "root_sys"]);
    assert_eq!(loaded.stage_root, root);
    assert_eq!(loaded.stage_root_origin, StageRootOrigin::ExpyreRoot);
}

#[test]
fn expyre_root_relative_is_taken_from_cwd_and_at_sign_means_search() {
    let t = Tree::new();
    let proj = t.dir("home/proj");
    write_config(
        &proj.join("myroot"),
        json!({"systems": {"rel": slurm_system("r.example.org", json!(null))}}),
    );
    write_config(
        &proj.join("_expyre"),
        json!({"systems": {"walked": slurm_system("w.example.org", json!(null))}}),
    );

    let relative =
        LoadedConfig::load(&t.search_from("home/proj").with_expyre_root("myroot")).unwrap();
    assert!(relative.config.system("rel").is_some());
    assert!(relative.config.system("walked").is_none());

    let at = LoadedConfig::load(&t.search_from("home/proj").with_expyre_root("@")).unwrap();
    assert!(at.config.system("walked").is_some());
    assert!(at.config.system("rel").is_none());
}

#[test]
fn expyre_root_that_is_not_a_directory_is_an_error() {
    let t = Tree::new();
    let missing = t.root.join("no/such/dir");
    let search = t.search_from("home").with_expyre_root(missing.as_os_str());
    let err = LoadedConfig::load(&search).unwrap_err();
    let message = err.to_string();
    assert!(matches!(*err.kind, ConfigErrorKind::NotADirectory { .. }));
    assert!(message.contains("EXPYRE_ROOT"), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("not a directory"), "{message}");
}

#[test]
fn walk_merges_shallowest_first_and_deepest_dir_is_stage_root() {
    let t = Tree::new();
    let home_file = write_config(
        &t.home().join(".expyre"),
        json!({"systems": {
            "shared": {"host": "home.example.org", "scheduler": "slurm", "partitions": null},
            "home_only": slurm_system("h.example.org", json!(null)),
        }}),
    );
    let proj_file = write_config(
        &t.root.join("home/proj/_expyre"),
        json!({"systems": {"shared": {"host": "proj.example.org"}}}),
    );
    let search = t.search_from("home/proj/sub/deeper");
    let found = discover(&search).unwrap();
    assert_eq!(found.files, vec![home_file.clone(), proj_file.clone()]);
    assert_eq!(
        found.dirs,
        vec![t.home().join(".expyre"), t.root.join("home/proj/_expyre")]
    );
    assert_eq!(found.searched[0], t.root.join("home/proj/sub/deeper"));
    assert_eq!(found.searched.last().unwrap(), &t.home());

    let loaded = LoadedConfig::load(&search).unwrap();
    let shared = loaded.system("shared").unwrap();
    assert_eq!(shared.host.as_deref(), Some("proj.example.org"));
    assert_eq!(shared.scheduler, SchedulerKind::Slurm);
    assert!(loaded.system("home_only").is_ok());
    assert_eq!(loaded.stage_root, t.root.join("home/proj/_expyre"));
    assert_eq!(loaded.stage_root_origin, StageRootOrigin::DeepestConfigDir);
    assert_eq!(
        loaded.system_sources("shared"),
        [home_file.clone(), proj_file]
    );
    assert_eq!(loaded.system_sources("home_only"), [home_file]);
    assert!(loaded.system_sources("local").is_empty());
}

#[test]
fn walk_stops_at_home() {
    let t = Tree::new();
    // Above $HOME: must not be read.
    write_config(
        &t.root.join(".expyre"),
        json!({"systems": {"above_home": slurm_system("a.example.org", json!(null))}}),
    );
    write_config(
        &t.home().join("_expyre"),
        json!({"systems": {"in_home": slurm_system("h.example.org", json!(null))}}),
    );
    let loaded = LoadedConfig::load(&t.search_from("home/a/b")).unwrap();
    assert_eq!(loaded.files, vec![t.home().join("_expyre/config.json")]);
    assert!(loaded.config.system("above_home").is_none());
    assert!(!loaded.searched.contains(&t.root));
}

#[test]
fn dot_and_underscore_expyre_in_one_dir_is_an_error() {
    let t = Tree::new();
    let proj = t.dir("home/proj");
    std::fs::create_dir_all(proj.join(".expyre")).unwrap();
    std::fs::create_dir_all(proj.join("_expyre")).unwrap();
    let err = LoadedConfig::load(&t.search_from("home/proj/src")).unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::BothExpyreDirs { .. }));
    let message = err.to_string();
    assert!(message.contains(&proj.display().to_string()), "{message}");
    assert!(
        message.contains(".expyre") && message.contains("_expyre"),
        "{message}"
    );
}

#[test]
fn home_config_is_read_when_cwd_is_outside_home() {
    let t = Tree::new();
    let home_file = write_config(
        &t.home().join(".expyre"),
        json!({"systems": {"global": slurm_system("g.example.org", json!(null)),
                           "both": slurm_system("home.example.org", json!(null))}}),
    );
    let scratch_file = write_config(
        &t.root.join("scratch/_expyre"),
        json!({"systems": {"both": {"host": "scratch.example.org"}}}),
    );
    let loaded = LoadedConfig::load(&t.search_from("scratch/run1")).unwrap();
    // Home first (lowest priority), then the walked directories shallowest first.
    assert_eq!(t.ours(&loaded.files), vec![home_file, scratch_file]);
    assert!(loaded.system("global").is_ok());
    assert_eq!(
        loaded.system("both").unwrap().host.as_deref(),
        Some("scratch.example.org")
    );
    assert_eq!(loaded.stage_root, t.root.join("scratch/_expyre"));
}

#[test]
fn expyre_dir_without_config_counts_for_stage_root() {
    let t = Tree::new();
    write_config(
        &t.home().join(".expyre"),
        json!({"systems": {"s": slurm_system("s.example.org", json!(null))}}),
    );
    let project = t.dir("home/proj/_expyre");
    let loaded = LoadedConfig::load(&t.search_from("home/proj")).unwrap();
    assert_eq!(loaded.files.len(), 1);
    assert_eq!(loaded.stage_root, project);
}

#[test]
fn local_stage_dir_overrides_stage_root_and_is_relative_to_cwd() {
    let t = Tree::new();
    let file = write_config(
        &t.home().join("proj/_expyre"),
        json!({"local_stage_dir": "stage_here", "systems": {}}),
    );
    let loaded = LoadedConfig::load(&t.search_from("home/proj/work")).unwrap();
    assert_eq!(loaded.stage_root, t.root.join("home/proj/work/stage_here"));
    assert_eq!(
        loaded.stage_root_origin,
        StageRootOrigin::LocalStageDir { file }
    );
}

#[test]
fn no_config_gives_builtin_local_and_a_clear_error_for_other_systems() {
    let t = Tree::new();
    let search = t.search_from("home/proj");
    let loaded = LoadedConfig::load(&search).unwrap();
    assert!(loaded.files.is_empty());
    assert_eq!(loaded.config, Config::builtin());
    assert_eq!(loaded.stage_root, t.home().join(".expyre"));
    assert_eq!(loaded.stage_root_origin, StageRootOrigin::Default);
    assert_eq!(
        loaded.system("local").unwrap().scheduler,
        SchedulerKind::Local
    );

    let err = loaded.system("archer2").unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::NoConfig { .. }));
    let message = err.to_string();
    assert!(message.contains("no config.json found"), "{message}");
    assert!(
        message.contains(&t.root.join("home/proj").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&t.home().display().to_string()),
        "{message}"
    );
    assert!(message.contains("hint:"), "{message}");
}

// ---------------------------------------------------------------- merge

fn layered() -> (LoadedConfig, PathBuf, PathBuf) {
    let dir = fixture("layered");
    let home = dir.join("home.json");
    let project = dir.join("project.json");
    let loaded = LoadedConfig::from_files(&[home.clone(), project.clone()], &dir).unwrap();
    (loaded, home, project)
}

#[test]
fn layered_merge_deletes_recurses_replaces_lists_and_keeps_order() {
    let (loaded, home, project) = layered();
    let names: Vec<&str> = loaded
        .config
        .systems
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    // `old_box: null` and `cluster_b: "_DELETE_"` are gone; the new system is appended.
    assert_eq!(names, ["local", "archer2", "project_gpu"]);

    let archer2 = loaded.system("archer2").unwrap();
    // Lists replace rather than merge; untouched keys stay.
    assert_eq!(archer2.header, ["#SBATCH --account=e05-project"]);
    assert_eq!(archer2.commands, ["module load cray-python"]);
    assert_eq!(archer2.host.as_deref(), Some("jdoe@login.archer2.ac.uk"));
    // highmem deleted, standard changed in place (keeps its position), short appended.
    let parts: Vec<&str> = archer2.partitions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(parts, ["standard", "serial", "short"]);
    let standard = &archer2.partitions[0];
    assert_eq!(standard.max_time, Some(12 * 3600));
    assert_eq!(standard.max_mem, Some(256 * GB));
    assert_eq!(standard.num_cores, 128);
    assert_eq!(archer2.partitions[2].scheduler_name(), "standard");

    assert_eq!(loaded.files, vec![home.clone(), project.clone()]);
    assert_eq!(loaded.system_sources("archer2"), [home, project.clone()]);
    assert_eq!(loaded.system_sources("project_gpu"), [project]);
}

#[test]
fn delete_of_a_missing_key_is_a_no_op_and_a_replaced_key_keeps_its_place() {
    let t = Tree::new();
    let a = write_config(
        &t.dir("a"),
        json!({"systems": {"s": {"host": null, "scheduler": "slurm", "partitions": {
            "p1": {"num_cores": 1}, "p2": {"num_cores": 2}, "p3": {"num_cores": 3}}}}}),
    );
    let b = write_config(
        &t.dir("b"),
        json!({"systems": {"s": {"rundir": "_DELETE_", "remsh_cmd": "_DELETE_", "partitions": {
            "p2": {"num_cores": 20, "max_mem": "_DELETE_"}, "p1": "_DELETE_", "p4": {"num_cores": 4}}}}}),
    );
    let loaded = LoadedConfig::from_files(&[a, b], &t.root).unwrap();
    let s = loaded.system("s").unwrap();
    let cores: Vec<(&str, u32)> = s
        .partitions
        .iter()
        .map(|p| (p.name.as_str(), p.num_cores))
        .collect();
    assert_eq!(cores, [("p2", 20), ("p3", 3), ("p4", 4)]);
    assert_eq!(s.rundir, None);
    assert_eq!(s.remsh_cmd, None);
}

#[test]
fn merged_error_names_the_file_that_set_the_bad_value() {
    let t = Tree::new();
    let home = write_config(
        &t.dir("home/.expyre"),
        json!({"systems": {"hpc": {"host": "hpc.example.org", "scheduler": "slurm",
            "partitions": {"standard": {"num_cores": 128, "max_time": "24h", "max_mem": "256GB"}}}}}),
    );
    let project = write_config(
        &t.dir("home/proj/_expyre"),
        json!({"systems": {"hpc": {"partitions": {"standard": {"max_time": "12 hours"}}}}}),
    );
    let err = LoadedConfig::from_files(&[home.clone(), project.clone()], &t.root).unwrap_err();
    assert_eq!(err.files, vec![project.clone()]);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: systems.hpc.partitions.standard.max_time: invalid time \"12 hours\"",
            project.display()
        )),
        "{message}"
    );

    // A required key missing from a system built by two files names both.
    let home2 = write_config(
        &t.dir("h2"),
        json!({"systems": {"hpc": {"host": "hpc.example.org"}}}),
    );
    let proj2 = write_config(
        &t.dir("p2"),
        json!({"systems": {"hpc": {"partitions": null}}}),
    );
    let err = LoadedConfig::from_files(&[home2.clone(), proj2.clone()], &t.root).unwrap_err();
    assert!(matches!(
        *err.kind,
        ConfigErrorKind::MissingKey {
            key: "scheduler",
            ..
        }
    ));
    assert_eq!(err.files, vec![home2, proj2]);
    assert!(
        err.to_string()
            .contains("systems.hpc: missing required key \"scheduler\"")
    );
}

#[test]
fn queues_in_one_layer_and_partitions_in_another_is_reported() {
    let t = Tree::new();
    let a = write_config(
        &t.dir("a"),
        json!({"systems": {"s": slurm_system("s.example.org", json!({"p": {"num_cores": 4}}))}}),
    );
    let b = write_config(
        &t.dir("b"),
        json!({"systems": {"s": {"queues": {"q": {"ncores": 8}}}}}),
    );
    let err = LoadedConfig::from_files(&[a, b.clone()], &t.root).unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::BothSynonyms { .. }));
    let message = err.to_string();
    assert!(
        message.contains("systems.s: both \"partitions\" and \"queues\""),
        "{message}"
    );
    assert!(message.contains(&b.display().to_string()), "{message}");
    assert!(message.contains("_DELETE_"), "{message}");
}

// ---------------------------------------------------------------- keys and defaults

#[test]
fn older_names_queues_and_ncores_are_read() {
    let config = load_fixture("old_style.json");
    // The config redefines `local`: no built-in one is added.
    assert_eq!(config.systems.len(), 1);
    let local = config.system("local").unwrap();
    assert_eq!(local.scheduler, SchedulerKind::Slurm);
    assert_eq!(local.host.as_deref(), Some("localhost"));
    assert_eq!(local.remsh_cmd.as_deref(), Some("/usr/bin/ssh"));
    let parts: Vec<(&str, u32, Option<u64>, Option<u64>)> = local
        .partitions
        .iter()
        .map(|p| (p.name.as_str(), p.num_cores, p.max_time, p.max_mem))
        .collect();
    assert_eq!(
        parts,
        [
            ("node16_old,node16_new", 16, None, Some(60 * GB)),
            ("node36", 36, None, Some(180 * GB)),
            ("node32", 32, None, Some(180 * GB)),
            ("node56_bigmem", 56, Some(48 * 3600), Some(1500 * GB)),
            ("node72_bigmem", 72, Some(48 * 3600), Some(1500 * GB)),
        ]
    );
    assert_eq!(local.header[0], "#SBATCH --nodes={nnodes}");
}

#[test]
fn defaults_for_rundir_script_exec_and_header() {
    let config = load_fixture("pbs_cluster.json");
    let pbs = config.system("hpc_pbs").unwrap();
    assert_eq!(pbs.rundir.as_deref(), Some("run_expyre"));
    assert_eq!(pbs.script_exec, "/bin/bash");
    assert!(!pbs.no_default_header);
    assert!(pbs.pre_submit_cmds.is_empty());
    assert_eq!(pbs.partitions[2].scheduler_name(), "large_mem");
    assert_eq!(pbs.partitions[2].max_mem, Some(4 * 1024 * GB));
    assert_eq!(pbs.partitions[0].scheduler_name(), "workq");

    let config = load_fixture("workstation_lsf_local.json");
    let ws = config.system("workstation").unwrap();
    assert_eq!(ws.host, None);
    assert_eq!(ws.rundir, None, "no default rundir without a host");
    assert_eq!(ws.scheduler, SchedulerKind::Local);
    assert_eq!(
        config.system("janelia").unwrap().scheduler,
        SchedulerKind::Lsf
    );
    assert!(config.system("nopartitions").unwrap().partitions.is_empty());
    assert_eq!(config.systems[0].name.as_str(), "local", "built-in first");

    let sge = load_fixture("sge_cluster.json");
    let myriad = sge.system("myriad").unwrap();
    assert_eq!(myriad.script_exec, "/bin/bash -l");
    assert_eq!(myriad.partitions[1].max_mem, Some(4 * GB));
    assert_eq!(myriad.partitions[0].max_time, Some(48 * 3600));
}

#[test]
fn archer2_fixture_with_profiles() {
    let config = load_fixture("archer2_slurm.json");
    let archer2 = config.system("archer2").unwrap();
    assert_eq!(
        archer2.rundir.as_deref(),
        Some("/work/e89/e89/jdoe/run_xpr")
    );
    let parts: Vec<&str> = archer2.partitions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(parts, ["short", "standard", "highmem", "long", "serial"]);
    assert_eq!(archer2.partitions[0].max_time, Some(20 * 60));
    assert_eq!(archer2.partitions[1].max_time, Some(24 * 3600));
    assert_eq!(archer2.partitions[3].max_time, Some(96 * 3600));
    assert_eq!(archer2.partitions[0].header, ["#SBATCH --qos=short"]);
    assert_eq!(
        config.remote_rundir_submit_hostname.as_deref(),
        Some("laptop")
    );

    let debug = config.profile("archer2-debug").unwrap();
    assert_eq!(debug.system.as_ref().unwrap().as_str(), "archer2");
    let keys: Vec<&str> = debug.resources.keys().map(String::as_str).collect();
    assert_eq!(keys, ["max_time", "num_nodes", "partitions"]);
    assert_eq!(debug.resources["max_time"], json!("20m"));
    let bigmem = config.profile("archer2-bigmem").unwrap();
    assert_eq!(
        bigmem.env,
        [
            ("OMP_NUM_THREADS".to_owned(), "1".to_owned()),
            ("FI_MR_CACHE_MONITOR".to_owned(), "memhooks".to_owned())
        ]
    );
    assert_eq!(bigmem.header, ["#SBATCH --mail-type=END"]);

    let err = config.profile("archer2-debgu").unwrap_err();
    assert!(
        err.to_string().contains("did you mean \"archer2-debug\""),
        "{err}"
    );
}

#[test]
fn node_finder_example_keeps_partition_order() {
    let config = load_fixture("node_finder_example.json");
    let tin = config.system("tin").unwrap();
    let parts: Vec<(&str, u32)> = tin
        .partitions
        .iter()
        .map(|p| (p.name.as_str(), p.num_cores))
        .collect();
    assert_eq!(
        parts,
        [
            ("node16_1,node16_2", 16),
            ("node36", 36),
            ("node32", 32),
            ("node_bigmem", 56),
            ("node_bigmem_72", 72)
        ]
    );
    let timed = config.system("timed").unwrap();
    assert_eq!(timed.partitions[0].max_time, Some(3600));
    assert_eq!(timed.partitions[1].max_time, Some(168 * 3600));
    assert_eq!(timed.partitions[1].max_mem, None);
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_system_key_names_path_and_suggests() {
    let (message, kind) = invalid_fixture_error("system_key_typo.json");
    assert!(matches!(kind, ConfigErrorKind::UnknownKey { .. }));
    assert!(
        message.contains("systems.hpc.partitons: unknown key \"partitons\""),
        "{message}"
    );
    assert!(
        message.contains("did you mean \"partitions\"?"),
        "{message}"
    );
}

#[test]
fn unknown_top_level_and_profile_keys_suggest() {
    let (message, _) = invalid_fixture_error("top_level_typo.json");
    assert!(
        message.contains(": system: unknown key \"system\""),
        "{message}"
    );
    assert!(message.contains("did you mean \"systems\"?"), "{message}");

    let (message, _) = invalid_fixture_error("profile_key_typo.json");
    assert!(
        message.contains("profiles.quick.resource: unknown key"),
        "{message}"
    );
    assert!(message.contains("did you mean \"resources\"?"), "{message}");
}

#[test]
fn unknown_scheduler_lists_the_accepted_ones() {
    let (message, kind) = invalid_fixture_error("unknown_scheduler.json");
    assert!(matches!(kind, ConfigErrorKind::UnknownScheduler { .. }));
    assert!(
        message.contains("systems.hpc.scheduler: unknown scheduler \"slrum\""),
        "{message}"
    );
    assert!(message.contains("did you mean \"slurm\"?"), "{message}");
    assert!(message.contains("slurm, pbs, sge, lsf, local"), "{message}");
}

#[test]
fn bad_units_name_the_partition_key() {
    let (message, kind) = invalid_fixture_error("bad_mem_unit.json");
    assert!(matches!(kind, ConfigErrorKind::BadUnit { .. }));
    assert!(
        message.contains("systems.archer2.partitions.standard.max_mem: invalid memory \"256XB\""),
        "{message}"
    );
    assert!(message.contains("hint:"), "{message}");

    let (message, _) = invalid_fixture_error("bad_time.json");
    assert!(
        message.contains("systems.hpc.partitions.workq.max_time: invalid time \"1h1s\""),
        "{message}"
    );
}

#[test]
fn missing_keys_and_wrong_types_are_reported() {
    let (message, kind) = invalid_fixture_error("missing_scheduler.json");
    assert!(matches!(
        kind,
        ConfigErrorKind::MissingKey {
            key: "scheduler",
            ..
        }
    ));
    assert!(
        message.contains("systems.hpc: missing required key \"scheduler\""),
        "{message}"
    );

    let (message, kind) = invalid_fixture_error("wrong_type_cores.json");
    assert!(matches!(kind, ConfigErrorKind::WrongType { .. }));
    assert!(
        message.contains(
            "systems.hpc.partitions.any.num_cores: expected a positive integer, found a string"
        ),
        "{message}"
    );

    let (message, _) = invalid_fixture_error("not_an_object.json");
    assert!(
        message.contains("(top level): expected an object"),
        "{message}"
    );

    let (message, kind) = invalid_fixture_error("both_synonyms.json");
    assert!(matches!(kind, ConfigErrorKind::BothSynonyms { .. }));
    assert!(message.contains("systems.hpc: both"), "{message}");

    let (message, kind) = invalid_fixture_error("host_option_injection.json");
    assert!(matches!(kind, ConfigErrorKind::InvalidValue { .. }));
    assert!(
        message.contains("systems.evil.host: invalid value"),
        "{message}"
    );

    let (message, _) = invalid_fixture_error("bad_env_name.json");
    assert!(
        message.contains("profiles.p.env.1BAD: invalid value"),
        "{message}"
    );

    let missing_host = json!({"systems": {"s": {"scheduler": "slurm", "partitions": null}}});
    let err =
        Config::from_json_str(&missing_host.to_string(), Path::new("/x/config.json")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/x/config.json: systems.s: missing required key \"host\" (hint: "),
        "{err}"
    );

    let no_cores = json!({"systems": {"s": {"host": null, "scheduler": "slurm",
        "partitions": {"p": {"max_time": "1h"}}}}});
    let err = Config::from_json_str(&no_cores.to_string(), Path::new("c.json")).unwrap_err();
    assert!(
        err.to_string()
            .contains("systems.s.partitions.p: missing required key \"num_cores\""),
        "{err}"
    );

    let list_of_ints = json!({"systems": {"s": {"host": null, "scheduler": "slurm",
        "partitions": null, "commands": ["ok", 3]}}});
    let err = Config::from_json_str(&list_of_ints.to_string(), Path::new("c.json")).unwrap_err();
    assert!(
        err.to_string()
            .contains("systems.s.commands.1: expected a string, found a number"),
        "{err}"
    );
}

#[test]
fn json_syntax_errors_give_line_and_column() {
    let t = Tree::new();
    let dir = t.dir("home/.expyre");
    std::fs::write(
        dir.join("config.json"),
        "{\n  \"systems\": {\n    \"a\": }\n}\n",
    )
    .unwrap();
    let err = LoadedConfig::load(&t.search_from("home")).unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::Syntax { line: 3, .. }));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: invalid json at line 3",
            dir.join("config.json").display()
        )),
        "{message}"
    );
}

#[test]
fn profiles_must_name_a_known_system() {
    let doc = json!({"systems": {"archer2": slurm_system("a.example.org", json!(null))},
        "profiles": {"p": {"system": "archer", "resources": {"num_nodes": 1}},
                     "on_local": {"system": "local"}}});
    let err = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::UnknownSystem { .. }));
    let message = err.to_string();
    assert!(
        message.contains("profiles.p.system: unknown system \"archer\""),
        "{message}"
    );
    assert!(message.contains("did you mean \"archer2\"?"), "{message}");

    let bad_resource = json!({"systems": {},
        "profiles": {"p": {"resources": {"num_node": 1}}}});
    let err = Config::from_json_str(&bad_resource.to_string(), Path::new("c.json")).unwrap_err();
    assert!(
        err.to_string().contains("did you mean \"num_nodes\"?"),
        "{err}"
    );
}

#[test]
fn unknown_system_lookup_suggests_and_names_the_files() {
    let (loaded, home, project) = layered();
    let err = loaded.system("archer").unwrap_err();
    let message = err.to_string();
    assert!(matches!(*err.kind, ConfigErrorKind::UnknownSystem { .. }));
    assert!(message.contains("did you mean \"archer2\"?"), "{message}");
    assert!(message.contains("local, archer2, project_gpu"), "{message}");
    assert!(message.contains(&home.display().to_string()), "{message}");
    assert!(
        message.contains(&project.display().to_string()),
        "{message}"
    );
}

// ---------------------------------------------------------------- built-in local

#[test]
fn builtin_local_is_this_machine() {
    let config = Config::builtin();
    assert_eq!(config.systems.len(), 1);
    let local = config.system("local").unwrap();
    assert_eq!(local.host, None);
    assert_eq!(local.scheduler, SchedulerKind::Local);
    assert_eq!(local.rundir, None);
    assert_eq!(local.script_exec, "/bin/bash");
    assert_eq!(local.partitions.len(), 1);
    let part = &local.partitions[0];
    assert_eq!(part.name, "local");
    assert_eq!(part.max_time, None);
    let cores = std::thread::available_parallelism().unwrap().get() as u32;
    assert_eq!(part.num_cores, cores);
    match std::fs::read_to_string("/proc/meminfo") {
        Ok(text) => {
            let line = text.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
            let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert_eq!(part.max_mem, Some(kb));
            assert!(kb > 100 * 1024, "MemTotal should be in kB: {kb}");
        }
        Err(_) => assert_eq!(part.max_mem, None),
    }
}

#[test]
fn builtin_local_comes_first_unless_redefined() {
    let doc = json!({"systems": {
        "b": slurm_system("b.example.org", json!(null)),
        "local": {"host": null, "scheduler": "local", "partitions": {"mine": {"num_cores": 2}}},
    }});
    let config = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap();
    let names: Vec<&str> = config.systems.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b", "local"]);
    assert_eq!(config.system("local").unwrap().partitions[0].name, "mine");
}

// ---------------------------------------------------------------- remote run dir

#[test]
fn remote_rundir_follows_expyre_naming() {
    let root = Path::new("/home/u/proj/_expyre");
    assert_eq!(
        remote_rundir("run_expyre", root, None, Some("laptop")),
        "run_expyre/laptop-_home_u_proj"
    );
    assert_eq!(
        remote_rundir("run_expyre/", root, Some("submit"), Some("laptop")),
        "run_expyre/submit-_home_u_proj"
    );
    assert_eq!(
        remote_rundir("/scratch/me/runs", Path::new("/data/stage"), None, None),
        "/scratch/me/runs/unknown_host-_data_stage"
    );
    assert_eq!(
        remote_rundir("r", Path::new("/home/u/.expyre"), Some(""), Some("")),
        "r/unknown_host-_home_u"
    );
}

#[test]
fn loaded_remote_rundir_uses_the_stage_root_and_submit_hostname() {
    let t = Tree::new();
    write_config(
        &t.home().join("proj/_expyre"),
        json!({"remote_rundir_submit_hostname": "mybox", "systems": {
            "remote": slurm_system("r.example.org", json!(null)),
            "here": {"host": null, "scheduler": "local", "partitions": null}}}),
    );
    let loaded = LoadedConfig::load(&t.search_from("home/proj")).unwrap();
    let remote = loaded.system("remote").unwrap();
    let expected = format!(
        "run_expyre/mybox-{}",
        t.root
            .join("home/proj")
            .display()
            .to_string()
            .replace('/', "_")
    );
    assert_eq!(
        loaded.remote_rundir(remote, Some("ignored")),
        Some(expected)
    );
    let here = loaded.system("here").unwrap();
    assert_eq!(loaded.remote_rundir(here, Some("x")), None);
}

// ---------------------------------------------------------------- every problem at once

#[test]
fn every_problem_of_a_config_is_reported_each_with_file_and_path() {
    let path = fixture("invalid").join("several_problems.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let err = Config::from_json_str(&text, &path).unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::Several { .. }));
    let messages: Vec<String> = err.errors().iter().map(|e| e.to_string()).collect();
    let expected = [
        "systems.hpc.scheduler: unknown scheduler \"slrum\"",
        "systems.hpc.partitions.workq.max_time: invalid time \"1x\"",
        "systems.gpu.hots: unknown key \"hots\"",
        "systems.gpu.partitions.a100.num_cores: expected a positive integer",
        "profiles.quick.system: unknown system \"nowhere\"",
        "profiles.quick.env.1BAD: invalid value",
    ];
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    for (message, what) in messages.iter().zip(expected) {
        assert!(
            message.starts_with(&format!("{}: {what}", path.display())),
            "expected {what:?} in {message}"
        );
    }
    // Displayed whole: one line per problem, in document order.
    assert_eq!(err.to_string(), messages.join("\n"));
}

#[test]
fn a_misspelt_required_key_is_one_problem() {
    // "partitons" is reported with its did-you-mean, not also as a missing "partitions".
    let doc = json!({"systems": {"s": {"host": null, "scheduler": "slurm", "partitons": null}}});
    let err = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err}");
    assert!(matches!(*err.kind, ConfigErrorKind::UnknownKey { .. }));
}

#[test]
fn problems_in_several_layered_files_each_name_their_file() {
    let t = Tree::new();
    let home_file = write_config(
        &t.home().join(".expyre"),
        json!({"systems": {"h": slurm_system("h.example.org",
            json!({"p": {"num_cores": 4, "max_mem": "4XB"}}))}}),
    );
    let project_file = write_config(
        &t.root.join("home/proj/_expyre"),
        json!({"systems": {"p": {"host": null, "scheduler": "sge", "partitions": null,
            "script_exe": "/bin/sh"}}}),
    );
    let err = LoadedConfig::load(&t.search_from("home/proj")).unwrap_err();
    let errors = err.errors();
    assert_eq!(errors.len(), 2, "{err}");
    assert_eq!(errors[0].files, std::slice::from_ref(&home_file));
    assert_eq!(
        errors[0].path.as_ref().unwrap().to_string(),
        "systems.h.partitions.p.max_mem"
    );
    assert_eq!(errors[1].files, std::slice::from_ref(&project_file));
    assert_eq!(
        errors[1].path.as_ref().unwrap().to_string(),
        "systems.p.script_exe"
    );
    assert_eq!(err.files, [home_file, project_file]);

    // Two files that do not parse: both are named.
    std::fs::write(t.home().join(".expyre/config.json"), "{,}").unwrap();
    std::fs::write(t.root.join("home/proj/_expyre/config.json"), "[").unwrap();
    let err = LoadedConfig::load(&t.search_from("home/proj")).unwrap_err();
    assert_eq!(err.errors().len(), 2, "{err}");
    assert!(
        err.errors()
            .iter()
            .all(|e| matches!(*e.kind, ConfigErrorKind::Syntax { .. }))
    );
}

// ---------------------------------------------------------------- lenient loading

#[test]
fn a_broken_config_loads_leniently_with_builtin_local_and_the_usual_stage_root() {
    let t = Tree::new();
    let project = t.root.join("home/proj/_expyre");
    std::fs::create_dir_all(&project).unwrap();
    let file = project.join("config.json");
    std::fs::write(&file, "{\"systems\": {\"hpc\": }").unwrap();
    let search = t.search_from("home/proj");
    assert!(LoadedConfig::load(&search).is_err());

    let loaded = LoadedConfig::load_lenient(&search).unwrap();
    let problems = loaded.problems.as_ref().expect("problems kept");
    assert!(
        problems
            .to_string()
            .starts_with(&file.display().to_string())
    );
    assert_eq!(loaded.stage_root, project);
    assert_eq!(loaded.stage_root_origin, StageRootOrigin::DeepestConfigDir);
    assert_eq!(loaded.files, std::slice::from_ref(&file));
    // The built-in `local` works; any other system or profile names the problems.
    assert_eq!(
        loaded.system("local").unwrap().scheduler,
        SchedulerKind::Local
    );
    let err = loaded.system("hpc").unwrap_err();
    assert!(matches!(*err.kind, ConfigErrorKind::Unusable { .. }));
    let message = err.to_string();
    assert!(
        message.contains("system \"hpc\" cannot be used")
            && message.contains(&file.display().to_string()),
        "{message}"
    );
    let cause = std::error::Error::source(&err).expect("the problems are the cause");
    assert!(cause.to_string().contains("invalid json"), "{cause}");
    assert!(matches!(
        *loaded.profile("quick").unwrap_err().kind,
        ConfigErrorKind::Unusable { .. }
    ));

    // A valid config loads leniently just as strictly.
    write_config(&project, json!({"systems": {}}));
    let loaded = LoadedConfig::load_lenient(&search).unwrap();
    assert!(loaded.problems.is_none());
}

#[test]
fn a_lenient_load_keeps_the_local_stage_dir_of_a_config_that_parses() {
    let t = Tree::new();
    let project = t.root.join("home/proj/_expyre");
    write_config(
        &project,
        json!({"local_stage_dir": "stage", "systems": {"hpc": {"host": "h", "scheduler": "slurm"}}}),
    );
    let search = t.search_from("home/proj");
    let loaded = LoadedConfig::load_lenient(&search).unwrap();
    assert!(loaded.problems.is_some());
    assert_eq!(loaded.stage_root, t.root.join("home/proj/stage"));
    assert!(matches!(
        loaded.stage_root_origin,
        StageRootOrigin::LocalStageDir { .. }
    ));
}

// ---------------------------------------------------------------- resource lines

#[test]
fn resource_lines_is_an_opt_in_boolean_off_by_default_except_on_builtin_local() {
    let mut opted = slurm_system("h.example.org", json!({"p": {"num_cores": 4}}));
    opted["resource_lines"] = json!(true);
    let doc = json!({"systems": {
        "plain": slurm_system("h.example.org", json!({"p": {"num_cores": 4}})),
        "opted": opted,
    }});
    let config = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap();
    assert!(!config.system("plain").unwrap().resource_lines);
    assert!(config.system("opted").unwrap().resource_lines);
    // xpr's own system has no ExPyRe config to stay compatible with.
    assert!(config.system("local").unwrap().resource_lines);
    for fixture in [
        "archer2_slurm.json",
        "pbs_cluster.json",
        "sge_cluster.json",
        "old_style.json",
    ] {
        let config = load_fixture(fixture);
        assert!(
            config
                .systems
                .iter()
                .filter(|s| s.name.as_str() != "local")
                .all(|s| !s.resource_lines),
            "{fixture}"
        );
    }

    let mut bad = slurm_system("h.example.org", json!(null));
    bad["resource_lines"] = json!("yes");
    let doc = json!({"systems": {"s": bad}});
    let err = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("systems.s.resource_lines") && message.contains("a boolean"),
        "{message}"
    );
}

#[test]
fn a_pbs_system_with_resource_lines_and_its_own_select_line_is_refused() {
    let system = |header: serde_json::Value, partition_header: serde_json::Value| {
        json!({"systems": {"pbs": {
            "host": "pbs.example.org", "scheduler": "pbs", "resource_lines": true,
            "header": header,
            "queues": {"workq": {"num_cores": 48, "header": partition_header}}
        }}})
    };
    let select = "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}";
    for (doc, at) in [
        (
            system(json!(["#PBS -A x", select]), json!([])),
            "systems.pbs.header.1",
        ),
        (
            system(json!([]), json!([select])),
            "systems.pbs.queues.workq.header.0",
        ),
    ] {
        let err = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(at), "{message}");
        assert!(message.contains("PBS takes one"), "{message}");
    }
    // Without resource_lines the same config is ExPyRe's and loads.
    let mut doc = system(json!([select]), json!([]));
    doc["systems"]["pbs"]
        .as_object_mut()
        .unwrap()
        .remove("resource_lines");
    assert!(Config::from_json_str(&doc.to_string(), Path::new("c.json")).is_ok());
}

#[test]
fn profile_resources_take_gpus_and_account() {
    let doc = json!({"systems": {},
        "profiles": {"gpu": {"resources": {"max_time": "1h", "num_cores": 1, "gpus": 2,
                                           "account": "e89"}}}});
    let config = Config::from_json_str(&doc.to_string(), Path::new("c.json")).unwrap();
    let resources =
        xpr::resources::Resources::from_json_map(&config.profiles[0].resources).unwrap();
    assert_eq!(
        (resources.gpus, resources.account.as_deref()),
        (Some(2), Some("e89"))
    );

    let typo = json!({"systems": {}, "profiles": {"p": {"resources": {"gpu": 1}}}});
    let err = Config::from_json_str(&typo.to_string(), Path::new("c.json")).unwrap_err();
    assert!(err.to_string().contains("did you mean \"gpus\"?"), "{err}");
}

#[test]
fn max_queued_is_a_positive_whole_number_or_absent() {
    let doc = |v: serde_json::Value| {
        json!({"systems": {"s": {"host": null, "scheduler": "slurm", "max_queued": v,
            "partitions": {"p": {"num_cores": 4}}}}})
        .to_string()
    };
    let path = Path::new("/c/config.json");
    let ok = Config::from_json_str(&doc(json!(5)), path).unwrap();
    assert_eq!(ok.system("s").unwrap().max_queued, Some(5));
    let none = Config::from_json_str(&doc(json!(null)), path).unwrap();
    assert_eq!(none.system("s").unwrap().max_queued, None);
    for bad in [json!(0), json!(-1), json!(2.5), json!("5")] {
        let err = Config::from_json_str(&doc(bad.clone()), path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("systems.s.max_queued"), "{bad}: {err}");
    }
}

// ---------------------------------------------------------------- failure analysis keys

#[test]
fn error_rules_on_systems_and_profiles() {
    let config = load_fixture("archer2_slurm.json");
    let archer2 = config.system("archer2").unwrap();
    assert_eq!(
        archer2.error_rules.error_whitelist,
        [
            "Lmod has detected the following error: The following module(s) are unknown",
            "FutureWarning"
        ]
    );
    assert_eq!(archer2.error_rules.whitelist_threshold, Some(4));
    assert_eq!(archer2.error_rules.error_lines_fail, None);
    let bigmem = config.profile("archer2-bigmem").unwrap();
    assert_eq!(
        bigmem.error_rules.error_patterns,
        ["^CRITICAL:", "MPICH ERROR"]
    );
    assert_eq!(bigmem.error_rules.error_lines_fail, Some(true));
    assert!(
        config
            .profile("archer2-debug")
            .unwrap()
            .error_rules
            .is_empty()
    );
    assert!(config.system("local").unwrap().error_rules.is_empty());

    let (message, _) = invalid_fixture_error("whitelist_threshold_zero.json");
    assert!(
        message.contains("systems.hpc.whitelist_threshold") && message.contains("1 or more"),
        "{message}"
    );
    let (message, kind) = invalid_fixture_error("error_lines_fail_not_bool.json");
    assert!(message.contains("profiles.p.error_lines_fail"), "{message}");
    assert!(
        matches!(kind, ConfigErrorKind::WrongType { .. }),
        "{kind:?}"
    );
}

/// A pattern that is no regular expression is caught at load (the schema cannot see it),
/// naming its place in the list, with the other problems of the file.
#[test]
fn a_bad_error_pattern_is_a_config_error() {
    let doc = json!({"systems": {"hpc": {
        "host": null, "scheduler": "local", "partitions": null,
        "error_patterns": ["fine", "(unclosed"], "whitelist_threshold": "3"
    }}});
    let path = Path::new("/x/config.json");
    let err = Config::from_json_str(&doc.to_string(), path).unwrap_err();
    let all: Vec<String> = err.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter()
            .any(|e| e.contains("systems.hpc.error_patterns.1")
                && e.contains("not a regular expression")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|e| e.contains("systems.hpc.whitelist_threshold")),
        "{all:#?}"
    );
}

#[test]
fn poll_interval_and_vanish_timeout_are_times_of_at_least_a_second() {
    let path = Path::new("/c/config.json");
    for key in ["poll_interval", "vanish_timeout"] {
        let load = |v: serde_json::Value| {
            let mut system = json!({"host": null, "scheduler": "slurm",
                "partitions": {"p": {"num_cores": 1}}});
            system[key] = v;
            Config::from_json_str(&json!({"systems": {"s": system}}).to_string(), path)
        };
        let get = |c: &Config| {
            let s = c.system("s").unwrap();
            if key == "poll_interval" {
                s.poll_interval
            } else {
                s.vanish_timeout
            }
        };
        let secs = |n| Some(std::time::Duration::from_secs(n));
        assert_eq!(get(&load(json!("2m")).unwrap()), secs(120));
        assert_eq!(get(&load(json!(90)).unwrap()), secs(90));
        assert_eq!(get(&load(json!(null)).unwrap()), None);
        for bad in [json!(0), json!("soon"), json!(true)] {
            let err = load(bad.clone()).unwrap_err().to_string();
            assert!(err.contains(&format!("systems.s.{key}")), "{bad}: {err}");
        }
    }
}

#[test]
fn retry_defaults_are_checked_on_systems_and_profiles() {
    let path = Path::new("/c/config.json");
    let doc = |extra: serde_json::Value| {
        let mut system = json!({"host": null, "scheduler": "slurm",
            "partitions": {"p": {"num_cores": 1}}});
        let mut profile = json!({});
        for (k, v) in extra.as_object().unwrap() {
            system[k] = v.clone();
            profile[k] = v.clone();
        }
        json!({"systems": {"s": system}, "profiles": {"p": profile}}).to_string()
    };
    let ok = Config::from_json_str(
        &doc(json!({"max_retries": 2, "retry_on": ["timeout"], "retry_mem_factor": 1.5})),
        path,
    )
    .unwrap();
    let s = &ok.system("s").unwrap().retries;
    assert_eq!(
        (s.max_retries, s.retry_on.clone(), s.mem_factor),
        (Some(2), vec!["timeout".to_owned()], Some(1.5))
    );
    assert_eq!(ok.profile("p").unwrap().retries, *s);
    for (key, bad) in [
        ("max_retries", json!(-1)),
        ("retry_on", json!("timeout")),
        ("retry_time_factor", json!(1.0)),
        ("retry_mem_factor", json!("2")),
    ] {
        let err = Config::from_json_str(&doc(json!({ key: bad })), path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("systems.s.{key}")) && err.contains(&format!("profiles.p.{key}")),
            "{key}: {err}"
        );
    }
}
