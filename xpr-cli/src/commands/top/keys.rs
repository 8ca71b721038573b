//! Which key does what in `xpr top`: a pure map from a key press, in the view's current
//! mode, to an [`Action`]. Nothing here reads or changes state, so the whole key map is
//! tested without a terminal.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the view is doing, as far as keys are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Looking at the lists.
    Browse,
    /// Typing a filter after `/`.
    Filter,
    /// Asked "cancel this task?".
    Confirm,
    /// Reading a task's logs.
    Logs,
}

/// A movement in a list or in the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// One up.
    Up,
    /// One down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the first.
    First,
    /// To the last.
    Last,
}

/// What a key asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    Nothing,
    /// Leave `xpr top`.
    Quit,
    /// Poll and read now.
    Refresh,
    /// Start typing a filter.
    StartFilter,
    /// A character typed into the filter.
    Type(char),
    /// Remove the filter's last character.
    Backspace,
    /// Apply the typed filter.
    ApplyFilter,
    /// Drop the filter.
    ClearFilter,
    /// Move the selection (or scroll the logs).
    Move(Move),
    /// Select in the other list.
    SwitchList,
    /// Open the selected task's logs.
    OpenLogs,
    /// Ask whether to cancel the selected task.
    AskCancel,
    /// The answer to that question.
    Answer(bool),
    /// Back from the logs to the lists.
    CloseLogs,
}

/// What `key` does in `mode`.
pub fn action_for(mode: Mode, key: KeyEvent) -> Action {
    // Raw mode turns Ctrl-C into a key: it quits from anywhere, as a user expects.
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Action::Quit;
    }
    match mode {
        Mode::Browse => browse(key),
        Mode::Filter => filter(key),
        Mode::Confirm => Action::Answer(matches!(key.code, KeyCode::Char('y' | 'Y'))),
        Mode::Logs => logs(key),
    }
}

fn movement(code: KeyCode) -> Option<Move> {
    Some(match code {
        KeyCode::Up | KeyCode::Char('k') => Move::Up,
        KeyCode::Down | KeyCode::Char('j') => Move::Down,
        KeyCode::PageUp => Move::PageUp,
        KeyCode::PageDown | KeyCode::Char(' ') => Move::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Move::First,
        KeyCode::End | KeyCode::Char('G') => Move::Last,
        _ => return None,
    })
}

fn browse(key: KeyEvent) -> Action {
    if let Some(m) = movement(key.code) {
        return Action::Move(m);
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('r') => Action::Refresh,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => Action::SwitchList,
        KeyCode::Enter | KeyCode::Char('l') => Action::OpenLogs,
        KeyCode::Char('c') => Action::AskCancel,
        _ => Action::Nothing,
    }
}

fn filter(key: KeyEvent) -> Action {
    match key.code {
        KeyCode::Enter => Action::ApplyFilter,
        KeyCode::Esc => Action::ClearFilter,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Action::Type(c),
        _ => Action::Nothing,
    }
}

fn logs(key: KeyEvent) -> Action {
    if let Some(m) = movement(key.code) {
        return Action::Move(m);
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc | KeyCode::Left => Action::CloseLogs,
        _ => Action::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_same_letter_means_what_its_mode_says() {
        let c = key(KeyCode::Char('c'));
        assert_eq!(action_for(Mode::Browse, c), Action::AskCancel);
        assert_eq!(action_for(Mode::Filter, c), Action::Type('c'));
        assert_eq!(action_for(Mode::Confirm, c), Action::Answer(false));
        assert_eq!(action_for(Mode::Logs, c), Action::Nothing);
        let q = key(KeyCode::Char('q'));
        assert_eq!(action_for(Mode::Browse, q), Action::Quit);
        assert_eq!(action_for(Mode::Filter, q), Action::Type('q'));
        assert_eq!(action_for(Mode::Logs, q), Action::CloseLogs);
    }

    #[test]
    fn only_y_confirms_and_ctrl_c_always_quits() {
        assert_eq!(
            action_for(Mode::Confirm, key(KeyCode::Char('y'))),
            Action::Answer(true)
        );
        assert_eq!(
            action_for(Mode::Confirm, key(KeyCode::Enter)),
            Action::Answer(false)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [Mode::Browse, Mode::Filter, Mode::Confirm, Mode::Logs] {
            assert_eq!(action_for(mode, ctrl_c), Action::Quit, "{mode:?}");
        }
    }

    #[test]
    fn esc_clears_a_filter_being_typed_and_quits_otherwise() {
        let esc = key(KeyCode::Esc);
        assert_eq!(action_for(Mode::Filter, esc), Action::ClearFilter);
        assert_eq!(action_for(Mode::Browse, esc), Action::Quit);
        assert_eq!(action_for(Mode::Logs, esc), Action::CloseLogs);
    }
}
