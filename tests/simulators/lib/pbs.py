"""The PBS SIMULATOR's commands (a test double of PBS Pro for xpr, not PBS): qsub, qstat,
qselect, qdel, qhold, qrls. Usage: `pbs.py COMMAND ARGS...` (the bin/ wrappers do this).

What each prints follows PBS Pro: `qsub` the job id; `qstat -f` the `Job Id:` / four-space
`name = value` text, long values wrapped at 79 columns onto TAB lines; finished jobs only with
`-x` (job history always on); errors and exit codes as PBS Pro's (`Unknown Job Id` 153, job
finished 35, bad state 170). Exit_status: the script's code, 256+N when a signal N killed the
job shell (qdel), -29 (JOB_EXEC_KILL_WALLTIME) when the simulator killed it at its walltime,
-20 (JOB_EXEC_RERUN_MS_FAIL) when its node went down (`pbs-simctl node-fail`), none when the
job was deleted before it ran. See ../README.md for what is not simulated.

`pbs-simctl` is not a PBS command: it is the simulator's admin control, standing in for what an
administrator or the hardware does to a PBS server (a node failing, the scheduler preempting a
job). See `pbs_simctl`.
"""

import os
import pwd
import re
import sys
import time

import simcore
from simcore import SimError, Spool

SERVER = os.environ.get("XPR_SIM_PBS_SERVER", "pbs-sim")
DEFAULT_QUEUE = "workq"
# PBS errno values; the commands exit with errno & 0xff (PBSE_UNKJOBID 15001 -> 153, ...).
UNKNOWN_JOB, HISTORY_JOB, BAD_STATE = 153, 35, 170
SUBSTATE = {"queued": 10, "held": 20, "running": 42}
# JOB_SUBSTATE_SCHSUSP: suspended by the scheduler (a preemption), shown as job_state S.
SUSPENDED_BY_SCHEDULER = 45
# JOB_EXEC_RERUN_MS_FAIL (OpenPBS src/include/job.h): the job's mother superior node went down.
MS_FAIL = -20

QSUB_WITH_VALUE = set("ANqlSoejrvWmMkpcP")
QSUB_FLAGS = {"h", "V", "z"}


def user():
    return pwd.getpwuid(os.getuid()).pw_name


def parse_walltime(text):
    """[[H:]M:]S -> seconds."""
    total = 0
    for part in text.split(":"):
        if not part.isdigit():
            raise SimError(f"qsub: illegal -l value walltime={text}", 2)
        total = total * 60 + int(part)
    return total


def output_path(value, submit_dir):
    """`[host:]path`, relative to the submission directory as PBS resolves it."""
    path = value.split(":", 1)[1] if re.match(r"^[\w.-]+:", value) else value
    return os.path.join(submit_dir, os.path.expanduser(path))


def qsub(args):
    opts, operands = simcore.parse_options(args, QSUB_WITH_VALUE, QSUB_FLAGS, "qsub", ("l", "v"))
    if len(operands) != 1:
        raise SimError("usage: qsub [options] SCRIPT (the simulator reads the script from a file)", 2)
    script_path = operands[0]
    try:
        with open(script_path) as f:
            text = f.read()
    except OSError as e:
        raise SimError(f"qsub: script file cannot be loaded - {e.strerror}", 2)
    # Directives first, the command line overrides them.
    directives, _ = simcore.parse_options(simcore.read_directives(text, "#PBS"),
                                          QSUB_WITH_VALUE, QSUB_FLAGS, "qsub", ("l", "v"))
    for key in "lv":  # repeatable: directives and command line together
        opts[key] = directives.pop(key, []) + opts.get(key, [])
    opts = {**directives, **opts}
    if "J" in opts:
        raise SimError("qsub: job arrays (-J) are not supported by the simulator", 2)

    name = opts.get("N", os.path.basename(script_path))
    # PBS Pro: up to 236 characters, printable, no blanks; Torque also wants a letter first.
    if not re.fullmatch(r"[A-Za-z][!-~]{0,235}", name) or "@" in name:
        raise SimError(f"qsub: illegal -N value {name}", 2)
    resources = {}
    for item in ",".join(opts["l"]).split(","):
        if item:
            key, _, value = item.partition("=")
            resources[key] = value
    walltime = parse_walltime(resources["walltime"]) if "walltime" in resources else None
    if walltime is not None:
        resources["walltime"] = simcore.hms(walltime)

    spool_path = simcore.spool_dir("pbs")
    spool = Spool(spool_path)
    submit_dir = os.getcwd()
    home = os.path.expanduser("~")
    with spool:
        seq = spool.next_seq()
    job_id = f"{seq}.{SERVER}"
    # Like PBS, run a copy taken now: later edits to the file do not change the job.
    copy = os.path.join(spool_path, "jobs", f"{seq}.SC")
    with open(copy, "w") as f:
        f.write(text)
    node_file = os.path.join(spool_path, "jobs", f"{seq}.nodes")
    with open(node_file, "w") as f:
        f.write(simcore.hostname() + "\n")

    join = opts.get("j", "n")
    stdout_path = output_path(opts["o"], submit_dir) if "o" in opts else \
        os.path.join(submit_dir, f"{name}.o{seq}")
    stderr_path = output_path(opts["e"], submit_dir) if "e" in opts else \
        os.path.join(submit_dir, f"{name}.e{seq}")
    if join == "oe":
        stderr_path = stdout_path
    elif join == "eo":
        stdout_path = stderr_path

    variables = {
        "PBS_O_HOME": home, "PBS_O_LOGNAME": user(), "PBS_O_PATH": os.environ.get("PATH", ""),
        "PBS_O_SHELL": os.environ.get("SHELL", "/bin/sh"), "PBS_O_WORKDIR": submit_dir,
        "PBS_O_SYSTEM": "Linux", "PBS_O_QUEUE": opts.get("q", DEFAULT_QUEUE),
        "PBS_O_HOST": simcore.hostname(),
    }
    for item in filter(None, ",".join(opts["v"]).split(",")):
        key, eq, value = item.partition("=")
        variables[key] = value if eq else os.environ.get(key, "")
    # The job's environment: a fresh login (no -V), PBS's variables, what -v / -V pass on.
    env = dict(os.environ) if opts.get("V") else {
        "HOME": home, "USER": user(), "LOGNAME": user(),
        "SHELL": pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh",
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    env.update(variables)
    env.update(PBS_JOBID=job_id, PBS_JOBNAME=name, PBS_QUEUE=opts.get("q", DEFAULT_QUEUE),
               PBS_NODEFILE=node_file, PBS_ENVIRONMENT="PBS_BATCH", PBS_JOBDIR=home,
               TMPDIR=os.environ.get("TMPDIR", "/tmp"))
    # -S names the shell, else the user's login shell; started as a login shell ("-bash"),
    # in $HOME, with the script as its argument: the #! line is only a comment to PBS.
    shell = opts.get("S") or env["SHELL"]
    now = time.time()
    job = {
        "seq": seq, "id": job_id, "name": name, "owner": user(), "queue": opts.get("q", DEFAULT_QUEUE),
        "state": "held" if opts.get("h") else "queued", "hold_types": "u" if opts.get("h") else "n",
        "submit_time": now, "mtime": now, "resources": resources, "walltime": walltime,
        "argv": [shell, "-" + os.path.basename(shell), copy], "cwd": home, "env": env,
        "variables": variables, "stdout_path": stdout_path, "stderr_path": stderr_path,
        "join": join, "append_output": False, "rerunable": opts.get("r", "y"),
        "account": opts.get("A"), "submit_args": " ".join(args),
        "cancel_signals": [15, 9], "limit_signals": [15, 9],
        "limit_note": "=>> PBS: job killed: walltime {used} exceeded limit {limit}",
    }
    with spool:
        spool.save(job)
    simcore.start_runner(spool, seq)
    print(job_id)
    return 0


def find_job(spool, job_id):
    """The record for `123` or `123.server`, or None."""
    m = re.fullmatch(r"(\d+)(?:\.(.+))?", job_id)
    if not m or (m.group(2) and m.group(2) != SERVER and not SERVER.startswith(m.group(2) + ".")):
        return None
    return spool.load(int(m.group(1)))


def exit_status(job):
    if job.get("killed_for") == "node_fail":
        return MS_FAIL
    result = job.get("result")
    if result is None:
        return None
    if job.get("killed_for") == "walltime":
        return -29  # JOB_EXEC_KILL_WALLTIME
    if "signal" in result:
        return 256 + result["signal"]  # the MoM adds 0x100 for a job shell killed by a signal
    return result["code"]


def pbs_time(t):
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(t))


def attributes(job):
    """The job's attributes in PBS Pro's `qstat -f` order."""
    state = job["state"]
    letter = {"queued": "Q", "held": "H", "running": "R", "finished": "F"}[state]
    suspended = state == "running" and job.get("suspend")
    if suspended:
        letter = "S"  # a running job suspended by the scheduler (stat_job.c)
    host = job.get("exec_host")
    started = job.get("start_time")
    node_failed = job.get("killed_for") == "node_fail"
    attrs = [("Job_Name", job["name"]), ("Job_Owner", f"{job['owner']}@{simcore.hostname()}")]
    # After a node failure the server frees resources_used (node_down_requeue).
    if started and not node_failed:
        used = (job.get("end_time") or time.time()) - started
        attrs += [("resources_used.cpupercent", "0"), ("resources_used.cput", "00:00:00"),
                  ("resources_used.ncpus", "1"), ("resources_used.walltime", simcore.hms(used))]
    attrs += [("job_state", letter), ("queue", job["queue"]), ("server", SERVER),
              ("Checkpoint", "u"), ("ctime", pbs_time(job["submit_time"])),
              ("Error_Path", f"{simcore.hostname()}:{job['stderr_path']}")]
    if host:
        attrs += [("exec_host", f"{host}/0"), ("exec_vnode", f"({host}:ncpus=1)")]
    attrs += [("Hold_Types", job["hold_types"]), ("Join_Path", job["join"]), ("Keep_Files", "n"),
              ("Mail_Points", "a"), ("mtime", pbs_time(job["mtime"])),
              ("Output_Path", f"{simcore.hostname()}:{job['stdout_path']}"), ("Priority", "0"),
              ("qtime", pbs_time(job["submit_time"])),
              ("Rerunable", "True" if job["rerunable"] == "y" else "False")]
    attrs += [(f"Resource_List.{k}", v) for k, v in sorted(job["resources"].items())]
    if started:
        attrs += [("stime", pbs_time(started)), ("session_id", str(job.get("pid", 0))),
                  ("jobdir", job["cwd"])]
    substate = SUSPENDED_BY_SCHEDULER if suspended else SUBSTATE.get(state)
    if state == "finished":
        substate = 91 if job.get("killed_for") == "cancel" else 92 if exit_status(job) == 0 else 93
    attrs += [("substate", str(substate)),
              ("Variable_List", ",".join(f"{k}={v}" for k, v in job["variables"].items()))]
    if started:
        at = time.strftime("%a %b %d at %H:%M", time.localtime(started))
        # A job ended by a node failure keeps its run comment: PBS skips the "and ..." ending
        # for it (svr_setjob_histinfo with T_MOM_DOWN).
        outcome = " and finished" if state == "finished" and not node_failed else ""
        attrs.append(("comment", f"Job run at {at} on ({host}:ncpus=1){outcome}"))
    elif state == "finished":
        attrs.append(("comment", "Job deleted before it ran"))
    attrs += [("etime", pbs_time(job["submit_time"])), ("run_count", "1" if started else "0")]
    if exit_status(job) is not None:
        attrs.append(("Exit_status", str(exit_status(job))))
    attrs.append(("Submit_arguments", job["submit_args"] or os.path.basename(job["argv"][-1])))
    if state == "finished":
        attrs.append(("history_timestamp", str(int(job["end_time"]))))
    attrs += [("project", "_pbs_project_default"), ("Submit_Host", simcore.hostname())]
    return attrs


def wrap(name, value):
    """`    name = value`, cut at 79 columns onto TAB-indented lines, as qstat prints it."""
    line = f"    {name} = {value}"
    out, width = [line[:79]], 78
    rest = line[79:]
    while rest:
        out.append("\t" + rest[:width])
        rest = rest[width:]
    return "\n".join(out)


def qstat(args):
    opts, ids = simcore.parse_options(args, set(), {"x", "f", "H"}, "qstat")
    if not opts.get("f"):
        raise SimError("qstat: the simulator prints only the full form (qstat -f [-x] [ID...])", 2)
    spool = Spool(simcore.spool_dir("pbs"))
    history = opts.get("x") or opts.get("H")
    code, blocks = 0, []
    jobs = [find_job(spool, i) for i in ids] if ids else spool.all_jobs()
    for job_id, job in zip(ids or [None] * len(jobs), jobs):
        if job is None:
            print(f"qstat: Unknown Job Id {job_id}", file=sys.stderr)
            code = UNKNOWN_JOB
            continue
        if job["state"] == "finished" and not history:
            if job_id is not None:
                print(f"qstat: {job['id']} Job has finished, use -x or -H to obtain historical "
                      "job information", file=sys.stderr)
                code = HISTORY_JOB
            continue
        lines = [f"Job Id: {job['id']}"] + [wrap(k, v) for k, v in attributes(job)]
        blocks.append("\n".join(lines) + "\n")
    if blocks:
        sys.stdout.write("\n".join(blocks) + "\n")
    return code


def qselect(args):
    opts, extra = simcore.parse_options(args, {"N", "u", "s", "q"}, {"x"}, "qselect")
    if extra:
        raise SimError(f"qselect: unexpected argument {extra[0]}", 2)
    spool = Spool(simcore.spool_dir("pbs"))
    letters = {"queued": "Q", "held": "H", "running": "R", "finished": "F"}
    for job in spool.all_jobs():
        if job["state"] == "finished" and not opts.get("x"):
            continue
        if "N" in opts and job["name"] != opts["N"]:
            continue
        if "u" in opts and job["owner"] != opts["u"]:
            continue
        if "s" in opts and letters[job["state"]] not in opts["s"]:
            continue
        if "q" in opts and job["queue"] != opts["q"]:
            continue
        print(job["id"])
    return 0


def change_jobs(command, ids, action):
    """Runs action(job) -> error message or None on each id's record, under the lock."""
    if not ids:
        raise SimError(f"usage: {command} job_identifier...", 2)
    spool = Spool(simcore.spool_dir("pbs"))
    code = 0
    for job_id in ids:
        with spool:
            job = find_job(spool, job_id)
            if job is None:
                print(f"{command}: Unknown Job Id {job_id}", file=sys.stderr)
                code = UNKNOWN_JOB
                continue
            problem = action(job)
            if problem:
                message, code = problem
                print(f"{command}: {message} {job['id']}", file=sys.stderr)
                continue
            job["mtime"] = time.time()
            spool.save(job)
    return code


def qdel(args):
    opts, ids = simcore.parse_options(args, {"W"}, {"x"}, "qdel")

    def delete(job):
        if job["state"] == "finished":
            return "Job has finished", HISTORY_JOB
        if job["state"] == "running":
            job["kill"] = True  # the runner sends SIGTERM, then SIGKILL
        else:
            job.update(state="finished", end_time=time.time(), killed_for="cancel")
        return None

    return change_jobs("qdel", ids, delete)


def qhold(args):
    opts, ids = simcore.parse_options(args, {"h"}, set(), "qhold")

    def hold(job):
        if job["state"] == "finished":
            return "Job has finished", HISTORY_JOB
        if job["state"] == "running":
            # PBS Pro holds a running job only by checkpointing it, which the simulator cannot.
            return "Request invalid for state of job", BAD_STATE
        job.update(state="held", hold_types="u")
        return None

    return change_jobs("qhold", ids, hold)


def qrls(args):
    opts, ids = simcore.parse_options(args, {"h"}, set(), "qrls")

    def release(job):
        if job["state"] == "finished":
            return "Job has finished", HISTORY_JOB
        if job["state"] == "held":
            job.update(state="queued", hold_types="n")
        return None

    return change_jobs("qrls", ids, release)


def pbs_simctl(args):
    """SIMULATOR FEATURE, not a PBS command: `pbs-simctl ACTION [-d SECONDS] ID...` makes the
    simulated server do what a failing node or the PBS scheduler would do to running jobs, and
    report it as PBS Pro does (sources: OpenPBS src/server/node_manager.c, req_signal.c,
    svr_jobfunc.c):

    node-fail  The job's node (its mother superior) goes down and stays down. Its processes die
               at once; `-d SECONDS` (default 1) later the server gives up on the node, as after
               `node_fail_requeue`, and ends the non-rerunnable job (`-r n`, xpr's default) as
               PBS does: job_state F, substate 93, Exit_status -20 (JOB_EXEC_RERUN_MS_FAIL), no
               resources_used, the comment left as "Job run at ...". Until then qstat still
               shows it R. A rerunnable job would be requeued under the same id, which the
               simulator does not do: it refuses.
    preempt    Preemption by suspension, the first method of PBS's default preempt_order
               "SCR" and the only one open to a non-rerunnable job without checkpointing: the
               job is stopped (SIGSTOP) and shown as job_state S, substate 45.
    resume     The scheduler resumes a suspended job (SIGCONT): job_state R, substate 42.
    """
    if not args or args[0] not in ("node-fail", "preempt", "resume"):
        raise SimError("usage: pbs-simctl node-fail|preempt|resume [-d SECONDS] ID... "
                       "(the PBS simulator's admin control, not a PBS command)", 2)
    action = args[0]
    opts, ids = simcore.parse_options(args[1:], {"d"}, set(), "pbs-simctl")
    detect = float(opts.get("d", "1"))

    def change(job):
        if job["state"] != "running" or job.get("node_down"):
            return "Request invalid for state of job", BAD_STATE
        if action == "node-fail":
            if job["rerunable"] == "y":
                return ("a rerunnable job would be requeued after a node failure, which the "
                        "simulator does not simulate:"), BAD_STATE
            job["node_down"] = {"at": time.time(), "detect": detect}
        elif action == "preempt":
            if job.get("suspend"):
                return "Request invalid for state of job", BAD_STATE
            job["suspend"] = True  # the runner sends SIGSTOP
        elif not job.get("suspend"):
            return "Request invalid for state of job", BAD_STATE
        else:
            job["suspend"] = False  # the runner sends SIGCONT
        return None

    return change_jobs("pbs-simctl", ids, change)


COMMANDS = {"qsub": qsub, "qstat": qstat, "qselect": qselect, "qdel": qdel, "qhold": qhold,
            "qrls": qrls, "pbs-simctl": pbs_simctl}

if __name__ == "__main__":
    try:
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    except SimError as e:
        print(e, file=sys.stderr)
        sys.exit(e.code)
