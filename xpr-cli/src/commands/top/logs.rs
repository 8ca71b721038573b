//! A task's logs in `xpr top`: the stdout and stderr of its latest attempt, as `xpr logs`
//! reads them (the files in the task's local run dir, brought back when it ends). A task still
//! running on this machine has no copy yet, so its live files are read in its remote run dir,
//! which is here too. Only the last [`MAX_BYTES`] of each file are read: a log of gigabytes
//! must not stall the view.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use xpr::db::TaskRecord;
use xpr::session::Session;
use xpr::task::{STDERR_FILE, STDOUT_FILE};

use super::keys::Move;

/// The most of each file read (its end).
pub const MAX_BYTES: u64 = 1 << 20;

/// A task's logs, as lines, and where the view of them is.
#[derive(Clone, Debug)]
pub struct LogView {
    /// What the pane's title says.
    pub title: String,
    /// The lines: a heading per file, then its lines.
    pub lines: Vec<String>,
    /// The first line shown.
    pub top: usize,
    /// Lines the pane shows (set by the drawing).
    pub height: usize,
}

impl LogView {
    /// Scrolls by `step`, never past the last page.
    pub fn scroll(&mut self, step: Move) {
        let page = self.height.max(1);
        let last = self.lines.len().saturating_sub(page);
        self.top = match step {
            Move::Up => self.top.saturating_sub(1),
            Move::Down => self.top + 1,
            Move::PageUp => self.top.saturating_sub(page),
            Move::PageDown => self.top + page,
            Move::First => 0,
            Move::Last => last,
        }
        .min(last);
    }
}

/// The logs of `task`'s latest attempt (see the module docs).
pub fn read_logs(session: &Session, task: &TaskRecord) -> LogView {
    let local = session.local_run_dir(&task.id);
    let live = task.remote_dir.as_deref().filter(|_| {
        !task.status.is_finished()
            && session
                .system(task.system.as_str())
                .is_ok_and(|s| s.host.is_none())
    });
    let dir = match live {
        Some(remote) if !has_logs(&local) => PathBuf::from(remote),
        _ => local,
    };
    let mut lines = Vec::new();
    let mut found = false;
    for (label, file) in [("stdout", STDOUT_FILE), ("stderr", STDERR_FILE)] {
        let path = dir.join(file);
        match tail(&path) {
            Ok((text, skipped)) => {
                found = true;
                lines.push(format!("─── {label} ({})", path.display()));
                if skipped > 0 {
                    lines.push(format!("... (the first {skipped} bytes are not shown)"));
                }
                lines.extend(text.lines().map(str::to_owned));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => lines.push(format!("─── {label}: cannot read {}: {e}", path.display())),
        }
    }
    if !found {
        lines.push(format!(
            "task {} has no logs here yet (status {}): they come back when it ends \
             (hint: `xpr sync` brings finished tasks back)",
            task.id, task.status
        ));
    }
    LogView {
        title: format!("logs of {} ({}), {}", task.id, task.name, task.status),
        lines,
        top: 0,
        height: 0,
    }
}

fn has_logs(dir: &Path) -> bool {
    dir.join(STDOUT_FILE).exists() || dir.join(STDERR_FILE).exists()
}

/// The last [`MAX_BYTES`] of `path` as text, and how many bytes before them were skipped.
fn tail(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let skipped = len.saturating_sub(MAX_BYTES);
    file.seek(SeekFrom::Start(skipped))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES).read_to_end(&mut bytes)?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stops_at_the_last_page() {
        let mut view = LogView {
            title: String::new(),
            lines: (0..30).map(|i| i.to_string()).collect(),
            top: 0,
            height: 10,
        };
        view.scroll(Move::PageDown);
        assert_eq!(view.top, 10);
        view.scroll(Move::PageDown);
        view.scroll(Move::PageDown);
        assert_eq!(view.top, 20);
        view.scroll(Move::Down);
        assert_eq!(view.top, 20);
        view.scroll(Move::First);
        view.scroll(Move::Up);
        assert_eq!(view.top, 0);
        view.scroll(Move::Last);
        assert_eq!(view.top, 20);
    }

    #[test]
    fn a_long_log_is_read_from_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut text = "x".repeat(MAX_BYTES as usize);
        text.push_str("\nlast line\n");
        std::fs::write(&path, &text).unwrap();
        let (tail, skipped) = tail(&path).unwrap();
        assert_eq!(skipped, 11);
        assert!(tail.ends_with("last line\n"));
    }
}
