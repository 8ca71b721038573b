"""The LSF SIMULATOR's commands (a test double of IBM Spectrum LSF for xpr, not LSF): bsub,
bjobs, bkill, bstop, bresume, bparams (`-a` only). Usage: `lsf.py COMMAND ARGS...` (the bin/
wrappers do this).

What each prints follows LSF 10.1: `bsub < script` reads `#BSUB` lines from the script on its
standard input and replies `Job <N> is submitted to [default ]queue <Q>.`; `bjobs -json -o
"FIELDS"` prints `{"COMMAND":"bjobs","JOBS":n,"RECORDS":[...]}` with upper-case keys and
string values, an unknown id as a record with `ERROR`, a `-J` name matching nothing as
"Job <NAME> is not found" on stderr (exit 255). A job killed at its run limit (`-W`) is EXIT
with `TERM_RUNLIMIT` and exit code 140 (SIGUSR2, then SIGKILL); `bkill` gives `TERM_OWNER`
(SIGINT, SIGTERM, SIGKILL). See ../README.md for what is not simulated.

Job arrays, as LSF 10.1: `bsub -J "NAME[LIST]"` (LIST: `START[-END[:STEP]][,...]`, indices from
1 up to MAX_JOB_ARRAY_SIZE) makes job N with one element per index, each run as a job of its
own with `LSB_JOBINDEX` set and `%I` in -o/-e replaced by its index. `bjobs` lists elements, not
arrays: JOBID N, JOBINDEX i, JOB_NAME `NAME[i]`; `N[i]` names element i alone, `N` (and
`-J NAME`) all of them, in bjobs, bkill, bstop and bresume.

`lsf-simctl` is not an LSF command: it is the simulator's admin control, standing in for what an
administrator or the hardware does to an LSF cluster (a host failing, a preemption). See
`lsf_simctl`.
"""

import json
import os
import pwd
import re
import shlex
import sys
import time

import simcore
from simcore import SimError, Spool

DEFAULT_QUEUE = "normal"
# Seconds in one minute of `-W`: LSF's run limit has whole minutes, too long for tests.
MINUTE = float(os.environ.get("XPR_SIM_LSF_MINUTE", "60"))
FAILED = 255  # what LSF commands exit with when any job could not be handled
# lsb.params MAX_JOB_ARRAY_SIZE (LSF's default 1000): the highest index, so the most elements.
MAX_JOB_ARRAY_SIZE = int(os.environ.get("XPR_SIM_LSF_MAX_JOB_ARRAY_SIZE", "1000"))

BSUB_WITH_VALUE = {"J", "q", "W", "n", "o", "oo", "e", "eo", "cwd", "R", "M", "P", "G", "u",
                   "app", "sla", "E", "Ep", "We", "L"}
BSUB_FLAGS = {"H", "x", "B", "N"}
REASONS = {
    "walltime": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
    "cancel": "TERM_OWNER: job killed by owner",
    # Keywords and wording from IBM's "Termination reasons displayed by bacct, bhist, and
    # bjobs" (LSF 10.1), written as bjobs writes TERM_RUNLIMIT's ("job killed after ...").
    "preempt": "TERM_PREEMPT: job killed after preemption",
    "node_fail": "TERM_REMOVE_HUNG_JOB: job removed from LSF",
}
PEND_REASONS = {
    "queued": "New job is waiting for scheduling;",
    "held": "The job was suspended by the user while pending;",
}


def user():
    return pwd.getpwuid(os.getuid()).pw_name


def run_limit(text):
    """`-W [hour:]minute[/host]` -> seconds (scaled by XPR_SIM_LSF_MINUTE)."""
    m = re.fullmatch(r"(?:(\d+):)?(\d+)(?:/\S+)?", text)
    if not m:
        raise SimError(f"{text}: Bad RUNLIMIT specification. Job not submitted.", FAILED)
    minutes = int(m.group(1) or 0) * 60 + int(m.group(2))
    return minutes * MINUTE


def bsub(args):
    opts, command = simcore.parse_options(args, BSUB_WITH_VALUE, BSUB_FLAGS, "bsub", ("R",))
    if command:
        raise SimError("bsub: the simulator takes the job as a script on stdin (bsub < script)",
                       FAILED)
    text = sys.stdin.read()
    if not text.strip():
        raise SimError("bsub: no job script on standard input. Job not submitted.", FAILED)
    directives, _ = simcore.parse_options(simcore.read_directives(text, "#BSUB"),
                                          BSUB_WITH_VALUE, BSUB_FLAGS, "bsub", ("R",))
    opts = {**directives, **opts}  # the command line wins
    name = opts.get("J", "")
    indices = None
    if "[" in name:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)\[([^\]]+)\](?:%\d+)?", name)
        if not m:
            raise SimError(f"{name}: Bad job name. Job not submitted.", FAILED)
        name = m.group(1)
        try:
            indices = simcore.parse_index_list(m.group(2), "bsub", 1)
        except SimError:
            raise SimError(f"{opts['J']}: Bad job array index list. Job not submitted.", FAILED)
        if indices[-1] > MAX_JOB_ARRAY_SIZE:
            raise SimError(f"{opts['J']}: Job array index too large "
                           f"(MAX_JOB_ARRAY_SIZE = {MAX_JOB_ARRAY_SIZE}). Job not submitted.",
                           FAILED)
    walltime = run_limit(opts["W"]) if "W" in opts else None
    slots = int(opts.get("n", "1"))

    spool_path = simcore.spool_dir("lsf")
    spool = Spool(spool_path)
    with spool:
        seq = spool.next_seq()
    copy = os.path.join(spool_path, "jobs", f"{seq}.script")
    with open(copy, "w") as f:
        f.write(text)
    submit_dir = os.getcwd()
    cwd = os.path.join(submit_dir, os.path.expanduser(opts["cwd"])) if "cwd" in opts else submit_dir

    def output(key, index=0):
        path = opts.get(key + key[0]) or opts.get(key)  # -oo / -eo overwrite, -o / -e append
        if path is None:
            return None
        path = path.replace("%J", str(seq)).replace("%I", str(index))
        return os.path.join(cwd, os.path.expanduser(path))

    stdout_path, stderr_path = output("o"), output("e")
    # The script runs with its #! interpreter (LSF honours it), else /bin/sh.
    first = text.splitlines()[0] if text else ""
    interpreter = shlex.split(first[2:]) if first.startswith("#!") else ["/bin/sh"]
    # LSF copies the submission environment into the job and adds its own variables.
    env = dict(os.environ)
    host = simcore.hostname()
    queue = opts.get("q", DEFAULT_QUEUE)
    env.update(LSB_JOBID=str(seq), LSB_JOBNAME=name or "", LSB_QUEUE=queue, LS_SUBCWD=submit_dir,
               LSB_HOSTS=" ".join([host] * slots), LSB_MCPU_HOSTS=f"{host} {slots}",
               LSB_DJOB_NUMPROC=str(slots), LSB_JOBINDEX="0")
    now = time.time()
    job = {
        "seq": seq, "name": name or text.strip().splitlines()[-1][:60], "owner": user(),
        "queue": queue, "state": "held" if opts.get("H") else "queued", "submit_time": now,
        "walltime": walltime, "slots": slots, "argv": [interpreter[0]] + interpreter + [copy],
        "cwd": cwd, "submit_dir": submit_dir, "env": env, "stdout_path": stdout_path,
        "stderr_path": stderr_path, "append_output": "oo" not in opts and "eo" not in opts,
        "cancel_signals": [2, 15, 9], "limit_signals": [12, 9],
    }
    if indices is None:
        with spool:
            spool.save(job)
        simcore.start_runner(spool, seq)
    else:
        # The array's own record (no runner), then one job record per element.
        job["array"] = {"indices": indices}
        elements = []
        for index in indices:
            element = json.loads(json.dumps(job))
            del element["array"]
            element.update(key=f"{seq}.{index}", index=index, parent=seq,
                           name=f"{name}[{index}]", array_name=name,
                           stdout_path=output("o", index), stderr_path=output("e", index))
            element["env"].update(LSB_JOBINDEX=str(index), LSB_JOBNAME=f"{name}[{index}]")
            elements.append(element)
        with spool:
            spool.save(job)
            for element in elements:
                spool.save(element)
        for element in elements:
            simcore.start_runner(spool, element["key"])
    where = f"queue <{queue}>" if "q" in opts else f"default queue <{queue}>"
    print(f"Job <{seq}> is submitted to {where}.")
    return 0


def lsf_time(t):
    return time.strftime("%b %e %H:%M", time.localtime(t))


def stat(job):
    state = job["state"]
    if state == "queued":
        return "PEND"
    if state == "held":
        return "PSUSP"
    if state == "running":
        if job.get("node_down"):
            return "UNKWN"  # mbatchd lost contact with the sbatchd of the job's host
        return "USUSP" if job.get("suspend") else "RUN"
    result = job.get("result")
    return "DONE" if result == {"code": 0} and not job.get("killed_for") else "EXIT"


def field(job, name):
    """One `bjobs -o` field's value (empty when it has none)."""
    result = job.get("result") or {}
    host = job.get("exec_host")
    if name == "jobid":
        return str(job["seq"])  # an element's is its array's; JOBINDEX tells them apart
    if name == "jobindex":
        return str(job.get("index", 0))
    if name == "stat":
        return stat(job)
    if name == "exit_code":
        if "signal" in result:
            return str(128 + result["signal"])
        return str(result["code"]) if result.get("code") else ""
    if name == "exit_reason":
        return REASONS.get(job.get("killed_for"), "") if job["state"] == "finished" else ""
    if name == "exec_host":
        return "" if not host else host if job["slots"] == 1 else f"{job['slots']}*{host}"
    if name == "pend_reason":
        return PEND_REASONS.get(job["state"], "")
    if name == "finish_time":
        if job.get("end_time"):
            return lsf_time(job["end_time"])
        if job.get("start_time") and job["walltime"] is not None:
            return lsf_time(job["start_time"] + job["walltime"]) + " L"  # predicted: run limit
        return ""
    if name == "run_time":
        start = job.get("start_time")
        return f"{int((job.get('end_time') or time.time()) - start)} second(s)" if start else ""
    simple = {
        "job_name": job["name"], "user": job["owner"], "queue": job["queue"],
        "from_host": simcore.hostname(), "submit_time": lsf_time(job["submit_time"]),
        "start_time": lsf_time(job["start_time"]) if job.get("start_time") else "",
        "sub_cwd": job["submit_dir"], "exec_cwd": job["cwd"] if host else "",
        "slots": str(job["slots"]), "output_file": job["stdout_path"] or "",
        "error_file": job["stderr_path"] or "",
        # The simulator measures no memory: LSF prints an empty MAX_MEM until it has sampled.
        "max_mem": "",
    }
    if name not in simple:
        raise SimError(f"bjobs: field name <{name}> is not supported by the simulator", FAILED)
    return simple[name]


def bjobs(args):
    opts, ids = simcore.parse_options(args, {"o", "J", "u", "q"},
                                      {"a", "json", "noheader", "w", "d", "r", "p", "s"}, "bjobs")
    if not opts.get("json") or "o" not in opts:
        raise SimError("bjobs: the simulator prints only -json -o \"FIELDS\" output", FAILED)
    # `-o "jobid stat:8 delimiter='|'"`: widths and the delimiter mean nothing in JSON.
    fields = [w.split(":")[0].lower() for w in opts["o"].split() if not w.startswith("delimiter=")]
    spool = Spool(simcore.spool_dir("lsf"))
    records, code = [], 0
    if ids:
        for job_id in ids:
            jobs = find_jobs(spool, job_id)
            if not jobs:
                records.append({"JOBID": job_id, "ERROR": f"Job <{job_id}> is not found"})
                code = FAILED
            for job in jobs:
                records.append({f.upper(): field(job, f) for f in fields})
    else:
        for job in all_jobs(spool):
            if job["state"] == "finished" and not opts.get("a") and not opts.get("d"):
                continue
            # -J NAME: the job of that name, or every element of the array of that name.
            if "J" in opts and opts["J"] not in (job["name"], job.get("array_name")):
                continue
            if "q" in opts and job["queue"] != opts["q"]:
                continue
            records.append({f.upper(): field(job, f) for f in fields})
        if not records:
            what = f"Job <{opts['J']}> is not found" if "J" in opts else "No unfinished job found"
            print(what, file=sys.stderr)
            return FAILED
    document = {"COMMAND": "bjobs", "JOBS": len(records), "RECORDS": records}
    print(json.dumps(document, indent=2, separators=(",", ":")))
    return code


def find_jobs(spool, job_id):
    """The jobs an id names: `N` a job, or every element of array N; `N[i]` element i."""
    m = re.fullmatch(r"(\d+)(?:\[(\d+)\])?", job_id)
    job = spool.load(int(m.group(1))) if m else None
    if job is None:
        return []
    if m.group(2) is not None:
        element = spool.load(f"{m.group(1)}.{int(m.group(2))}") if "array" in job else None
        return [element] if element else []
    return spool.elements(job) if "array" in job else [job]


def all_jobs(spool):
    """Every job bjobs lists: plain jobs and arrays' elements (not the arrays), oldest first."""
    jobs = []
    for job in spool.all_jobs():
        jobs.extend(spool.elements(job) if "array" in job else [job])
    return jobs


def element_id(job):
    """`N`, or `N[i]` for an element: how LSF's replies name it."""
    return f"{job['seq']}[{job['index']}]" if "index" in job else str(job["seq"])


def change_jobs(ids, verb, action):
    """Runs action(job) -> error text or None on each job under the lock, replying like LSF."""
    if not ids:
        # Real bkill/bstop/bresume without ids act on the user's last job; never wanted here.
        raise SimError("the simulator needs job ids (LSF would act on your most recent job)", FAILED)
    spool = Spool(simcore.spool_dir("lsf"))
    code = 0
    for job_id in ids:
        with spool:
            jobs = find_jobs(spool, job_id)
            if not jobs:
                print(f"Job <{job_id}>: No matching job found", file=sys.stderr)
                code = FAILED
            for job in jobs:
                problem = action(job)
                if problem:
                    print(f"Job <{element_id(job)}>: {problem}", file=sys.stderr)
                    code = FAILED
                    continue
                spool.save(job)
                print(f"Job <{element_id(job)}> is being {verb}")
    return code


def bkill(args):
    _, ids = simcore.parse_options(args, {"s"}, {"r"}, "bkill")

    def kill(job):
        if job["state"] == "finished":
            return "Job has already finished"
        if job["state"] == "running":
            job["kill"] = True  # the runner sends SIGINT, SIGTERM, SIGKILL
        else:
            job.update(state="finished", end_time=time.time(), killed_for="cancel")
        return None

    return change_jobs(ids, "terminated", kill)


def bstop(args):
    _, ids = simcore.parse_options(args, set(), set(), "bstop")

    def stop(job):
        if job["state"] == "finished":
            return "Job has already finished"
        if job["state"] == "held" or job.get("suspend"):
            return "Job has already been suspended"
        if job["state"] == "running":
            job["suspend"] = True  # the runner sends SIGSTOP: USUSP
        else:
            job["state"] = "held"  # PSUSP
        return None

    return change_jobs(ids, "stopped", stop)


def bresume(args):
    _, ids = simcore.parse_options(args, set(), set(), "bresume")

    def resume(job):
        if job["state"] == "held":
            job["state"] = "queued"
        elif job["state"] == "running" and job.get("suspend"):
            job["suspend"] = False  # the runner sends SIGCONT
        else:
            return "Job is not suspended"
        return None

    return change_jobs(ids, "resumed", resume)


def lsf_simctl(args):
    """SIMULATOR FEATURE, not an LSF command: `lsf-simctl ACTION [-d SECONDS] ID...` makes the
    simulated cluster do what a failing host or LSF's preemption would do to running jobs, and
    report it as LSF 10.1 does (IBM docs: "Removing hung jobs from LSF", "Termination reasons
    displayed by bacct, bhist, and bjobs", lsb.queues TERMINATE_WHEN):

    node-fail  The job's execution host goes down (unavail) and stays down. Its processes die at
               once and bjobs shows the job UNKWN; `-d SECONDS` (default 1) later LSF removes
               the hung job, as with `REMOVE_HUNG_JOBS_FOR = host_unavail` in lsb.params: EXIT,
               `TERM_REMOVE_HUNG_JOB: job removed from LSF`, no exit code.
    preempt    Preemption in a queue with `TERMINATE_WHEN = PREEMPT`: the job is terminated
               (SIGINT, SIGTERM, SIGKILL, as bkill does) and ends EXIT with
               `TERM_PREEMPT: job killed after preemption` and exit code 128+N.
    """
    if not args or args[0] not in ("node-fail", "preempt"):
        raise SimError("usage: lsf-simctl node-fail|preempt [-d SECONDS] ID... "
                       "(the LSF simulator's admin control, not an LSF command)", FAILED)
    action = args[0]
    opts, ids = simcore.parse_options(args[1:], {"d"}, set(), "lsf-simctl")
    detect = float(opts.get("d", "1"))

    def change(job):
        if job["state"] != "running" or job.get("node_down") or job.get("kill"):
            return "Job is not running"
        if action == "node-fail":
            job["node_down"] = {"at": time.time(), "detect": detect}
        else:
            job.update(kill=True, kill_for="preempt")  # the runner sends SIGINT, SIGTERM, SIGKILL
        return None

    verb = "taken off its failed host" if action == "node-fail" else "preempted"
    return change_jobs(ids, verb, change)


def bparams(args):
    """`bparams -a`: lsb.params as the cluster runs it, MAX_JOB_ARRAY_SIZE among the values
    (`$XPR_SIM_LSF_MAX_JOB_ARRAY_SIZE`, default LSF's 1000). No other form."""
    if args != ["-a"]:
        raise SimError("bparams: the simulator answers only bparams -a", FAILED)
    print("System default parameters:")
    for key, value in [("DEFAULT_QUEUE", DEFAULT_QUEUE), ("MBD_SLEEP_TIME", "10"),
                       ("SBD_SLEEP_TIME", "7"), ("CLEAN_PERIOD", "3600"),
                       ("MAX_JOB_ARRAY_SIZE", str(MAX_JOB_ARRAY_SIZE))]:
        print(f"    {key} = {value}")
    return 0


# The simulated cluster's queues for `bqueues -l` (the simulator itself runs a job of any
# queue at once): the default one without limits, and one with a one-hour run limit.
QUEUES = [(DEFAULT_QUEUE, "For normal low priority jobs.", None),
          ("short", "For jobs of up to an hour.", 60)]


def lsid(args):
    """`lsid`: the product line and the cluster's names, as LSF prints them."""
    print("IBM Spectrum LSF Standard 10.1.0.13 (simulator), Nov 22 2026\n"
          "Copyright International Business Machines Corp. 1992, 2016.\n\n"
          "My cluster name is xpr_sim\n"
          f"My master name is {simcore.hostname()}")
    return 0


def bqueues(args):
    """`bqueues -l`: the simulated queues in LSF 10.1's long layout. No other form."""
    if args != ["-l"]:
        raise SimError("bqueues: the simulator answers only bqueues -l", FAILED)
    for i, (name, about, run_limit) in enumerate(QUEUES):
        print(f"\nQUEUE: {name}\n  -- {about}\n")
        print("PARAMETERS/STATISTICS\n"
              "PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS\n"
              f" {30 - i:>2}    0  Open:Active       -    -    -    -     0     0     0     0     0    0     0\n"
              "Interval for a host to accept two jobs is 0 seconds\n")
        if run_limit is not None:
            print(f" RUNLIMIT\n {run_limit:.1f} min\n")
        print("SCHEDULING PARAMETERS\n"
              "           r15s   r1m  r15m   ut      pg    io   ls    it    tmp    swp    mem\n"
              " loadSched   -     -     -     -       -     -    -     -     -      -      -  \n"
              " loadStop    -     -     -     -       -     -    -     -     -      -      -  \n")
        print("USERS: all  \nHOSTS:  all \n")
    return 0


def lshosts(args):
    """`lshosts -w`: this host as the one server host, with its cores and memory."""
    if args not in ([], ["-w"]):
        raise SimError("lshosts: the simulator answers only lshosts [-w]", FAILED)
    mem_g = simcore.mem_total_kb() / (1 << 20)
    print("HOST_NAME                     type       model  cpuf ncpus maxmem maxswp server RESOURCES")
    print(f"{simcore.hostname():<29} X86_64    Intel_EM  60.0 {os.cpu_count() or 1:>5} "
          f"{mem_g:>5.1f}G      -    Yes (mg)")
    return 0


COMMANDS = {"bsub": bsub, "bjobs": bjobs, "bkill": bkill, "bstop": bstop, "bresume": bresume,
            "bparams": bparams, "lsid": lsid, "bqueues": bqueues, "lshosts": lshosts,
            "lsf-simctl": lsf_simctl}

if __name__ == "__main__":
    try:
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    except SimError as e:
        print(e, file=sys.stderr)
        sys.exit(e.code)
