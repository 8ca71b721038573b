//! Run dirs no task owns (`xpr clean --orphans`, python-cluster's `clean_dir`).
//!
//! They are what `xpr rm` without `-c` leaves behind, or a run dir of a task removed from the
//! jobs DB by hand. A run dir is owned when its name is `run_<id>` (or, locally, a kept
//! attempt `run_<id>.attempt-<n>`) of a task of the DB, or `grp_<id>` of a group (an array
//! chunk or a pack) that one of the DB's tasks or attempts ran in. Only names xpr writes are
//! ever considered: anything else in the stage root or a remote base is left alone. Remotely,
//! only this stage root's own base on each system is looked at (the rundir holds one base per
//! laptop and stage root), one round trip per system.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Session, SessionError};
use crate::ids::{GroupId, SystemName, TaskId};
use crate::task::is_task_id;

/// A run dir no task owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Orphan {
    /// The system whose remote base holds it; `None`: the local stage root.
    pub system: Option<SystemName>,
    /// The directory it is in (the stage root, or the system's remote base).
    pub base: String,
    /// Its name in `base`.
    pub name: String,
}

impl Orphan {
    /// Where it is, for messages: `base/name`, after `system:` when remote.
    pub fn location(&self) -> String {
        let path = format!("{}/{}", self.base.trim_end_matches('/'), self.name);
        match &self.system {
            Some(system) => format!("{system}:{path}"),
            None => path,
        }
    }
}

/// What [`Session::orphans`] found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Orphans {
    /// The run dirs no task owns, local ones first, then by system.
    pub found: Vec<Orphan>,
    /// Systems that could not be looked at, with why (the others were).
    pub unreachable: Vec<(SystemName, String)>,
}

impl Session {
    /// The run dirs no task owns, locally and on `systems` (see the module docs). A system
    /// that cannot be reached is listed in [`Orphans::unreachable`]; the rest go on.
    pub async fn orphans(&self, systems: &[SystemName]) -> Result<Orphans, SessionError> {
        let (tasks, groups) = self.with_db(|db| db.owned_names()).await?;
        let owned = |name: &str| owns(&tasks, &groups, name);
        let root = self.stage_root().to_path_buf();
        let mut report = Orphans::default();
        for name in local_run_dirs(&root)? {
            if !owned(&name) {
                report.found.push(Orphan {
                    system: None,
                    base: root.to_string_lossy().into_owned(),
                    name,
                });
            }
        }
        let mut seen_bases: HashSet<(Option<String>, String)> = HashSet::new();
        for name in systems {
            let system = self.system(name.as_str())?;
            let base = self.remote_base(system);
            // Two systems on one host and rundir (or a host-less one whose base is the stage
            // root itself) share their run dirs: list each place once.
            let place = (system.host.clone(), base.clone());
            if (system.host.is_none() && Path::new(&base) == root) || !seen_bases.insert(place) {
                continue;
            }
            let listed = match self.driver(name).await {
                Ok(driver) => driver.list_run_dirs(&base).await,
                Err(e) => Err(e),
            };
            match listed {
                Ok(names) => report
                    .found
                    .extend(names.into_iter().filter(|n| !owned(n)).map(|n| Orphan {
                        system: Some(name.clone()),
                        base: base.clone(),
                        name: n,
                    })),
                Err(e) => report.unreachable.push((name.clone(), e.to_string())),
            }
        }
        Ok(report)
    }

    /// Removes `orphans` (as [`Session::orphans`] found them), after checking again that no
    /// task owns them now: a task started meanwhile keeps its run dir.
    pub async fn remove_orphans(&self, orphans: &[Orphan]) -> Result<usize, SessionError> {
        let (tasks, groups) = self.with_db(|db| db.owned_names()).await?;
        let mut removed = 0;
        let mut remote: Vec<(&SystemName, &str, Vec<String>)> = Vec::new();
        for orphan in orphans.iter().filter(|o| !owns(&tasks, &groups, &o.name)) {
            if !is_run_dir_name(&orphan.name) {
                continue;
            }
            match &orphan.system {
                None => {
                    let dir = PathBuf::from(&orphan.base).join(&orphan.name);
                    if dir.is_dir() {
                        std::fs::remove_dir_all(&dir)
                            .map_err(SessionError::io("removing", &dir))?;
                        removed += 1;
                    }
                }
                Some(system) => match remote
                    .iter_mut()
                    .find(|(s, b, _)| *s == system && *b == orphan.base)
                {
                    Some((_, _, names)) => names.push(orphan.name.clone()),
                    None => remote.push((system, &orphan.base, vec![orphan.name.clone()])),
                },
            }
        }
        for (system, base, names) in remote {
            let driver = self.driver(system).await?;
            driver.remove_run_dirs(base, &names).await?;
            removed += names.len();
        }
        Ok(removed)
    }
}

/// `run_<id>`, `run_<id>.attempt-<n>` or `grp_<id>`: the names xpr gives run dirs.
fn is_run_dir_name(name: &str) -> bool {
    split_run_dir_name(name).is_some()
}

/// The id in a run dir's name, and whether it is a group's.
fn split_run_dir_name(name: &str) -> Option<(&str, bool)> {
    if let Some(id) = name.strip_prefix("grp_") {
        return is_task_id(id).then_some((id, true));
    }
    let rest = name.strip_prefix("run_")?;
    let id = match rest.split_once(".attempt-") {
        Some((id, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => id,
        Some(_) => return None,
        None => rest,
    };
    is_task_id(id).then_some((id, false))
}

/// Whether a task or group of the DB owns the run dir `name` (a name that is not a run dir's
/// counts as owned: it is never removed).
fn owns(tasks: &HashSet<TaskId>, groups: &HashSet<GroupId>, name: &str) -> bool {
    match split_run_dir_name(name) {
        None => true,
        Some((id, true)) => groups.contains(&GroupId::new(id)),
        Some((id, false)) => tasks.contains(&TaskId::new(id)),
    }
}

/// The run dir names directly under the local stage root.
fn local_run_dirs(root: &Path) -> Result<Vec<String>, SessionError> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SessionError::io("listing", root)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(SessionError::io("listing", root))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_run_dir_name(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_xpr_writes_are_run_dirs() {
        assert_eq!(split_run_dir_name("run_a_1"), Some(("a_1", false)));
        assert_eq!(
            split_run_dir_name("run_a_1.attempt-2"),
            Some(("a_1", false))
        );
        assert_eq!(split_run_dir_name("grp_g1"), Some(("g1", true)));
        for other in [
            "run_",
            "run_a.attempt-",
            "run_a.attempt-x",
            "run_../x",
            "notes",
            "grp_",
            "run_a b",
        ] {
            assert_eq!(split_run_dir_name(other), None, "{other}");
        }
    }

    #[test]
    fn an_unknown_name_is_never_an_orphan() {
        let tasks: HashSet<TaskId> = [TaskId::new("a_1")].into();
        let groups: HashSet<GroupId> = [GroupId::new("g1")].into();
        assert!(owns(&tasks, &groups, "run_a_1"));
        assert!(owns(&tasks, &groups, "run_a_1.attempt-1"));
        assert!(owns(&tasks, &groups, "grp_g1"));
        assert!(owns(&tasks, &groups, "README"));
        assert!(!owns(&tasks, &groups, "run_b_2"));
        assert!(!owns(&tasks, &groups, "grp_g2"));
    }
}
