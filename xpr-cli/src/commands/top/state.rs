//! The state of `xpr top` and how actions change it. Pure: what needs I/O (a poll, a cancel,
//! reading logs, reading the DB with a new filter) comes back as an [`Effect`] for the loop in
//! `top.rs` to carry out, so every key's effect on the state is tested without a terminal.
//!
//! A selection follows its task, not its row: when a refresh moves the task up or down the
//! list, the selection moves with it; when the task leaves the list, the selection stays at
//! the same row.

use std::time::{Instant, SystemTime};

use xpr::ids::TaskId;

use super::keys::{self, Action, Move};
use super::logs::LogView;
use super::snapshot::Snapshot;

/// Which list the selection is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The tasks running now.
    Running,
    /// The latest failures.
    Failures,
}

/// A selected row of one list, following its task, and the rows shown around it.
#[derive(Debug, Default)]
pub struct Selection {
    /// The row selected.
    row: Option<usize>,
    /// The first row shown.
    offset: usize,
    /// The task selected.
    id: Option<TaskId>,
}

impl Selection {
    /// Puts the selection back on its task in the list `ids` (else on the same row, within
    /// the list).
    fn follow<'a>(&mut self, ids: impl Iterator<Item = &'a TaskId>) {
        let ids: Vec<&TaskId> = ids.collect();
        if ids.is_empty() {
            self.row = None;
            self.id = None;
            return;
        }
        let row = match ids.iter().position(|id| Some(*id) == self.id.as_ref()) {
            Some(row) => row,
            None => self.row.unwrap_or(0).min(ids.len() - 1),
        };
        self.row = Some(row);
        self.id = Some(ids[row].clone());
    }

    /// The rows to show of a list of `len` in a pane of `height` rows: the selected one is
    /// among them, and the window moves only when the selection leaves it.
    pub fn window(&mut self, height: usize, len: usize) -> std::ops::Range<usize> {
        let height = height.max(1);
        if let Some(row) = self.row {
            if row < self.offset {
                self.offset = row;
            } else if row >= self.offset + height {
                self.offset = row + 1 - height;
            }
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset..(self.offset + height).min(len)
    }

    /// The row selected.
    pub fn row(&self) -> Option<usize> {
        self.row
    }

    /// Moves by `step` in a list of `ids`, `page` rows a page.
    fn step(&mut self, step: Move, ids: &[TaskId], page: usize) {
        if ids.is_empty() {
            return;
        }
        let last = ids.len() - 1;
        let now = self.row.unwrap_or(0).min(last);
        let page = page.max(1);
        let row = match step {
            Move::Up => now.saturating_sub(1),
            Move::Down => (now + 1).min(last),
            Move::PageUp => now.saturating_sub(page),
            Move::PageDown => (now + page).min(last),
            Move::First => 0,
            Move::Last => last,
        };
        self.row = Some(row);
        self.id = Some(ids[row].clone());
    }

    /// The task selected.
    pub fn id(&self) -> Option<&TaskId> {
        self.id.as_ref()
    }
}

/// What the view is doing.
#[derive(Debug)]
pub enum View {
    /// The lists.
    Browse,
    /// Typing a filter.
    Filter {
        /// What was typed so far.
        typed: String,
    },
    /// Asking whether to cancel a task.
    Confirm {
        /// The task.
        id: TaskId,
        /// Its name.
        name: String,
    },
    /// A task's logs.
    Logs(LogView),
}

/// A line for the user, shown until the next one.
#[derive(Clone, Debug)]
pub struct Message {
    /// What it says.
    pub text: String,
    /// True for trouble.
    pub error: bool,
    /// When it was said.
    pub at: Instant,
}

/// What the last poll round said.
#[derive(Clone, Debug, Default)]
pub struct PollStatus {
    /// When it ended.
    pub at: Option<SystemTime>,
    /// The systems that could not be polled, each with why; or one error for the round.
    pub problems: Vec<String>,
}

/// Something the state cannot do by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing to do.
    None,
    /// Leave.
    Quit,
    /// Poll now and read the DB again.
    Refresh,
    /// Read the lists again with this filter.
    Filter(Option<String>),
    /// Cancel this task.
    Cancel(TaskId),
    /// Read this task's logs (then [`App::show_logs`]).
    OpenLogs(TaskId),
}

/// The whole state of the view.
#[derive(Debug)]
pub struct App {
    /// What the DB said at the last refresh.
    pub snapshot: Snapshot,
    /// Which list has the selection.
    pub focus: Focus,
    /// The selection in the running list.
    pub running: Selection,
    /// The selection in the failures list.
    pub failures: Selection,
    /// The applied `/` filter.
    pub filter: Option<String>,
    /// What the view is doing.
    pub view: View,
    /// The last message.
    pub message: Option<Message>,
    /// The last poll round.
    pub poll: PollStatus,
    /// Rows per page of the focused list (set by the drawing).
    pub page: usize,
}

impl App {
    /// A view of `snapshot`, browsing the running list.
    pub fn new(snapshot: Snapshot) -> App {
        let mut app = App {
            snapshot: Snapshot::default(),
            focus: Focus::Running,
            running: Selection::default(),
            failures: Selection::default(),
            filter: None,
            view: View::Browse,
            message: None,
            poll: PollStatus::default(),
            page: 10,
        };
        app.set_snapshot(snapshot);
        app
    }

    /// The mode the keys are read in.
    pub fn mode(&self) -> keys::Mode {
        match self.view {
            View::Browse => keys::Mode::Browse,
            View::Filter { .. } => keys::Mode::Filter,
            View::Confirm { .. } => keys::Mode::Confirm,
            View::Logs(_) => keys::Mode::Logs,
        }
    }

    /// Takes a new snapshot; selections follow their tasks.
    pub fn set_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = snapshot;
        self.running
            .follow(self.snapshot.running.iter().map(|t| &t.id));
        self.failures
            .follow(self.snapshot.failures.iter().map(|t| &t.id));
    }

    /// Says `text` on the status line.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        self.message = Some(Message {
            text: text.into(),
            error,
            at: Instant::now(),
        });
    }

    /// Shows `logs` over the lists.
    pub fn show_logs(&mut self, logs: LogView) {
        self.view = View::Logs(logs);
    }

    /// The ids of the focused list, in order.
    fn focused_ids(&self) -> Vec<TaskId> {
        match self.focus {
            Focus::Running => self.snapshot.running.iter().map(|t| t.id.clone()).collect(),
            Focus::Failures => self
                .snapshot
                .failures
                .iter()
                .map(|t| t.id.clone())
                .collect(),
        }
    }

    /// The selected task of the focused list, with its name and whether it runs.
    pub fn selected(&self) -> Option<(TaskId, String, bool)> {
        match self.focus {
            Focus::Running => {
                let id = self.running.id()?;
                let task = self.snapshot.running.iter().find(|t| &t.id == id)?;
                Some((task.id.clone(), task.name.clone(), true))
            }
            Focus::Failures => {
                let id = self.failures.id()?;
                let task = self.snapshot.failures.iter().find(|t| &t.id == id)?;
                Some((task.id.clone(), task.name.clone(), false))
            }
        }
    }

    /// Does what `action` asks, as far as the state can; the rest is the returned effect.
    pub fn apply(&mut self, action: Action) -> Effect {
        match action {
            Action::Nothing => Effect::None,
            Action::Quit => Effect::Quit,
            // The title's "polled" time says when it is done.
            Action::Refresh => Effect::Refresh,
            Action::StartFilter => {
                let typed = self.filter.clone().unwrap_or_default();
                self.view = View::Filter { typed };
                Effect::None
            }
            Action::Type(c) => {
                if let View::Filter { typed } = &mut self.view {
                    typed.push(c);
                }
                Effect::None
            }
            Action::Backspace => {
                if let View::Filter { typed } = &mut self.view {
                    typed.pop();
                }
                Effect::None
            }
            Action::ApplyFilter => {
                let typed = match std::mem::replace(&mut self.view, View::Browse) {
                    View::Filter { typed } => typed,
                    _ => return Effect::None,
                };
                self.filter = Some(typed).filter(|t| !t.is_empty());
                Effect::Filter(self.filter.clone())
            }
            Action::ClearFilter => {
                self.view = View::Browse;
                self.filter = None;
                Effect::Filter(None)
            }
            Action::Move(step) => {
                if let View::Logs(logs) = &mut self.view {
                    logs.scroll(step);
                    return Effect::None;
                }
                let ids = self.focused_ids();
                let page = self.page;
                self.focused_mut().step(step, &ids, page);
                Effect::None
            }
            Action::SwitchList => {
                self.focus = match self.focus {
                    Focus::Running => Focus::Failures,
                    Focus::Failures => Focus::Running,
                };
                let ids = self.focused_ids();
                let selection = self.focused_mut();
                if selection.id.is_none() && !ids.is_empty() {
                    selection.step(Move::First, &ids, 1);
                }
                Effect::None
            }
            Action::OpenLogs => match self.selected() {
                Some((id, _, _)) => Effect::OpenLogs(id),
                None => {
                    self.say(
                        "no task selected (hint: ↑↓ select, Tab switches lists)",
                        true,
                    );
                    Effect::None
                }
            },
            Action::AskCancel => {
                match self.selected() {
                    Some((id, name, true)) => self.view = View::Confirm { id, name },
                    Some((id, _, false)) => {
                        self.say(format!("task {id} has ended: nothing to cancel"), true);
                    }
                    None => self.say("no running task selected", true),
                }
                Effect::None
            }
            Action::Answer(yes) => {
                let View::Confirm { id, .. } = std::mem::replace(&mut self.view, View::Browse)
                else {
                    return Effect::None;
                };
                if yes {
                    self.say(format!("cancelling {id} ..."), false);
                    Effect::Cancel(id)
                } else {
                    self.say(format!("not cancelled: {id}"), false);
                    Effect::None
                }
            }
            Action::CloseLogs => {
                self.view = View::Browse;
                Effect::None
            }
        }
    }

    fn focused_mut(&mut self) -> &mut Selection {
        match self.focus {
            Focus::Running => &mut self.running,
            Focus::Failures => &mut self.failures,
        }
    }

    /// Notes a poll round that ended, with the systems it could not reach.
    pub fn polled(&mut self, problems: Vec<String>) {
        self.poll = PollStatus {
            at: Some(SystemTime::now()),
            problems,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{FailedTask, RunningTask};
    use super::*;
    use xpr::db::{EndState, TaskStatus};
    use xpr::ids::SystemName;

    fn running(id: &str) -> RunningTask {
        RunningTask {
            id: TaskId::new(id),
            name: format!("name-{id}"),
            system: SystemName::new("local"),
            node: None,
            job: None,
            started_at: None,
            cancel_requested: false,
        }
    }

    fn failed(id: &str) -> FailedTask {
        FailedTask {
            id: TaskId::new(id),
            name: id.to_owned(),
            system: SystemName::new("local"),
            status: TaskStatus::Failed,
            end_state: Some(EndState::Failed),
            exit_code: Some(3),
            ended_at: 0.0,
            reason: None,
        }
    }

    fn snapshot(run: &[&str], fail: &[&str]) -> Snapshot {
        Snapshot {
            running: run.iter().map(|id| running(id)).collect(),
            failures: fail.iter().map(|id| failed(id)).collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_selection_follows_its_task_when_the_list_changes() {
        let mut app = App::new(snapshot(&["a", "b", "c"], &[]));
        app.apply(Action::Move(Move::Down));
        app.apply(Action::Move(Move::Down));
        assert_eq!(app.running.id(), Some(&TaskId::new("c")));
        app.set_snapshot(snapshot(&["c", "d"], &[]));
        assert_eq!(app.running.row(), Some(0));
        // The task left: the same row, now another task.
        app.set_snapshot(snapshot(&["d", "e"], &[]));
        assert_eq!(app.running.row(), Some(0));
        assert_eq!(app.running.id(), Some(&TaskId::new("d")));
        app.set_snapshot(snapshot(&[], &[]));
        assert_eq!(app.running.row(), None);
        assert_eq!(app.selected(), None);
    }

    #[test]
    fn the_window_of_rows_shown_moves_only_when_the_selection_leaves_it() {
        let ids: Vec<TaskId> = (0..10).map(|i| TaskId::new(format!("t{i}"))).collect();
        let mut selection = Selection::default();
        selection.step(Move::First, &ids, 3);
        assert_eq!(selection.window(3, 10), 0..3);
        selection.step(Move::Down, &ids, 3);
        selection.step(Move::Down, &ids, 3);
        assert_eq!(selection.window(3, 10), 0..3);
        selection.step(Move::Down, &ids, 3);
        assert_eq!(selection.window(3, 10), 1..4);
        selection.step(Move::Last, &ids, 3);
        assert_eq!(selection.window(3, 10), 7..10);
        selection.step(Move::PageUp, &ids, 3);
        assert_eq!(selection.window(3, 10), 6..9);
        // The list shrank under it: the window stays within.
        selection.follow(ids[..2].iter());
        assert_eq!(selection.window(3, 2), 0..2);
    }

    #[test]
    fn cancel_asks_first_and_only_yes_cancels() {
        let mut app = App::new(snapshot(&["a", "b"], &["f"]));
        assert_eq!(app.apply(Action::AskCancel), Effect::None);
        assert!(matches!(&app.view, View::Confirm { id, .. } if id.as_str() == "a"));
        assert_eq!(app.apply(Action::Answer(false)), Effect::None);
        assert!(matches!(app.view, View::Browse));
        app.apply(Action::AskCancel);
        assert_eq!(
            app.apply(Action::Answer(true)),
            Effect::Cancel(TaskId::new("a"))
        );
        // An ended task is not offered for cancelling.
        app.apply(Action::SwitchList);
        assert_eq!(app.apply(Action::AskCancel), Effect::None);
        assert!(matches!(app.view, View::Browse));
        assert!(app.message.as_ref().is_some_and(|m| m.error));
        assert_eq!(
            app.apply(Action::OpenLogs),
            Effect::OpenLogs(TaskId::new("f"))
        );
    }

    #[test]
    fn a_filter_is_typed_then_applied_or_cleared() {
        let mut app = App::new(snapshot(&["a"], &[]));
        app.apply(Action::StartFilter);
        for c in "s-1x".chars() {
            app.apply(Action::Type(c));
        }
        app.apply(Action::Backspace);
        assert_eq!(
            app.apply(Action::ApplyFilter),
            Effect::Filter(Some("s-1".to_owned()))
        );
        assert_eq!(app.filter.as_deref(), Some("s-1"));
        // `/` again starts from the applied filter; Esc drops it.
        app.apply(Action::StartFilter);
        assert!(matches!(&app.view, View::Filter { typed } if typed == "s-1"));
        assert_eq!(app.apply(Action::ClearFilter), Effect::Filter(None));
        assert_eq!(app.filter, None);
    }
}
