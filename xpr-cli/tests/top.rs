//! `xpr top` as a user drives it: the real binary in a tmux pane of a fixed size (160x45) on
//! a server of the test's own (`tmux -L`, killed on drop), keys sent with `send-keys`, the
//! screen read with `capture-pane` until what is expected shows or a deadline passes (never a
//! fixed sleep). On the built-in `local` system: a running sweep's counts, a failure with its
//! class and exit code, the `/` filter, a task's logs, a cancel confirmed with `y`, and `q`
//! giving the terminal back with exit code 0 (printed by a wrapper shell in the pane: tmux 3.3
//! does not always collect a dead pane's status). Also the jobs DB's counts query it reads
//! every refresh, and its refusals to start without a terminal or with a log on it.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use support::{Xpr, stderr, stdout};

/// How long anything may take to show.
const DEADLINE: Duration = Duration::from_secs(40);

/// What the pane's shell prints once `xpr top` exited, before its exit status.
const EXITED: &str = "xpr top exited with status ";

/// The pane's command: `xpr top ARGS`, then its exit status printed on the terminal it gave
/// back, a prompt, and (after Enter) that status passed on as the pane's own. It waits for the
/// Enter because tmux 3.3 may drop what a pane printed just before it exited.
const WRAPPER: &str = "\"$@\"; status=$?; echo \"xpr top exited with status $status\"; \
                       printf '$ '; read -r _; exit $status";

/// tmux sockets of this test process, numbered so parallel tests never share a server.
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// `xpr top ARGS` in a detached tmux session on a server of its own, killed on drop (also
/// when the test fails).
struct Tmux {
    socket: String,
    /// The server's socket file, removed on drop (tmux 3.3 leaves it behind).
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    /// Starts `xpr top ARGS` (under [`WRAPPER`]) with `xpr`'s home, environment and working
    /// directory; the pane stays after the process exits, so what it printed can be read.
    fn top(xpr: &Xpr, args: &[&str]) -> Tmux {
        let socket = format!(
            "xpr-top-test-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        let conf = xpr.home.path().join(format!("{socket}.conf"));
        std::fs::write(&conf, "set-option -g remain-on-exit on\n").unwrap();
        let mut tmux = Tmux {
            socket,
            socket_path: None,
        };
        let cwd = xpr.cwd.to_str().unwrap();
        let mut start = vec![
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "160",
            "-y",
            "45",
            "-c",
            cwd,
            "sh",
            "-c",
            WRAPPER,
            "sh",
            env!("CARGO_BIN_EXE_xpr"),
            "top",
        ];
        start.extend_from_slice(args);
        let out = tmux.command(xpr, &start).output().unwrap();
        assert!(out.status.success(), "tmux new-session: {}", stderr(&out));
        let path = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(path.trim().into());
        tmux
    }

    /// `tmux -L SOCKET ARGS`, in `xpr`'s environment (the server's, so the pane's too).
    fn command(&self, xpr: &Xpr, args: &[&str]) -> Command {
        let mut command = xpr.command_of("tmux", &["-L", &self.socket]);
        command.args(args).env_remove("TMUX");
        command
    }

    /// `tmux -L SOCKET ARGS` in this process's environment; its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// The pane's text as it shows now.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    /// Types `keys` (tmux key names: `Enter`, `Escape`, `Tab`, or text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `text` literally, character by character.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "top", "-l", text]);
    }

    /// Waits until `predicate` holds for the screen (polled every 100 ms) and returns it;
    /// fails naming `what` and showing the last screen after [`DEADLINE`].
    fn wait_for(&self, what: &str, predicate: impl Fn(&str) -> bool) -> String {
        wait_for(deadline(), what, || {
            let screen = self.screen();
            predicate(&screen).then_some(screen.clone()).ok_or(screen)
        })
    }

    /// Waits for `xpr top` to exit, and returns its exit status as the wrapper shell printed
    /// it, with the screen then. Also checks that tmux saw the pane die with that status,
    /// where tmux collected one.
    fn wait_for_exit(&self) -> (i32, String) {
        let screen = self.wait_for("xpr top to exit and the prompt", |s| {
            s.contains(EXITED) && s.lines().any(|l| l.trim() == "$")
        });
        let status: i32 = screen
            .lines()
            .find_map(|l| l.split(EXITED).nth(1))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| panic!("no exit status after {EXITED:?}: {screen}"));
        self.keys(&["Enter"]);
        let pane = wait_for(deadline(), "the pane to die", || {
            let state = self.run(&[
                "list-panes",
                "-t",
                "top",
                "-F",
                "#{pane_dead} #{pane_dead_status}",
            ]);
            let state = state.trim().to_owned();
            state.starts_with('1').then_some(state.clone()).ok_or(state)
        });
        // tmux 3.3 does not always collect a dead pane's status (seen on this project's
        // machines, with `sh -c 'exit 0'` too): only the wrapper's word is sure.
        if let Some(code) = pane.strip_prefix("1 ").filter(|c| !c.is_empty()) {
            assert_eq!(code, status.to_string(), "tmux's pane status");
        }
        (status, screen)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .env_remove("TMUX")
            .output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// [`DEADLINE`] from now.
fn deadline() -> Instant {
    Instant::now() + DEADLINE
}

/// Polls `probe` every 100 ms until it gives `Ok`, and returns that; past `deadline`, fails
/// naming `what` with the last `Err` it gave.
fn wait_for<T>(deadline: Instant, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    loop {
        match probe() {
            Ok(found) => return found,
            Err(last) if Instant::now() >= deadline => {
                panic!("gave up waiting for {what} after {DEADLINE:?}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Cancels every task still ongoing when the test ends, however it ends.
struct CancelAll<'a>(&'a Xpr);

impl Drop for CancelAll<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["cancel", "-s", "ongoing"]);
    }
}

/// The cells of the row of `system` in the counts table, by heading.
fn counts_of(screen: &str, system: &str) -> Option<std::collections::HashMap<String, u64>> {
    let words = |line: &str| -> Vec<String> {
        line.split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let heading = screen
        .lines()
        .map(words)
        .find(|w| w.first().is_some_and(|f| f == "system") && w.contains(&"queued".into()))?;
    let row = screen
        .lines()
        .map(words)
        .find(|w| w.first().is_some_and(|f| f == system))?;
    heading
        .into_iter()
        .zip(row)
        .skip(1)
        .map(|(h, v)| v.parse().ok().map(|n| (h, n)))
        .collect()
}

/// The lines of the screen from the one containing `from` up to the one containing `to`.
fn section<'a>(screen: &'a str, from: &str, to: &str) -> String {
    screen
        .lines()
        .skip_while(|l| !l.contains(from))
        .take_while(|l| !l.contains(to))
        .collect::<Vec<&'a str>>()
        .join("\n")
}

fn running_section(screen: &str) -> String {
    section(screen, "running now", "latest failures")
}

fn failures_section(screen: &str) -> String {
    section(screen, "latest failures", "q quit")
}

#[test]
fn top_shows_a_running_sweep_filters_opens_logs_cancels_and_quits() {
    // Three cores: the failing task and two of the sweep run at once, the rest queue.
    let xpr = Xpr::new().env("XPR_LOCAL_CORES", "3");
    let _cleanup = CancelAll(&xpr);
    let failing = xpr.ok(&[
        "submit",
        "--name",
        "boom",
        "--",
        "sh",
        "-c",
        "echo top-marker-stdout; echo top-marker-stderr >&2; exit 3",
    ]);
    let out = xpr.run(&["sweep", "s", "-p", "k=1,2,3,4", "--", "sleep", "60"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let tmux = Tmux::top(&xpr, &["--interval", "1s"]);
    // Top polls, so the failure ends and the sweep starts while it is open.
    let screen = tmux.wait_for("the sweep's counts and the failure", |s| {
        counts_of(s, "local")
            .is_some_and(|c| c["queued"] + c["running"] == 4 && c["failed"] == 1 && c["total"] == 5)
            && failures_section(s).contains("boom")
    });
    let counts = counts_of(&screen, "local").unwrap();
    assert!(counts["running"] >= 2, "{screen}");
    let failure = failures_section(&screen)
        .lines()
        .find(|l| l.contains("boom"))
        .unwrap()
        .to_owned();
    let cells: Vec<&str> = failure.split_whitespace().collect();
    assert!(
        cells.windows(2).any(|w| w == ["failed", "3"]),
        "class and exit code: {failure}"
    );
    assert!(failure.contains(failing.trim()), "{failure}");

    // `/` + text + Enter: only s-1 is listed (it runs: dispatched second of the sweep).
    tmux.keys(&["/"]);
    tmux.type_text("s-1");
    tmux.wait_for("the filter being typed", |s| s.contains("filter: s-1_"));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the filtered list", |s| {
        let running = running_section(s);
        running.contains(" s-1 ")
            && !["s-0", "s-2", "s-3"].iter().any(|n| running.contains(n))
            && !failures_section(s).contains("boom")
    });
    assert!(screen.contains("filter: s-1"), "{screen}");

    // `c`, anything but `y` keeps it; `c` `y` cancels it.
    tmux.keys(&["c"]);
    tmux.wait_for("the cancel question", |s| {
        s.contains("? y confirms, any other key keeps it")
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the cancel kept", |s| s.contains("not cancelled:"));
    tmux.keys(&["c"]);
    tmux.wait_for("the cancel question again", |s| {
        s.contains("(s-1)? y confirms")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the cancel requested", |s| s.contains("cancel requested:"));
    let task = wait_for(deadline(), "s-1 cancelled in `xpr ls`", || {
        let listed = xpr.json(&["ls", "-n", "s-1", "--json"]);
        let task = listed[0].clone();
        let cancelled = !task["cancel_requested_at"].is_null() || task["end_state"] == "cancelled";
        cancelled.then_some(task.clone()).ok_or(task.to_string())
    });
    assert_eq!(task["name"], "s-1");
    // The other tasks of the sweep were not touched.
    for other in ["s-0", "s-2", "s-3"] {
        let listed = xpr.json(&["ls", "-n", other, "--json"]);
        assert!(
            listed[0]["cancel_requested_at"].is_null(),
            "{other}: {listed}"
        );
    }

    // Esc clears the filter; Tab to the failures, Enter opens the failing task's logs.
    tmux.keys(&["/"]);
    tmux.wait_for("the filter prompt", |s| s.contains("Enter applies"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the whole list again", |s| {
        !s.contains("filter: ") && failures_section(s).contains("boom")
    });
    tmux.keys(&["Tab"]);
    tmux.wait_for("the failures selected", |s| {
        s.contains("latest failures")
            && s.contains("[selecting]")
            && !running_section(s).contains("[selecting]")
    });
    // The newest failure comes first: s-1's cancel may have landed above boom by now.
    let screen = tmux.screen();
    let failures = failures_section(&screen);
    let rows: Vec<&str> = failures.lines().filter(|l| l.contains("local")).collect();
    let below = rows.iter().position(|l| l.contains("boom")).unwrap();
    for _ in 0..below {
        tmux.keys(&["Down"]);
    }
    tmux.wait_for("boom selected", |s| {
        failures_section(s)
            .lines()
            .any(|l| l.contains("> ") && l.contains("boom"))
    });
    tmux.keys(&["Enter"]);
    let logs = tmux.wait_for("the logs of boom", |s| s.contains("logs of boom"));
    assert!(logs.contains("top-marker-stdout"), "{logs}");
    assert!(logs.contains("top-marker-stderr"), "{logs}");
    tmux.keys(&["q"]);
    tmux.wait_for("the lists again", |s| s.contains("tasks per system"));

    // `q` quits with exit code 0 and gives the terminal back.
    tmux.keys(&["q"]);
    let (status, screen) = tmux.wait_for_exit();
    assert_eq!(status, 0, "{screen}");
    assert!(
        !screen.contains("tasks per system"),
        "the terminal is given back (alternate screen left): {screen}"
    );
}

#[test]
fn top_limited_to_a_sweep_counts_only_its_tasks() {
    let xpr = Xpr::new().env("XPR_LOCAL_CORES", "4");
    let _cleanup = CancelAll(&xpr);
    xpr.ok(&["submit", "--name", "other", "--", "sh", "-c", "exit 3"]);
    let out = xpr.run(&["sweep", "mine", "-p", "k=1,2", "--", "sleep", "60"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tmux = Tmux::top(
        &xpr,
        &["--sweep", "mine", "-S", "loc.*", "--interval", "1s"],
    );
    let screen = tmux.wait_for("the sweep's two tasks running", |s| {
        counts_of(s, "local").is_some_and(|c| c["running"] == 2 && c["total"] == 2)
    });
    assert!(!screen.contains("other"), "{screen}");
    tmux.keys(&["Escape"]);
    assert_eq!(tmux.wait_for_exit().0, 0);
}

#[test]
fn top_told_to_stop_by_sigterm_gives_the_terminal_back() {
    let xpr = Xpr::new();
    let tmux = Tmux::top(&xpr, &["--interval", "1s"]);
    tmux.wait_for("the view", |s| s.contains("local"));
    // The pane runs the wrapper shell; `xpr top` is its child.
    let shell = tmux.run(&["list-panes", "-t", "top", "-F", "#{pane_pid}"]);
    let out = Command::new("pkill")
        .args(["-TERM", "-P", shell.trim(), "-x", "xpr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "pkill: {}", stderr(&out));
    let (status, screen) = tmux.wait_for_exit();
    assert_eq!(status, 0, "{screen}");
    // Back on the normal screen: the wrapper's lines show, the view's do not.
    assert!(
        !screen.contains("RUNNING") && !screen.contains("running"),
        "{screen}"
    );
}

#[test]
fn top_with_a_log_on_its_terminal_refuses_and_says_where_to_send_it() {
    let xpr = Xpr::new();
    let tmux = Tmux::top(&xpr, &["-v"]);
    let (status, screen) = tmux.wait_for_exit();
    assert_eq!(status, 2, "{screen}");
    assert!(screen.contains("would write its log over"), "{screen}");
    assert!(screen.contains("2>top.log"), "{screen}");
}

#[test]
fn top_without_a_terminal_refuses_and_points_to_ls_and_status() {
    let xpr = Xpr::new();
    let out = xpr.run(&["top"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("terminal"), "{text}");
    assert!(
        text.contains("`xpr ls`") && text.contains("`xpr status`"),
        "{text}"
    );
    let out = xpr.run(&["top", "--interval", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--interval"), "{}", stderr(&out));
}

/// The counts `xpr top` reads every refresh: one row per system, status and end state, with
/// the scope's sweep and system regexps applied, and the same counts when name regexps force
/// counting task by task.
#[test]
fn the_jobs_db_counts_tasks_per_system_status_and_end_state() {
    use xpr::db::{Db, EndState, NewTask, StatusCount, TaskFilter, TaskStatus, TaskUpdate};
    use xpr::ids::{SystemName, TaskId};

    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let add = |db: &mut Db, id: &str, system: &str, sweep: Option<&str>| {
        db.create(&NewTask {
            id: TaskId::new(id),
            name: id.to_owned(),
            system: SystemName::new(system),
            identity: id.to_owned(),
            spec: "{}".to_owned(),
            remote_dir: None,
            local_dir: None,
            sweep: sweep.map(str::to_owned),
        })
        .unwrap();
    };
    let end = |db: &mut Db, id: &str, to: TaskStatus, end_state: EndState| {
        let update = TaskUpdate {
            end_state: Some(end_state),
            ..TaskUpdate::default()
        };
        db.transition(&TaskId::new(id), &[TaskStatus::Created], to, &update)
            .unwrap();
    };
    add(&mut db, "a1", "alpha", Some("sw"));
    add(&mut db, "a2", "alpha", Some("sw"));
    add(&mut db, "a3", "alpha", None);
    add(&mut db, "b1", "beta", Some("sw"));
    add(&mut db, "b2", "beta", Some("sw"));
    end(&mut db, "a2", TaskStatus::Failed, EndState::Cancelled);
    end(&mut db, "b1", TaskStatus::Failed, EndState::Failed);
    end(&mut db, "b2", TaskStatus::Failed, EndState::Cancelled);

    let count = |system: &str, status, end_state, count| StatusCount {
        system: SystemName::new(system),
        status,
        end_state,
        count,
    };
    let all = db.status_counts(&TaskFilter::default()).unwrap();
    assert_eq!(
        all,
        [
            count("alpha", TaskStatus::Created, None, 2),
            count("alpha", TaskStatus::Failed, Some(EndState::Cancelled), 1),
            count("beta", TaskStatus::Failed, Some(EndState::Failed), 1),
            count("beta", TaskStatus::Failed, Some(EndState::Cancelled), 1),
        ]
    );

    let mut scope = TaskFilter::from_patterns(&[], &[], Vec::new(), &["al.*".into()]).unwrap();
    scope.sweep = Some("sw".into());
    assert_eq!(
        db.status_counts(&scope).unwrap(),
        [
            count("alpha", TaskStatus::Created, None, 1),
            count("alpha", TaskStatus::Failed, Some(EndState::Cancelled), 1),
        ]
    );

    // Name regexps cannot apply to a group: counted task by task, the same shape.
    let by_name =
        TaskFilter::from_patterns(&[], &["a.*".into()], vec![TaskStatus::Created], &[]).unwrap();
    assert_eq!(
        db.status_counts(&by_name).unwrap(),
        [count("alpha", TaskStatus::Created, None, 2)]
    );
}
