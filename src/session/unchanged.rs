//! Which entries of a run dir coming back need not be written here: the inputs that come back
//! as they went.
//!
//! A task's inputs are on this machine already, where the user keeps them; a sweep of 1,000
//! tasks with an input each would otherwise make 1,000 more local files when its outputs come
//! back. An input entry is left out when all of these hold:
//!
//! - it was staged from this machine (an input of the task's current attempt, or a file
//!   inside an input directory);
//! - its local source is still there, of the same kind, and for a file of the same size and
//!   modification time (to the second, as the tar stream carries it: rsync's quick check);
//! - none of the task's expected outputs names it or a directory holding it (an output is
//!   always delivered from the local run dir).
//!
//! xpr's own staged files, the job script and the arguments, are left out too: their bytes
//! are in the jobs DB, and they are written into the local run dir of a task that did not
//! succeed (see the follow module), for whoever looks into why.
//!
//! Anything else comes back: an input the job changed or replaced, files a job added inside
//! an input directory, the logs and markers.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::SCRIPT_FILE;
use crate::task::ARGS_FILE;

/// True for xpr's own staged files (see the module docs), by their path in the run dir.
pub(crate) fn is_staged_by_xpr(rel: &Path) -> bool {
    rel == Path::new(SCRIPT_FILE) || rel == Path::new(ARGS_FILE)
}

/// A task's staged inputs and expected outputs, to tell which entries of its run dir come
/// back unchanged.
pub(crate) struct UnchangedInputs {
    /// (local source, name in the run dir), as staged.
    inputs: Vec<(PathBuf, PathBuf)>,
    /// The expected outputs: relative paths or globs.
    outputs: Vec<glob::Pattern>,
}

impl UnchangedInputs {
    /// The rules for a task staged with `inputs` that expects `outputs`. An output that is not
    /// a valid pattern is taken literally.
    pub(crate) fn new(inputs: Vec<(PathBuf, PathBuf)>, outputs: &[String]) -> UnchangedInputs {
        let outputs = outputs
            .iter()
            .map(|o| {
                let o = o.trim_start_matches("./");
                glob::Pattern::new(o).unwrap_or_else(|_| {
                    glob::Pattern::new(&glob::Pattern::escape(o)).expect("an escaped pattern")
                })
            })
            .collect();
        UnchangedInputs { inputs, outputs }
    }

    /// True when the run dir entry `rel` (relative to the run dir), described by `header`,
    /// is an input that comes back as it went (see the module docs).
    pub(crate) fn is_unchanged(&self, rel: &Path, header: &tar::Header) -> bool {
        if is_staged_by_xpr(rel) && header.entry_type().is_file() {
            return true;
        }
        let Some(local) = self.inputs.iter().find_map(|(source, dest)| {
            if rel == dest {
                Some(source.clone())
            } else {
                rel.strip_prefix(dest).ok().map(|sub| source.join(sub))
            }
        }) else {
            return false;
        };
        if self.named_by_outputs(rel) {
            return false;
        }
        let Ok(meta) = local.symlink_metadata() else {
            return false;
        };
        let kind = header.entry_type();
        if kind.is_dir() {
            return meta.is_dir();
        }
        meta.is_file()
            && header.size().ok() == Some(meta.len())
            && header.mtime().ok() == u64::try_from(meta.mtime()).ok()
    }

    /// True when an expected output matches `rel` or a directory holding it. `*` does not
    /// cross a `/`, as when outputs are matched in the run dir.
    fn named_by_outputs(&self, rel: &Path) -> bool {
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        rel.ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .any(|a| self.outputs.iter().any(|o| o.matches_path_with(a, options)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn header_of(path: &Path) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&fs::symlink_metadata(path).unwrap());
        header
    }

    #[test]
    fn an_input_as_it_went_is_unchanged_and_one_the_job_changed_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        fs::write(&input, "abc").unwrap();
        let rules = UnchangedInputs::new(vec![(input.clone(), "in.txt".into())], &[]);
        let header = header_of(&input);
        assert!(rules.is_unchanged(Path::new("in.txt"), &header));
        // Not an input at all.
        assert!(!rules.is_unchanged(Path::new("out.txt"), &header));
        // Changed in size.
        let mut bigger = header.clone();
        bigger.set_size(4);
        assert!(!rules.is_unchanged(Path::new("in.txt"), &bigger));
        // Changed in time.
        let mut later = header.clone();
        later.set_mtime(header.mtime().unwrap() + 1);
        assert!(!rules.is_unchanged(Path::new("in.txt"), &later));
        // Its local source gone: it comes back.
        fs::remove_file(&input).unwrap();
        assert!(!rules.is_unchanged(Path::new("in.txt"), &header));
    }

    #[test]
    fn xprs_own_staged_files_are_left_out_and_its_logs_are_not() {
        let rules = UnchangedInputs::new(Vec::new(), &["*".to_owned()]);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        assert!(rules.is_unchanged(Path::new("xpr_job.sh"), &header));
        assert!(rules.is_unchanged(Path::new("xpr_args.json"), &header));
        assert!(!rules.is_unchanged(Path::new("xpr.stdout"), &header));
        assert!(!rules.is_unchanged(Path::new("sub/xpr_job.sh"), &header));
    }

    #[test]
    fn an_input_an_output_names_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::write(data.join("a.txt"), "a").unwrap();
        let inputs = vec![(data.clone(), PathBuf::from("data"))];
        let file = header_of(&data.join("a.txt"));
        let by = |outputs: &[&str]| {
            let outputs: Vec<String> = outputs.iter().map(|o| o.to_string()).collect();
            UnchangedInputs::new(inputs.clone(), &outputs)
                .is_unchanged(Path::new("data/a.txt"), &file)
        };
        assert!(by(&[]));
        assert!(by(&["out.txt", "*.txt"]), "* does not cross a /");
        assert!(!by(&["data/*.txt"]));
        assert!(!by(&["data"]));
        assert!(!by(&["./data/a.txt"]));
        assert!(!by(&["*"]));
        // A file the job added inside an input directory comes back.
        fs::write(dir.path().join("new.txt"), "n").unwrap();
        let added = header_of(&dir.path().join("new.txt"));
        let rules = UnchangedInputs::new(inputs.clone(), &[]);
        assert!(!rules.is_unchanged(Path::new("data/new.txt"), &added));
        assert!(rules.is_unchanged(Path::new("data"), &header_of(&data)));
    }
}
