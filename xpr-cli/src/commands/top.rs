//! `xpr top`: a live view of every system in the terminal.
//!
//! Two sides share the jobs DB and nothing else. The background side ([`background`], on a
//! tokio runtime) advances the tasks as `xpr status` does, one poll round per interval, and
//! carries out the cancels asked for. The UI side (this thread) reads the DB through its own
//! connection ([`snapshot`]: two small reads a refresh when nothing changed), turns keys into
//! actions ([`keys`]) that change its state ([`state`]), and draws it ([`view`]) with ratatui,
//! which sends the terminal only the cells that changed. A slow or unreachable cluster slows
//! the poll, never the screen.
//!
//! The view redraws every [`TICK`] (elapsed times move) and at once on a key; it reads the DB
//! every interval, after each poll round, and on `r`.
//!
//! The terminal is restored however the view ends: `q`, Esc, Ctrl-C (a key in raw mode),
//! SIGTERM or SIGHUP (taken over by the background side, which tells the loop to end), an
//! error (the [`Screen`] guard's `Drop`) or a panic (ratatui's panic hook, installed when the
//! screen is set up).

mod background;
mod keys;
mod logs;
mod snapshot;
mod state;
mod view;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use xpr::db::{Db, TaskFilter};
use xpr::ids::{SystemName, TaskId};
use xpr::resources::parse_time;
use xpr::session::Session;

use self::background::{Background, Outcome};
use self::snapshot::Reader;
use self::state::{App, Effect};
use self::view::Theme;
use super::tasks::open_session;
use crate::cli::TopArgs;
use crate::exit::{self, bad_flag, usage};

/// How often the view is drawn when no key comes.
const TICK: Duration = Duration::from_millis(200);

/// `xpr top`: runs the view until the user quits.
pub fn top(args: &TopArgs) -> anyhow::Result<u8> {
    let interval = interval_from(&args.interval)?;
    let mut scope = TaskFilter::from_patterns(&[], &[], Vec::new(), &args.systems)
        .map_err(|e| bad_flag("-S/--system", e))?;
    scope.sweep = args.sweep.clone();
    ensure_terminal()?;

    let session = open_session()?;
    let known = idle_systems_shown(&session, &scope);
    // `-S` limits the polls too: a system left out is not contacted.
    let polled = (!args.systems.is_empty()).then(|| configured_in(&session, &scope));
    let db = Db::open(session.stage_root().join(xpr::session::DB_FILE))?;
    let mut reader = Reader::new(db, scope, known);
    // Read before the screen is taken: a DB that cannot be read is reported as usual.
    let mut app = App::new(reader.read(true)?.unwrap_or_default());
    let mut background = Background::start(session.clone(), interval, polled)?;
    let shown = match Screen::enter() {
        Ok(mut screen) => run(
            &mut screen.terminal,
            &mut app,
            &mut reader,
            &mut background,
            &session,
            interval,
        ),
        Err(e) => Err(e),
    };
    // The screen is restored by now: whatever closing says is printed on a normal terminal.
    let closed = background.close();
    shown?;
    closed?;
    Ok(exit::SUCCESS)
}

/// `--interval T` as a duration of at least a second.
fn interval_from(text: &str) -> anyhow::Result<Duration> {
    match parse_time(text).map_err(|e| bad_flag("--interval", e))? {
        Some(secs) if secs >= 1 => Ok(Duration::from_secs(secs)),
        _ => Err(usage(format!(
            "--interval {text:?}: must be at least 1s (hint: `--interval 2s`, the default)"
        ))),
    }
}

/// Refuses what would make the view unusable: no terminal to draw on or read keys from, or
/// a log (`-v`) that would be written over it.
fn ensure_terminal() -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage(
            "`xpr top` draws on a terminal and reads its keys, and stdout or stdin is not one \
             (hint: `xpr ls` lists the tasks, `xpr status` polls once and lists them)",
        ));
    }
    if tracing::dispatcher::has_been_set() && std::io::stderr().is_terminal() {
        return Err(usage(
            "`xpr top` with -v (or RUST_LOG, EXPYRE_TIMING_VERBOSE) would write its log over \
             the view (hint: send the log to a file: `xpr -v top 2>top.log`)",
        ));
    }
    Ok(())
}

/// The configured systems `scope` names, shown with zeros while they have no task; none
/// for a sweep (only the systems its tasks run on are of interest).
fn idle_systems_shown(session: &Session, scope: &TaskFilter) -> Vec<SystemName> {
    if scope.sweep.is_some() {
        return Vec::new();
    }
    configured_in(session, scope)
}

/// The configured systems whose names `scope`'s system regexps match (all without any).
fn configured_in(session: &Session, scope: &TaskFilter) -> Vec<SystemName> {
    session
        .config()
        .config
        .systems
        .iter()
        .map(|s| s.name.clone())
        .filter(|name| {
            scope.systems.is_empty() || scope.systems.iter().any(|re| re.is_match(name.as_str()))
        })
        .collect()
}

/// The terminal in raw mode on the alternate screen, given back on drop.
struct Screen {
    terminal: DefaultTerminal,
}

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(e) => {
                // Raw mode may be on although the alternate screen failed.
                ratatui::restore();
                Err(anyhow::Error::new(e).context("cannot set up the terminal for `xpr top`"))
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}

/// The loop: outcomes of the background, a DB read when due, a frame, a key.
fn run(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    reader: &mut Reader,
    background: &mut Background,
    session: &Session,
    interval: Duration,
) -> anyhow::Result<()> {
    let theme = Theme::from_env();
    let mut last_read = Instant::now();
    let mut force = false;
    loop {
        let mut due = force || last_read.elapsed() >= interval;
        while let Some(outcome) = background.try_recv() {
            if matches!(outcome, Outcome::Stop) {
                return Ok(());
            }
            due |= note(app, outcome);
        }
        if due {
            match reader.read(force) {
                Ok(Some(snapshot)) => app.set_snapshot(snapshot),
                Ok(None) => {}
                Err(e) => app.say(
                    format!("cannot read the jobs DB (the view shows the last read): {e}"),
                    true,
                ),
            }
            last_read = Instant::now();
            force = false;
        }
        terminal
            .draw(|frame| view::draw(frame, app, theme))
            .context("drawing `xpr top`")?;
        if !event::poll(TICK).context("reading the keyboard")? {
            continue;
        }
        // A resize needs nothing but the next frame, which comes at once.
        let Event::Key(key) = event::read().context("reading the keyboard")? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match app.apply(keys::action_for(app.mode(), key)) {
            Effect::None => {}
            Effect::Quit => return Ok(()),
            Effect::Refresh => {
                background.poll_now();
                force = true;
            }
            Effect::Filter(text) => {
                reader.set_text(text.as_deref());
                force = true;
            }
            Effect::Cancel(id) => background.cancel(id),
            Effect::OpenLogs(id) => open_logs(app, reader, session, &id),
        }
    }
}

/// Takes in what the background did; true when the DB is worth reading again.
fn note(app: &mut App, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Polled(problems) => app.polled(problems),
        // Handled by the loop, which ends.
        Outcome::Stop => {}
        Outcome::Cancelled { task, result } => match result {
            Ok(true) => app.say(
                format!("cancel requested: {task} (its end shows after the next poll)"),
                false,
            ),
            Ok(false) => app.say(
                format!("task {task} had already ended: nothing was cancelled"),
                false,
            ),
            Err(e) => app.say(
                format!("cannot cancel {task}: {e} (hint: `xpr cancel {task}` says more)"),
                true,
            ),
        },
    }
    true
}

/// Shows the logs of task `id`, read now.
fn open_logs(app: &mut App, reader: &Reader, session: &Session, id: &TaskId) {
    match reader.db().get(id) {
        Ok(Some(record)) => app.show_logs(logs::read_logs(session, &record)),
        Ok(None) => app.say(
            format!("task {id} is no longer in the jobs DB (hint: `xpr ls` lists the tasks)"),
            true,
        ),
        Err(e) => app.say(format!("cannot read task {id}: {e}"), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_a_time_of_at_least_a_second() {
        assert_eq!(interval_from("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(interval_from("1m").unwrap(), Duration::from_secs(60));
        for bad in ["0", "0.5s", "_none_", "soon"] {
            let err = interval_from(bad).unwrap_err();
            assert!(err.to_string().starts_with("--interval"), "{bad}: {err}");
        }
    }
}
