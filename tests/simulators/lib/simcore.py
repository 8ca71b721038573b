"""The shared core of xpr's PBS and LSF SIMULATORS (test doubles, not PBS or LSF).

What lives here: the spool (one directory of JSON job records, guarded by one lock file), the
batch directive reader, and the job runner: one detached process per job that waits while the
job is queued or held, runs the script, enforces the wall time, carries out kill / suspend
requests, and records how the job ended. The command front ends (`pbs.py`, `lsf.py`) only read
and edit job records and print them the way the real commands do.

Job record (spool/jobs/N.json; an array's element i is spool/jobs/N.i.json, a job record of its
own with `key` "N.i", `index` i and `parent` N, next to the array's own record N.json, which has
`array` and no runner), written only under the spool lock and by atomic rename:
    state        queued | held | running | finished
    kill         set by a cancel command: the runner signals the job (cancel_signals)
    kill_for     why `kill` was set when it is not a cancel: "preempt" (an admin command)
    suspend      set/cleared by LSF bstop/bresume or a simulated preemption of a running job;
                 the runner SIGSTOPs/SIGCONTs
    node_down    {"at": T, "detect": S}, set by a SIMULATOR admin command (`pbs-simctl`,
                 `lsf-simctl`; no such thing in PBS or LSF): the running job's node went down at
                 time T and stays down. The runner kills the job's processes at once (they die
                 with the node: no signal sequence, no grace), keeps the record running for S
                 seconds (the real server has not given up on the node yet: PBS still shows R,
                 LSF UNKWN), then ends it with killed_for "node_fail" and no result.
    result       {"code": N} or {"signal": N} once the script ended; absent if it never ran
    killed_for   "cancel" | "walltime" | "preempt" | "node_fail" | None: why the simulator
                 ended the job
Everything else (name, argv, paths, env, limits) is fixed at submission.

The runner also stops when the spool directory disappears (a test removing its temp spool):
it kills the job's process group and exits, so cleaning up a test is removing its spool.
"""

import fcntl
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

POLL = 0.05  # seconds between the runner's looks at its record
GRACE = float(os.environ.get("XPR_SIM_KILL_DELAY", "2"))  # real PBS/LSF wait 10 s


class SimError(Exception):
    """A user-facing error: the front end prints it to stderr and exits with `code`."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def spool_dir(kind):
    """$XPR_SIM_SPOOL, else ~/.xpr-sim/<kind>; created on first use, marked with its kind."""
    path = os.environ.get("XPR_SIM_SPOOL") or os.path.expanduser(f"~/.xpr-sim/{kind}")
    os.makedirs(os.path.join(path, "jobs"), exist_ok=True)
    marker = os.path.join(path, "kind")
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(kind + "\n")
    with open(marker) as f:
        found = f.read().strip()
    if found != kind:
        raise SimError(f"simulator spool {path} belongs to the {found} simulator, not {kind}")
    return path


class Spool:
    """One simulated server's state: a lock file, a job counter and one JSON file per job."""

    def __init__(self, path):
        self.path = path
        self._lock_fd = None

    def __enter__(self):
        self._lock_fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self._lock_fd)
        self._lock_fd = None

    def _job_file(self, key):
        return os.path.join(self.path, "jobs", f"{key}.json")

    def next_seq(self):
        """The next job number (call under the lock)."""
        counter = os.path.join(self.path, "next_id")
        try:
            with open(counter) as f:
                seq = int(f.read().strip() or "1")
        except FileNotFoundError:
            seq = 1
        _write_atomic(counter, f"{seq + 1}\n")
        return seq

    def load(self, key):
        """A job record by its key (N, or N.i for element i of array N), or None when there is
        no such job (or the spool is gone)."""
        try:
            with open(self._job_file(key)) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def save(self, job):
        _write_atomic(self._job_file(job.get("key", job["seq"])), json.dumps(job, indent=1))

    def all_jobs(self):
        """Every job and array (not the arrays' elements), oldest first."""
        names = os.listdir(os.path.join(self.path, "jobs"))
        seqs = sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())
        return [j for j in (self.load(s) for s in seqs) if j is not None]

    def elements(self, array):
        """The element records of an array record, in index order."""
        return [e for e in (self.load(f"{array['seq']}.{i}") for i in array["array"]["indices"])
                if e is not None]

    def update(self, key, change):
        """Applies change(job) to a record under the lock; returns the record (None if absent)."""
        with self:
            job = self.load(key)
            if job is not None:
                change(job)
                self.save(job)
            return job


def _write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_directives(script_text, prefix):
    """The argument words of the `PREFIX ...` lines at the top of a script. Like PBS and LSF,
    reading stops at the first line that is neither blank nor a comment."""
    words = []
    for line in script_text.splitlines():
        stripped = line.strip()
        if stripped.startswith(prefix):
            rest = stripped[len(prefix):]
            if rest[:1] in (" ", "\t"):
                # A `#` after the options starts a comment (`#PBS -q debug  # fast queue`).
                words.extend(shlex.split(rest, comments=True))
            continue
        if stripped == "" or stripped.startswith("#"):
            continue
        break
    return words


def parse_options(words, with_value, flags, command, repeated=()):
    """Parses getopt-style words into {option: value or True}; the rest are operands.
    `with_value` and `flags` hold option names without the dash (LSF's are several letters);
    the options in `repeated` may come more than once and have a list of values."""
    opts, operands, i = {}, [], 0

    def put(name, value):
        if name in repeated:
            opts.setdefault(name, []).append(value)
        else:
            opts[name] = value

    while i < len(words):
        word = words[i]
        if word == "--":
            operands.extend(words[i + 1:])
            break
        if not word.startswith("-") or word == "-":
            operands.append(word)
            i += 1
            continue
        name = word[1:]
        if name in flags:
            opts[name] = True
        elif name in with_value:
            if i + 1 >= len(words):
                raise SimError(f"{command}: option -{name} needs a value", 2)
            put(name, words[i + 1])
            i += 1
        elif name[:1] in with_value and len(name) > 1:
            put(name[:1], name[1:])  # `-Nname`, as getopt allows
        else:
            raise SimError(f"{command}: invalid option -- '{name}' (not supported by the simulator)", 2)
        i += 1
    return opts, operands


def hms(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def mem_total_kb():
    """This host's memory in kB (`MemTotal` of /proc/meminfo; 1 GiB where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 1 << 20


def hostname():
    return socket.gethostname().split(".")[0]


def parse_index_list(text, command, minimum):
    """`START[-END[:STEP]][,...]` -> the sorted indices, each at least `minimum` (LSF's and
    Torque's array index lists; PBS Pro's `-J` is one such range)."""
    indices = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if not m:
            raise SimError(f"{command}: illegal array index list {text}", 2)
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) is not None else start
        step = int(m.group(3) or 1)
        if start < minimum or end < start or step < 1:
            raise SimError(f"{command}: illegal array index list {text}", 2)
        indices.update(range(start, end + 1, step))
    return sorted(indices)


def start_runner(spool, key):
    """Starts the job's runner detached: own session, no inherited stdio, so the submitting
    command (and an SSH session around it) returns at once. Its pid goes into the record
    (`runner_pid`) so that a test can wait for it to be gone. `key` is the record's key (N, or
    N.i for an array's element)."""
    runner = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "run", spool.path, str(key)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    spool.update(key, lambda j: j.update(runner_pid=runner.pid))


# ---------------------------------------------------------------------------------------------
# The runner (one process per job)


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _open_output(path, append):
    if path is None:
        return subprocess.DEVNULL
    return open(path, "ab" if append else "wb")


def run(spool_path, key):
    """Runs the job whose record has key `key` (N, or N.i for an array's element)."""
    spool = Spool(spool_path)
    start_delay = float(os.environ.get("XPR_SIM_START_DELAY", "0.1"))
    # Wait while queued or held; a job deleted meanwhile is already finished.
    ready_at = time.monotonic() + start_delay
    while True:
        if not os.path.isdir(spool_path):
            return
        job = spool.load(key)
        if job is None or job["state"] == "finished":
            return
        if job["state"] == "queued" and time.monotonic() >= ready_at:
            with spool:
                job = spool.load(key)
                if job is not None and job["state"] == "queued":
                    job["state"] = "running"
                    job["start_time"] = time.time()
                    job["exec_host"] = hostname()
                    spool.save(job)
                    break
        time.sleep(POLL)

    stdout = _open_output(job["stdout_path"], job.get("append_output", True))
    if job["stderr_path"] is None or job["stderr_path"] == job["stdout_path"]:
        stderr = subprocess.STDOUT if job["stdout_path"] else subprocess.DEVNULL
    else:
        stderr = _open_output(job["stderr_path"], job.get("append_output", True))
    try:
        proc = subprocess.Popen(
            job["argv"][1:],
            executable=job["argv"][0],
            cwd=job["cwd"],
            env=job["env"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    except OSError as e:
        # The job could not start (bad shell, missing directory): it fails like a script
        # exiting 1, with the reason in its stderr file when there is one.
        if job["stderr_path"]:
            with open(job["stderr_path"], "a") as f:
                f.write(f"simulator: cannot start job: {e}\n")
        spool.update(key, lambda j: j.update(state="finished", end_time=time.time(),
                                             result={"code": 1}))
        return
    spool.update(key, lambda j: j.update(pid=proc.pid))

    killing = None  # (signals still to send, when the next one is due)
    killed_for = None
    suspended = False
    while True:
        try:
            returncode = proc.wait(timeout=POLL)
            break
        except subprocess.TimeoutExpired:
            pass
        if not os.path.isdir(spool_path):
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        job = spool.load(key) or job
        if job.get("node_down"):
            _end_on_node_down(spool, key, proc, job["node_down"])
            return
        if job.get("suspend") != suspended:
            suspended = bool(job.get("suspend"))
            _signal_group(proc.pid, signal.SIGSTOP if suspended else signal.SIGCONT)
        if killing is None:
            elapsed = time.time() - job["start_time"]
            if job.get("kill"):
                killed_for, signals = job.get("kill_for", "cancel"), job["cancel_signals"]
            elif job.get("walltime") is not None and elapsed >= job["walltime"]:
                killed_for, signals = "walltime", job["limit_signals"]
                note = job.get("limit_note")
                if note and job["stderr_path"]:
                    with open(job["stderr_path"], "a") as f:
                        f.write(note.format(used=int(elapsed), limit=job["walltime"]) + "\n")
            else:
                continue
            if suspended:
                _signal_group(proc.pid, signal.SIGCONT)
            killing = (list(signals), time.monotonic())
        pending, due = killing
        if pending and time.monotonic() >= due:
            _signal_group(proc.pid, pending.pop(0))
            killing = (pending, time.monotonic() + GRACE)

    # Like a MoM / sbatchd ending a job: nothing of its session survives it.
    _signal_group(proc.pid, signal.SIGKILL)
    result = {"code": returncode} if returncode >= 0 else {"signal": -returncode}
    spool.update(key, lambda j: j.update(state="finished", end_time=time.time(), result=result,
                                         killed_for=killed_for, suspend=False))


def _end_on_node_down(spool, key, proc, down):
    """The job's node went down (`node_down` in the module docs): its processes die with it,
    and the server ends the job `down["detect"]` seconds after the node went."""
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    while time.time() < down["at"] + down["detect"]:
        if not os.path.isdir(spool.path):
            return
        time.sleep(POLL)
    spool.update(key, lambda j: j.update(state="finished", end_time=time.time(),
                                         killed_for="node_fail", suspend=False))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: simcore.py run SPOOL KEY (started by the simulators' submit commands)")
