//! Drawing `xpr top`: the state as ratatui widgets. Every frame is drawn whole; ratatui
//! compares it with the last one and sends the terminal only the cells that changed, which is
//! why the view never flickers.
//!
//! Colour is decoration only: every distinction (the focused list, the selected row, an
//! error) is also made by reverse video, bold or a word, so `NO_COLOR` loses nothing.
//! Texts that come from users or schedulers (names, reasons, log lines) have their control
//! characters replaced before they are drawn: an escape sequence in a log must not reach the
//! terminal.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::logs::LogView;
use super::snapshot::Column;
use super::state::{App, Focus, View};

/// How long a message stays on the status line.
const MESSAGE_FOR: Duration = Duration::from_secs(15);

/// The styles, with or without colour.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    colour: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to something (<https://no-color.org>).
    pub fn from_env() -> Theme {
        Theme {
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    fn heading(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    fn column(self, column: Column) -> Style {
        match column {
            Column::Running => self.fg(Color::Green),
            Column::Queued => self.fg(Color::Yellow),
            Column::Failed | Column::Died => self.fg(Color::Red),
            Column::Cancelled => self.fg(Color::Magenta),
            Column::Succeeded => self.fg(Color::Blue),
            Column::Waiting | Column::Created | Column::Processed => Style::new(),
        }
    }
}

/// Draws the whole view of `app`; notes the page heights the keys scroll by.
pub fn draw(frame: &mut Frame<'_>, app: &mut App, theme: Theme) {
    let area = frame.area();
    if let View::Logs(logs) = &mut app.view {
        draw_logs(frame, area, logs, theme);
        return;
    }
    let systems = app.snapshot.systems.len() as u16;
    // The counts take what they need, up to a third of the screen; the lists share the rest.
    let counts_height = (systems.max(1) + 3).min(area.height / 3).max(4);
    let [title, counts, running, failures, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(counts_height),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(2),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(app, theme)), title);
    draw_counts(frame, counts, app, theme);
    draw_running(frame, running, app, theme);
    draw_failures(frame, failures, app, theme);
    frame.render_widget(Paragraph::new(footer_lines(app, theme)), footer);
    let focused = match app.focus {
        Focus::Running => running,
        Focus::Failures => failures,
    };
    app.page = list_height(focused);
}

fn title_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("xpr top", theme.heading())];
    let total: u64 = app.snapshot.systems.iter().map(|s| s.total()).sum();
    spans.push(Span::raw(format!(
        "  {} system(s), {total} task(s)",
        app.snapshot.systems.len()
    )));
    if let Some(at) = app.snapshot.read_at {
        spans.push(Span::raw(format!("  read {} UTC", clock(at))));
    }
    match app.poll.at {
        Some(at) => spans.push(Span::raw(format!("  polled {} UTC", clock(at)))),
        None => spans.push(Span::raw("  polling ...")),
    }
    if let Some(filter) = &app.filter {
        spans.push(Span::styled(
            format!("  filter: {}", clean(filter)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn draw_counts(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let name_width = app
        .snapshot
        .systems
        .iter()
        .map(|s| s.system.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max("system".len());
    let digits = |n: u64| n.to_string().len();
    let widest = |column: Option<Column>| {
        app.snapshot
            .systems
            .iter()
            .map(|s| digits(column.map_or(s.total(), |c| s.get(c))))
            .max()
            .unwrap_or(1)
    };
    // Full headings where they fit (borders and a space between columns), short ones else.
    let needed = |label: fn(Column) -> &'static str| {
        let columns: usize = Column::ALL
            .iter()
            .map(|c| label(*c).len().max(widest(Some(*c))))
            .sum();
        name_width + columns + "total".len().max(widest(None)) + Column::ALL.len() + 1 + 2
    };
    let label: fn(Column) -> &'static str = if needed(Column::label) <= usize::from(area.width) {
        Column::label
    } else {
        Column::short_label
    };
    let mut widths = vec![Constraint::Length(name_width as u16)];
    widths.extend(
        Column::ALL
            .iter()
            .map(|c| Constraint::Length(label(*c).len().max(widest(Some(*c))) as u16)),
    );
    widths.push(Constraint::Length("total".len().max(widest(None)) as u16));
    let mut heading = vec![Cell::from("system")];
    heading.extend(Column::ALL.iter().map(|c| Cell::from(label(*c))));
    heading.push(Cell::from("total"));
    let rows = app.snapshot.systems.iter().map(|s| {
        let mut cells = vec![Cell::from(clean(s.system.as_str()).into_owned())];
        cells.extend(Column::ALL.iter().map(|c| {
            let n = s.get(*c);
            let style = if n == 0 {
                Style::new().add_modifier(Modifier::DIM)
            } else {
                theme.column(*c)
            };
            Cell::from(Span::styled(n.to_string(), style))
        }));
        cells.push(Cell::from(Span::styled(
            s.total().to_string(),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(heading).style(theme.heading()))
        .block(Block::bordered().title(" tasks per system and state "));
    frame.render_widget(table, area);
}

/// The block of a list, its title saying whether it has the selection.
fn list_block(title: String, focused: bool, theme: Theme) -> Block<'static> {
    let style = if focused {
        theme.heading()
    } else {
        Style::new()
    };
    let marker = if focused { " [selecting]" } else { "" };
    Block::bordered().title(Span::styled(format!(" {title}{marker} "), style))
}

/// A column of a list: its heading, and whether it takes the room the others leave (the
/// others are as wide as their widest cell shown).
struct ListColumn {
    heading: &'static str,
    flexible: bool,
}

const fn fixed(heading: &'static str) -> ListColumn {
    ListColumn {
        heading,
        flexible: false,
    }
}

const fn flexible(heading: &'static str) -> ListColumn {
    ListColumn {
        heading,
        flexible: true,
    }
}

/// A list as drawn: the rows that fit, around the selected one.
struct List {
    columns: &'static [ListColumn],
    /// The pane's title, with the count.
    title: String,
    /// A cell per column for each row shown.
    rows: Vec<Vec<Cell<'static>>>,
    /// The width of each of those cells.
    widths: Vec<Vec<usize>>,
    /// The selected row among those shown.
    selected: Option<usize>,
    /// True when the list has the selection.
    focused: bool,
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, list: List, theme: Theme) {
    let widths: Vec<Constraint> = list
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if column.flexible {
                Constraint::Fill(1)
            } else {
                let widest = list.widths.iter().map(|w| w[i]).max().unwrap_or(0);
                Constraint::Length(widest.max(column.heading.len()) as u16)
            }
        })
        .collect();
    let highlight = if list.focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    };
    let table = Table::new(list.rows.into_iter().map(Row::new), widths)
        .header(Row::new(list.columns.iter().map(|c| c.heading)).style(theme.heading()))
        .block(list_block(list.title, list.focused, theme))
        .row_highlight_style(highlight)
        .highlight_symbol(if list.focused { "> " } else { "  " })
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(list.selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// Rows a list pane shows: its height less the borders and the heading.
fn list_height(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3)).max(1)
}

const RUNNING_COLUMNS: [ListColumn; 7] = [
    fixed("id"),
    flexible("name"),
    fixed("system"),
    fixed("node"),
    fixed("job"),
    fixed("started UTC"),
    fixed("elapsed"),
];

fn draw_running(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let now = epoch(SystemTime::now());
    let shown = app
        .running
        .window(list_height(area), app.snapshot.running.len());
    let selected = app.running.row().map(|r| r - shown.start);
    let texts: Vec<Vec<String>> = app.snapshot.running[shown]
        .iter()
        .map(|t| {
            let name = if t.cancel_requested {
                format!("{} (cancelling)", clean(&t.name))
            } else {
                clean(&t.name).into_owned()
            };
            let started = t.started_at.map(|at| at.max(0.0) as u64);
            vec![
                t.id.to_string(),
                name,
                clean(t.system.as_str()).into_owned(),
                t.node
                    .as_deref()
                    .map_or("-".into(), |n| clean(n).into_owned()),
                t.job
                    .as_ref()
                    .map_or("-".into(), |j| clean(j.as_str()).into_owned()),
                started.map_or("-".into(), clock_of),
                started.map_or("-".into(), |at| {
                    xpr::units::format_hms(now.saturating_sub(at))
                }),
            ]
        })
        .collect();
    let widths = texts.iter().map(|row| widths(row)).collect();
    let rows = texts
        .into_iter()
        .map(|row| row.into_iter().map(Cell::from).collect())
        .collect();
    let list = List {
        columns: &RUNNING_COLUMNS,
        title: format!("running now ({})", app.snapshot.running.len()),
        rows,
        widths,
        selected,
        focused: app.focus == Focus::Running,
    };
    draw_list(frame, area, list, theme);
}

const FAILURE_COLUMNS: [ListColumn; 7] = [
    fixed("id"),
    flexible("name"),
    fixed("system"),
    fixed("class"),
    fixed("exit"),
    fixed("ended UTC"),
    flexible("reason"),
];

fn draw_failures(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let shown = app
        .failures
        .window(list_height(area), app.snapshot.failures.len());
    let selected = app.failures.row().map(|r| r - shown.start);
    let texts: Vec<Vec<String>> = app.snapshot.failures[shown]
        .iter()
        .map(|t| {
            // The class is the end state; a task with none is told by its status.
            let class = match t.end_state {
                Some(end) => end.as_str(),
                None => t.status.as_str(),
            };
            vec![
                t.id.to_string(),
                clean(&t.name).into_owned(),
                clean(t.system.as_str()).into_owned(),
                class.to_owned(),
                t.exit_code.map_or("-".into(), |c| c.to_string()),
                clock_of(t.ended_at.max(0.0) as u64),
                clean(t.reason.as_deref().unwrap_or("")).into_owned(),
            ]
        })
        .collect();
    let widths = texts.iter().map(|row| widths(row)).collect();
    let rows = texts
        .into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .map(|(i, text)| match i {
                    3 => Cell::from(Span::styled(text, theme.error())),
                    6 => Cell::from(text).style(Style::new().add_modifier(Modifier::DIM)),
                    _ => Cell::from(text),
                })
                .collect()
        })
        .collect();
    let list = List {
        columns: &FAILURE_COLUMNS,
        title: format!("latest failures ({})", app.snapshot.failures.len()),
        rows,
        widths,
        selected,
        focused: app.focus == Focus::Failures,
    };
    draw_list(frame, area, list, theme);
}

/// The width of each cell of `row`, in characters.
fn widths(row: &[String]) -> Vec<usize> {
    row.iter().map(|cell| cell.chars().count()).collect()
}

fn footer_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let news = match &app.message {
        Some(m) if m.at.elapsed() < MESSAGE_FOR => {
            let style = if m.error { theme.error() } else { Style::new() };
            Line::from(Span::styled(clean(&m.text).into_owned(), style))
        }
        _ if !app.poll.problems.is_empty() => Line::from(Span::styled(
            clean(&app.poll.problems.join("; ")).into_owned(),
            theme.error(),
        )),
        _ => Line::from(""),
    };
    let keys = match &app.view {
        View::Filter { typed } => Line::from(vec![
            Span::styled("filter: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{}_", clean(typed))),
            Span::raw("   Enter applies · Esc clears · matches names and ids"),
        ]),
        View::Confirm { id, name } => Line::from(Span::styled(
            format!(
                "cancel task {id} ({})? y confirms, any other key keeps it",
                clean(name)
            ),
            theme.error(),
        )),
        View::Browse | View::Logs(_) => Line::from(Span::styled(
            "q quit · / filter · Tab list · ↑↓ select · Enter logs · c cancel · r refresh",
            Style::new().add_modifier(Modifier::REVERSED),
        )),
    };
    vec![news, keys]
}

fn draw_logs(frame: &mut Frame<'_>, area: Rect, logs: &mut LogView, theme: Theme) {
    logs.height = usize::from(area.height.saturating_sub(2)).max(1);
    let shown: Vec<Line<'_>> = logs
        .lines
        .iter()
        .skip(logs.top)
        .take(logs.height)
        .map(|line| {
            if line.starts_with("───") {
                Line::from(Span::styled(clean(line).into_owned(), theme.heading()))
            } else {
                Line::from(clean(line).into_owned())
            }
        })
        .collect();
    let last = (logs.top + logs.height).min(logs.lines.len());
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", clean(&logs.title)),
            theme.heading(),
        ))
        .title_bottom(format!(
            " lines {}-{last} of {} · ↑↓ PgUp PgDn Home End scroll · q back ",
            (logs.top + 1).min(last),
            logs.lines.len()
        ));
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// `text` with tabs as spaces and other control characters as `?`.
fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' => ' ',
                c if c.is_control() => '?',
                c => c,
            })
            .collect(),
    )
}

fn epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `HH:MM:SS` of `at`, in UTC (no time zone database needed).
fn clock(at: SystemTime) -> String {
    clock_of(epoch(at))
}

fn clock_of(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(clean("a\tb\x1b[2Jc\r"), "a b?[2Jc?");
    }

    #[test]
    fn clock_times_are_utc() {
        assert_eq!(clock_of(0), "00:00:00");
        assert_eq!(clock_of(86_400 + 3_723), "01:02:03");
    }
}
