//! Merging layered config documents, remembering which file set what.
//!
//! Rule per key (ExPyRe's `update_dict_leaves`): the value `"_DELETE_"` removes the key; an
//! object merged into an object merges recursively; anything else (lists included) replaces
//! the old value in place; new keys are appended. Key order is kept throughout - partition order
//! decides the node finder's tie-break - so removal is `shift_remove`, never `swap_remove`.
//! As in older ExPyRe, a system whose value is `null` is removed too. `"_DELETE_"` of a key that
//! is not there does nothing (upstream would store the marker itself).
//!
//! Alongside the merged value, [`Provenance`] records for every path which file last set its
//! value wholesale (`origin`) and which files merged into it (`touched`), so that validation can
//! name the file behind a bad value.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

/// The value that deletes a key when merged.
pub const DELETE_MARKER: &str = "_DELETE_";

/// Which files contributed to which paths of a merged document.
#[derive(Clone, Debug, Default)]
pub(crate) struct Provenance {
    /// The files, in merge order; indexes below point here.
    pub files: Vec<PathBuf>,
    /// For a path whose value one file set as a whole: that file.
    origin: HashMap<Vec<String>, usize>,
    /// For every object path: the files that set or changed something in it, in merge order.
    touched: HashMap<Vec<String>, Vec<usize>>,
}

impl Provenance {
    /// The file the value at `path` came from: the nearest ancestor-or-self set wholesale.
    pub fn value_files(&self, path: &[String]) -> Vec<PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.origin.get(&path[..n]))
            .map(|&i| vec![self.files[i].clone()])
            .unwrap_or_else(|| self.files.clone())
    }

    /// Every file that contributed to the object at `path` (for errors about the object, such
    /// as a missing key), in merge order.
    pub fn object_files(&self, path: &[String]) -> Vec<PathBuf> {
        // The file that created the object (as part of a wholesale value at or above `path`),
        // then every file that merged into it afterwards.
        let creator = (0..=path.len())
            .rev()
            .find_map(|n| self.origin.get(&path[..n]).copied());
        let mut ix: Vec<usize> = creator
            .into_iter()
            .chain(self.touched.get(path).into_iter().flatten().copied())
            .collect();
        if ix.is_empty() {
            return self.files.clone();
        }
        ix.sort_unstable();
        ix.dedup();
        ix.into_iter().map(|i| self.files[i].clone()).collect()
    }

    fn touch(&mut self, path: &[String], file: usize) {
        let list = self.touched.entry(path.to_vec()).or_default();
        if list.last() != Some(&file) {
            list.push(file);
        }
    }

    /// Forgets everything at and under `path` (its value was replaced or removed).
    fn clear_under(&mut self, path: &[String]) {
        self.origin.retain(|k, _| !k.starts_with(path));
        self.touched.retain(|k, _| !k.starts_with(path));
    }
}

/// A merged document with its provenance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Merged {
    /// The merged top-level object.
    pub value: Map<String, Value>,
    /// Who set what.
    pub provenance: Provenance,
}

impl Merged {
    /// Merges `doc`, read from `file`, over what is there.
    pub fn merge(&mut self, file: PathBuf, doc: &Map<String, Value>) {
        let index = self.provenance.files.len();
        self.provenance.files.push(file);
        let mut path = Vec::new();
        self.provenance.touch(&path, index);
        merge_object(&mut self.value, doc, &mut path, index, &mut self.provenance);
    }
}

fn merge_object(
    dst: &mut Map<String, Value>,
    src: &Map<String, Value>,
    path: &mut Vec<String>,
    file: usize,
    prov: &mut Provenance,
) {
    for (key, value) in src {
        path.push(key.clone());
        // Older ExPyRe: `"systems": {"name": null}` removes the system.
        let is_removed_system = value.is_null() && path.len() == 2 && path[0] == "systems";
        if value.as_str() == Some(DELETE_MARKER) || is_removed_system {
            dst.shift_remove(key);
            prov.clear_under(path);
        } else if let (Some(Value::Object(old)), Value::Object(new)) = (dst.get_mut(key), value) {
            prov.touch(path, file);
            merge_object(old, new, path, file, prov);
        } else {
            // `insert` on an existing key keeps its position; a new key goes last.
            dst.insert(key.clone(), strip_markers(value, path));
            prov.clear_under(path);
            prov.origin.insert(path.clone(), file);
            if value.is_object() {
                prov.touch(path, file);
            }
        }
        path.pop();
        let parent = path.clone();
        prov.touch(&parent, file);
    }
}

/// `value` (found at `path`) without the removal markers in its objects: deleting what is not
/// there is a no-op, and so is a `null` system.
fn strip_markers(value: &Value, path: &[String]) -> Value {
    match value {
        Value::Object(map) => {
            let is_systems = path.len() == 1 && path[0] == "systems";
            let mut child = path.to_vec();
            let mut out = Map::new();
            for (k, v) in map {
                if v.as_str() == Some(DELETE_MARKER) || (is_systems && v.is_null()) {
                    continue;
                }
                child.push(k.clone());
                out.insert(k.clone(), strip_markers(v, &child));
                child.pop();
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
