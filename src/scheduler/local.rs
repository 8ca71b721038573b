//! The `local` scheduler: no batch system, a core-limited FIFO queue on one host.
//!
//! Jobs run detached in the background, survive the xpr process (and the SSH session that
//! started them), and never use more cores together than the host offers. Like every adapter
//! here, this module is pure: it builds [`CommandSpec`]s and parses their replies. The queue
//! itself is [`PROGRAM`], a small POSIX `sh` program (needing only coreutils and util-linux
//! `flock`/`setsid`) that every command carries as one quoted argument, so the same commands
//! work on this machine and, through a transport, on any plain host over SSH:
//!
//! ```text
//! /bin/sh -c 'XPR_LOCALQ_PROGRAM=$1; shift; eval "$XPR_LOCALQ_PROGRAM"' xpr-localq <PROGRAM> <verb> <args>...
//! ```
//!
//! | verb | args | prints |
//! |---|---|---|
//! | `submit` | job dir, script file name | the new job id |
//! | `status`, `accounting` | job ids | one line per known job |
//! | `find` | job names | one line per job with one of those names |
//! | `cancel`, `hold`, `release` | job ids | nothing; exit 1 if some id could not be acted on |
//!
//! A job line is `id|name|state|exit_code|reason`, state one of `queued`, `held`, `running`,
//! `succeeded`, `failed`, `timeout`, `cancelled`; exit code and reason may be empty.
//!
//! # The spool
//!
//! `${XPR_LOCAL_QUEUE_DIR:-$HOME/.xpr/local-queue}` (mode 700) holds `lock` (every change is
//! made under `flock` on it), `next_id` (a counter: ids are never reused), `active/<id>` (empty
//! files naming the queued, held and running jobs) and `jobs/<id>/` with one small file per
//! field: `dir`, `script`, `name`, `cores`, `time` (seconds, 0 = no limit), `out`, `err`,
//! `status` (`state|exit_code|reason`), `runner` (`pid boot_id`), `pgid`, and `submitted`,
//! `started`, `ended` (epoch seconds). Every file is written to a temporary name and renamed,
//! so a reader never sees half a file. Finished jobs are forgotten after
//! `XPR_LOCAL_KEEP_DAYS` (default 30) days.
//!
//! # What a job asks for
//!
//! `submit` reads `#XPR-LOCAL` lines at the top of the script (comment lines may be mixed in;
//! the first other line ends the header, as with `#SBATCH`): `--job-name=` (default `job`),
//! `--cores=` (default 1), `--time=` (`[D-]H:MM:SS` or seconds; none = no limit),
//! `--output=` / `--error=` (default `job.<name>.stdout` / `.stderr`, relative to the job
//! dir). The [`LocalScheduler::default_header`] writes all five from the templates. A job
//! asking for more cores than the host has is refused at once.
//!
//! # No daemon
//!
//! There is no long-lived dispatcher to crash or to start. Under the lock, one idempotent
//! `dispatch` step starts queued jobs in id order (strict FIFO: the first job that does not
//! fit waits, and the ones behind it too, so a big job is never starved by small ones) while
//! the cores of running jobs stay within the capacity: `XPR_LOCAL_CORES` if set (an explicit
//! override, which may oversubscribe), else `nproc` (with `OMP_*` ignored). Every event that
//! can free or need cores runs it: `submit`, `release`, `cancel`, the end of every job, and
//! `status`/`accounting`/`find` (which also heals the queue after a crash).
//!
//! Each started job gets a runner, a copy of the program started with `setsid` in its own
//! session, stdio detached, that runs the script through its `#!` interpreter as
//! `setsid timeout -k 10 <seconds> <interpreter> <script>` in the job dir (`timeout 0` = no
//! limit) with `XPR_LOCAL_JOB_ID` set, waits for it and records the final state: exit 0 ->
//! `succeeded`; 124/137 after the time limit -> `timeout`; else `failed` with the code. A
//! runner found dead (`kill -0` fails, or the host rebooted since: the boot id differs) makes
//! its job `failed` with a reason, and the job's process group is killed so its cores are free
//! for real. `cancel` records `cancelled` first, then sends SIGTERM to the job's process group
//! and SIGKILL 10 s later if it still runs (like Slurm's `KillWait`).

use std::ffi::OsString;
use std::sync::OnceLock;

use crate::command::{CommandOutput, CommandSpec};
use crate::ids::SchedulerJobId;
use crate::scheduler::{JobState, JobStatus, ParseError, Scheduler, SchedulerKind};

/// The queue program, as kept here with its comments. Commands carry [`wire_program`]: the
/// same text without comment lines and indentation.
pub const PROGRAM: &str = r#"
# xpr-localq: a core-limited FIFO job queue for one host (see xpr's src/scheduler/local.rs).
set -u
ME=xpr-localq
Q=${XPR_LOCAL_QUEUE_DIR:-$HOME/.xpr/local-queue}
NL='
'
BOOT=none
if [ -r /proc/sys/kernel/random/boot_id ]; then
    IFS= read -r BOOT < /proc/sys/kernel/random/boot_id || BOOT=none
fi

die() { printf '%s: %s\n' "$ME" "$*" >&2; exit 2; }
warn() { printf '%s: %s\n' "$ME" "$*" >&2; }
is_uint() { case $1 in ''|*[!0-9]*) return 1;; esac; return 0; }
# dec N: N without leading zeros (sh arithmetic reads 010 as octal)
dec() { _d=${1#"${1%%[!0]*}"}; printf '%s' "${_d:-0}"; }
# rd VAR FILE: first line of FILE into VAR ("" if absent)
rd() { eval "$1=''"; if [ -f "$2" ]; then IFS= read -r "$1" < "$2" || :; fi; }
# put FILE VALUE: write VALUE by rename, so readers never see half a file
put() { printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1" || die "cannot write $1"; }
now() { date +%s; }

lock() {
    if [ ! -d "$Q/active" ]; then
        if [ ! -d "$Q" ]; then mkdir -p "$Q" && chmod 700 "$Q" || die "cannot create the queue dir $Q"; fi
        mkdir -p "$Q/jobs" "$Q/active" || die "cannot create $Q/jobs and $Q/active"
    fi
    exec 9>>"$Q/lock" || die "cannot open $Q/lock"
    flock -w 120 9 || die "cannot lock $Q/lock within 120 s"
}
unlock() { exec 9>&-; }

capacity() {
    if [ -n "${XPR_LOCAL_CORES:-}" ]; then
        is_uint "$XPR_LOCAL_CORES" || die "XPR_LOCAL_CORES=$XPR_LOCAL_CORES is not a whole number"
        CAP=$(dec "$XPR_LOCAL_CORES")
        [ "$CAP" -gt 0 ] || die "XPR_LOCAL_CORES must be at least 1"
    else
        # nproc honours OMP_NUM_THREADS/OMP_THREAD_LIMIT, which are about the jobs, not the host
        CAP=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null) || CAP=1
        is_uint "$CAP" || CAP=1
    fi
}

# set_status ID STATE EXIT_CODE REASON
set_status() {
    _r=$(printf '%s' "$4" | tr '|\n\r' '   ')
    put "$Q/jobs/$1/status" "$2|$3|$_r"
}
# finish ID STATE EXIT_CODE REASON: a final state; the job leaves the active set
finish() {
    set_status "$1" "$2" "$3" "$4"
    put "$Q/jobs/$1/ended" "$(now)"
    rm -f "$Q/active/$1"
}
# job_id TEXT: sets JID to the id TEXT names, or fails
job_id() {
    is_uint "$1" || return 1
    JID=$(dec "$1")
    [ -f "$Q/jobs/$JID/status" ]
}
# runner_alive ID: the job's runner runs (same boot, pid alive)
runner_alive() {
    rd _rp "$Q/jobs/$1/runner"
    [ -n "$_rp" ] || return 1
    [ "${_rp#* }" = "$BOOT" ] && kill -0 "${_rp%% *}" 2>/dev/null
}
# kill_group PGID SIGNAL: the job's process group, or the leader if the group is not formed yet
kill_group() { kill "-$2" "-$1" 2>/dev/null || kill "-$2" "$1" 2>/dev/null || :; }

# dispatch (lock held): reap dead runners, then start queued jobs in id order while they fit
dispatch() {
    capacity
    _used=0
    _queued=
    for _i in $(ls "$Q/active" | sort -n); do
        is_uint "$_i" || continue
        _st=; _ec=; _rs=
        IFS='|' read -r _st _ec _rs < "$Q/jobs/$_i/status" || :
        rd _c "$Q/jobs/$_i/cores"
        case $_st in
        running|cancelled)
            if runner_alive "$_i"; then
                _used=$((_used + _c))
            else
                rd _pg "$Q/jobs/$_i/pgid"
                rd _rp "$Q/jobs/$_i/runner"
                if [ -n "$_pg" ] && [ "${_rp#* }" = "$BOOT" ]; then kill_group "$_pg" KILL; fi
                if [ "$_st" = running ]; then
                    finish "$_i" failed "" "the job's runner died (host rebooted or runner killed)"
                else
                    finish "$_i" cancelled "$_ec" "$_rs"
                fi
            fi ;;
        queued) _queued="$_queued $_i" ;;
        held) ;;
        *) rm -f "$Q/active/$_i" ;;
        esac
    done
    for _i in $_queued; do
        rd _c "$Q/jobs/$_i/cores"
        if [ "$_c" -gt "$CAP" ]; then
            finish "$_i" failed "" "needs $_c cores, the host offers $CAP"
            continue
        fi
        [ $((_used + _c)) -le "$CAP" ] || break
        start_job "$_i"
        _used=$((_used + _c))
    done
}

# start_job ID (lock held): mark it running and start its runner, detached in its own session
start_job() {
    set_status "$1" running "" ""
    XPR_LOCALQ_PROGRAM=$XPR_LOCALQ_PROGRAM XPR_LOCAL_QUEUE_DIR=$Q \
        setsid /bin/sh -c 'eval "$XPR_LOCALQ_PROGRAM"' "$ME" run "$1" \
        </dev/null >>"$Q/jobs/$1/runner.log" 2>&1 9>&- &
    put "$Q/jobs/$1/runner" "$! $BOOT"
}

# to_seconds TIME: [D-]H:MM:SS, M:SS or S as seconds; "" or none = 0 (no limit)
to_seconds() {
    _t=$1; _days=0; _s=0
    case $_t in ''|none|_none_) printf 0; return 0 ;; *[!0-9:-]*) return 1 ;; esac
    case $_t in *-*) _days=${_t%%-*}; _t=${_t#*-}; is_uint "$_days" || return 1 ;; esac
    _ifs=$IFS; IFS=:; set -- $_t; IFS=$_ifs
    [ $# -ge 1 ] && [ $# -le 3 ] || return 1
    for _p; do is_uint "$_p" || return 1; _s=$((_s * 60 + $(dec "$_p"))); done
    printf '%s' $((_s + $(dec "$_days") * 86400))
}

q_submit() {
    [ $# -eq 2 ] || die "usage: submit JOB_DIR SCRIPT"
    cd -- "$1" 2>/dev/null || die "cannot enter the job directory $1"
    dir=$(pwd -P) || die "cannot resolve the job directory $1"
    script=$2
    case $dir$script in *"$NL"*) die "a job directory or script name with a line break is not supported" ;; esac
    [ -f "$script" ] && [ -r "$script" ] || die "no readable script $script in $dir"
    name=; cores=1; time=; out=; err=
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        '#XPR-LOCAL '*) opt=${line#'#XPR-LOCAL '} ;;
        '#'*|'') continue ;;
        *) break ;;
        esac
        case $opt in
        --job-name=*) name=${opt#--job-name=} ;;
        --cores=*) cores=${opt#--cores=} ;;
        --time=*) time=${opt#--time=} ;;
        --output=*) out=${opt#--output=} ;;
        --error=*) err=${opt#--error=} ;;
        *) die "unknown directive '#XPR-LOCAL $opt' in $script (known: --job-name= --cores= --time= --output= --error=)" ;;
        esac
    done < "$script"
    [ -n "$name" ] || name=job
    case $name in
    [-.]*|*[!A-Za-z0-9._+=@%,:-]*) die "invalid job name '$name': letters, digits and ._-+=@%,: only, not first - or ." ;;
    esac
    [ ${#name} -le 200 ] || die "job name longer than 200 characters"
    is_uint "$cores" || die "invalid --cores=$cores: a whole number of cores"
    cores=$(dec "$cores")
    [ "$cores" -ge 1 ] || die "--cores must be at least 1"
    secs=$(to_seconds "$time") || die "invalid --time=$time: use H:MM:SS, D-H:MM:SS or seconds"
    capacity
    [ "$cores" -le "$CAP" ] || die "the job needs $cores cores but this host offers $CAP (nproc, or XPR_LOCAL_CORES)"
    [ -n "$out" ] || out=job.$name.stdout
    [ -n "$err" ] || err=job.$name.stderr

    lock
    rd n "$Q/next_id"
    is_uint "${n:-0}" || die "corrupt counter $Q/next_id"
    id=$(( $(dec "${n:-0}") + 1 ))
    while [ -e "$Q/jobs/$id" ]; do id=$((id + 1)); done
    put "$Q/next_id" "$id"
    T=$Q/jobs/.new.$id
    rm -rf "$T" && mkdir "$T" || die "cannot create $T"
    put "$T/dir" "$dir"
    put "$T/script" "$script"
    put "$T/name" "$name"
    put "$T/cores" "$cores"
    put "$T/time" "$secs"
    put "$T/out" "$out"
    put "$T/err" "$err"
    put "$T/submitted" "$(now)"
    put "$T/status" "queued||"
    mv "$T" "$Q/jobs/$id" || die "cannot create $Q/jobs/$id"
    : > "$Q/active/$id"
    dispatch
    purge
    unlock
    printf '%s\n' "$id"
}

# purge (lock held): forget jobs that ended more than XPR_LOCAL_KEEP_DAYS (default 30) days ago
purge() {
    _keep=${XPR_LOCAL_KEEP_DAYS:-30}
    is_uint "$_keep" || return 0
    find "$Q/jobs" -mindepth 2 -maxdepth 2 -name ended -mtime "+$_keep" 2>/dev/null |
    while IFS= read -r _f; do
        _j=${_f%/ended}
        [ -e "$Q/active/${_j##*/}" ] || rm -rf -- "$_j"
    done
}

print_job() {
    rd _nm "$Q/jobs/$1/name"
    _st=; _ec=; _rs=
    IFS='|' read -r _st _ec _rs < "$Q/jobs/$1/status" || :
    printf '%s|%s|%s|%s|%s\n' "$1" "$_nm" "$_st" "$_ec" "$_rs"
}

q_status() {
    lock; dispatch; unlock
    for a; do
        if job_id "$a"; then print_job "$JID"; fi
    done
}

q_find() {
    lock; dispatch; unlock
    for j in "$Q"/jobs/*; do
        i=${j##*/}
        is_uint "$i" || continue
        rd nm "$j/name"
        for want; do
            if [ "$nm" = "$want" ]; then print_job "$i"; break; fi
        done
    done
}

q_cancel() {
    lock
    rc=0
    for a; do
        if ! job_id "$a"; then warn "no job $a"; rc=1; continue; fi
        st=; ec=; rs=
        IFS='|' read -r st ec rs < "$Q/jobs/$JID/status" || :
        case $st in
        queued|held) finish "$JID" cancelled "" "cancelled before it started" ;;
        running)
            set_status "$JID" cancelled "" "cancelled while running"
            rd pg "$Q/jobs/$JID/pgid"
            if [ -n "$pg" ]; then
                kill_group "$pg" TERM
                # SIGKILL for a job still running 10 s later (the runner removes pgid at its end)
                XPR_J=$Q/jobs/$JID XPR_PG=$pg setsid /bin/sh -c '
                    i=0
                    while [ $i -lt 10 ] && [ -f "$XPR_J/pgid" ]; do sleep 1; i=$((i + 1)); done
                    if [ -f "$XPR_J/pgid" ]; then kill -KILL "-$XPR_PG" 2>/dev/null; fi' \
                    </dev/null >/dev/null 2>&1 9>&- &
            fi ;;
        esac
    done
    dispatch
    unlock
    exit $rc
}

q_hold() {
    lock
    rc=0
    for a; do
        if ! job_id "$a"; then warn "no job $a"; rc=1; continue; fi
        st=; ec=; rs=
        IFS='|' read -r st ec rs < "$Q/jobs/$JID/status" || :
        case $st in
        queued) set_status "$JID" held "" "held by the user" ;;
        held) ;;
        *) warn "job $JID is $st; only a queued job can be held"; rc=1 ;;
        esac
    done
    unlock
    exit $rc
}

q_release() {
    lock
    rc=0
    for a; do
        if ! job_id "$a"; then warn "no job $a"; rc=1; continue; fi
        st=; ec=; rs=
        IFS='|' read -r st ec rs < "$Q/jobs/$JID/status" || :
        case $st in
        held) set_status "$JID" queued "" "" ;;
        queued) ;;
        *) warn "job $JID is $st; only a held job can be released"; rc=1 ;;
        esac
    done
    dispatch
    unlock
    exit $rc
}

# q_run ID: the runner of one job (started by start_job, in its own session)
q_run() {
    job_id "${1:-}" || die "no job ${1:-}"
    id=$JID
    J=$Q/jobs/$id
    lock
    put "$J/runner" "$$ $BOOT"
    st=; ec=; rs=
    IFS='|' read -r st ec rs < "$J/status" || :
    if [ "$st" != running ]; then
        # cancelled between dispatch and now
        finish "$id" "$st" "$ec" "$rs"
        dispatch; unlock; exit 0
    fi
    rd dir "$J/dir"; rd script "$J/script"; rd tl "$J/time"; rd out "$J/out"; rd err "$J/err"
    if ! cd -- "$dir" 2>/dev/null; then
        finish "$id" failed "" "cannot enter the job directory"
        dispatch; unlock; exit 0
    fi
    interp=/bin/sh
    first=
    IFS= read -r first < "$script" || :
    case $first in '#!'*) interp=${first#'#!'} ;; esac
    # a script named like an option must not be read as one by its interpreter
    case $script in /*) ;; *) script=./$script ;; esac
    start=$(now)
    put "$J/started" "$start"
    set -f
    XPR_LOCAL_JOB_ID=$id setsid env -u XPR_LOCALQ_PROGRAM timeout -k 10 "${tl:-0}" $interp "$script" \
        </dev/null >"$out" 2>"$err" 9>&- &
    pg=$!
    set +f
    put "$J/pgid" "$pg"
    unlock
    wait "$pg"
    rc=$?
    elapsed=$(( $(now) - start ))
    lock
    rm -f "$J/pgid"
    st=; ec=; rs=
    IFS='|' read -r st ec rs < "$J/status" || :
    if [ "$st" = cancelled ]; then
        finish "$id" cancelled "$rc" "$rs"
    elif [ "$rc" -eq 0 ]; then
        finish "$id" succeeded 0 ""
    elif [ "${tl:-0}" -gt 0 ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$elapsed" -ge "$tl" ]; then
        finish "$id" timeout "$rc" "exceeded its time limit of $tl s"
    else
        finish "$id" failed "$rc" ""
    fi
    dispatch
    unlock
}

[ $# -ge 1 ] || die "usage: $ME submit|status|accounting|find|cancel|hold|release|run ARGS..."
verb=$1
shift
case $verb in
submit) q_submit "$@" ;;
status|accounting) q_status "$@" ;;
find) q_find "$@" ;;
cancel) q_cancel "$@" ;;
hold) q_hold "$@" ;;
release) q_release "$@" ;;
run) q_run "$@" ;;
*) die "unknown verb $verb" ;;
esac
"#;

/// The entry point every command runs with `/bin/sh -c`: it takes the program from `$1`
/// (keeping it for the runners it starts) and runs it on the remaining arguments.
pub const ENTRY: &str = r#"XPR_LOCALQ_PROGRAM=$1; shift; eval "$XPR_LOCALQ_PROGRAM""#;

/// The name the program runs under (`$0`, and the prefix of its messages).
pub const PROGRAM_NAME: &str = "xpr-localq";

/// [`PROGRAM`] as commands carry it: without comment lines, blank lines and indentation,
/// which keeps commands (and the error messages showing them) shorter. This is safe because
/// the program has no here-documents and its only multi-line strings (`NL` and the cancel
/// helper's `sh -c` text) hold no comment or blank lines and do not depend on indentation.
pub fn wire_program() -> &'static str {
    static WIRE: OnceLock<String> = OnceLock::new();
    WIRE.get_or_init(|| {
        PROGRAM
            .lines()
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .fold(String::new(), |mut acc, l| {
                acc.push_str(l);
                acc.push('\n');
                acc
            })
    })
}

/// The `local` adapter: commands for the queue program in [`PROGRAM`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalScheduler;

impl LocalScheduler {
    /// The command running the queue program's `verb` on `args`.
    pub fn command<I, S>(verb: &str, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        CommandSpec::new("/bin/sh")
            .arg("-c")
            .arg(ENTRY)
            .arg(PROGRAM_NAME)
            .arg(wire_program())
            .arg(verb)
            .args(args)
    }
}

fn parse_error(
    what: &'static str,
    message: impl Into<String>,
    snippet: Option<&str>,
) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Local,
        what,
        message: message.into(),
        snippet: snippet.map(str::to_owned),
    }
}

/// Fails when the command did not exit 0, with its stderr as the message.
fn check_exit(what: &'static str, output: &CommandOutput) -> Result<(), ParseError> {
    if output.succeeded() {
        return Ok(());
    }
    let code = output
        .code
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    let stderr = output.stderr_text();
    let stderr = stderr.trim();
    Err(parse_error(
        what,
        format!("{PROGRAM_NAME} failed with {code}"),
        (!stderr.is_empty()).then_some(stderr),
    ))
}

/// True for a job id the queue program writes: decimal digits, no leading zero.
fn is_job_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
}

/// True for a job name the queue program accepts (see `q_submit`).
fn is_job_name(text: &str) -> bool {
    text.len() <= 200
        && !text.starts_with(['-', '.'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+=@%,:-".contains(c))
}

/// Parses the `id|name|state|exit_code|reason` lines of `status`, `accounting` and `find`.
fn parse_job_lines(
    what: &'static str,
    output: &CommandOutput,
) -> Result<Vec<JobStatus>, ParseError> {
    check_exit(what, output)?;
    let text = output.stdout_text();
    let mut jobs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = |why: &str| parse_error(what, why, Some(line));
        let fields: Vec<&str> = line.split('|').collect();
        let [id, name, state, code, reason] = fields[..] else {
            return Err(bad(
                "expected 5 `|`-separated fields: id|name|state|exit_code|reason",
            ));
        };
        if !is_job_id(id) {
            return Err(bad("the job id is not a number"));
        }
        if !is_job_name(name) {
            return Err(bad("the job name holds characters the queue never writes"));
        }
        let exit_code = match code {
            "" => None,
            c => Some(
                c.parse::<i32>()
                    .map_err(|_| bad("the exit code is not a number"))?,
            ),
        };
        let state = match state {
            "queued" => JobState::Queued,
            "held" => JobState::Held,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed { exit_code },
            "timeout" => JobState::Timeout,
            "cancelled" => JobState::Cancelled,
            s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
                JobState::Unknown { raw: s.to_owned() }
            }
            _ => return Err(bad("the state is not a word")),
        };
        jobs.push(JobStatus {
            id: SchedulerJobId::new(id),
            name: (!name.is_empty()).then(|| name.to_owned()),
            state,
            raw_state: fields[2].to_owned(),
            exit_code,
            node: None,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
        });
    }
    Ok(jobs)
}

fn id_args(ids: &[SchedulerJobId]) -> impl Iterator<Item = &str> {
    ids.iter().map(SchedulerJobId::as_str)
}

impl Scheduler for LocalScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Local
    }

    fn default_header(&self) -> &'static [&'static str] {
        &[
            "#XPR-LOCAL --job-name={id}",
            "#XPR-LOCAL --cores={num_cores}",
            "#XPR-LOCAL --time={max_time}",
            "#XPR-LOCAL --output=job.{id}.stdout",
            "#XPR-LOCAL --error=job.{id}.stderr",
        ]
    }

    /// `xpr-localq submit <job_dir> <script>`: a relative `job_dir` is relative to where the
    /// transport starts the command (the home directory over SSH).
    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        Self::command("submit", [job_dir, script])
    }

    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        const WHAT: &str = "submit reply";
        check_exit(WHAT, output)?;
        let text = output.stdout_text();
        let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
        match last {
            Some(id) if is_job_id(id) => Ok(SchedulerJobId::new(id)),
            Some(other) => Err(parse_error(
                WHAT,
                "expected a job id (a number)",
                Some(other),
            )),
            None => Err(parse_error(WHAT, "empty reply, expected a job id", None)),
        }
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("status", id_args(ids))
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("status output", output)
    }

    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("accounting", id_args(ids))
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("accounting output", output)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        Self::command("find", names)
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_job_lines("find output", output)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("cancel", id_args(ids))
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("hold", id_args(ids))
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        Self::command("release", id_args(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_program_drops_comments_only() {
        let wire = wire_program();
        assert!(!wire.lines().any(|l| l.starts_with('#')));
        assert!(wire.contains("q_submit \"$@\""));
        assert!(wire.len() < PROGRAM.len());
    }

    #[test]
    fn status_lines_parse_into_states() {
        let out = CommandOutput::success(
            "1|a|succeeded|0|\n2|b|failed|3|\n3|c|timeout|124|exceeded its time limit of 1 s\n\
             4||queued||\n5|e|weird_state||\n",
        );
        let jobs = LocalScheduler.parse_status(&out).unwrap();
        assert_eq!(jobs.len(), 5);
        assert_eq!(jobs[1].state, JobState::Failed { exit_code: Some(3) });
        assert_eq!(jobs[2].state, JobState::Timeout);
        assert_eq!(jobs[3].name, None);
        assert_eq!(
            jobs[4].state,
            JobState::Unknown {
                raw: "weird_state".into()
            }
        );
    }

    #[test]
    fn hostile_status_lines_are_refused() {
        for line in [
            "x|a|running||",
            "1|a b|running||",
            "1|a|running",
            "1|a|failed|x|",
            "01|a|queued||",
        ] {
            let out = CommandOutput::success(format!("{line}\n"));
            assert!(
                LocalScheduler.parse_status(&out).is_err(),
                "{line} accepted"
            );
        }
    }
}
