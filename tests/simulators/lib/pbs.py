"""The PBS SIMULATOR's commands (a test double of PBS Pro for xpr, not PBS): qsub, qstat,
qselect, qdel, qhold, qrls, qmgr (`-c 'list server'` only). Usage: `pbs.py COMMAND ARGS...`
(the bin/ wrappers do this).

What each prints follows PBS Pro: `qsub` the job id; `qstat -f` the `Job Id:` / four-space
`name = value` text, long values wrapped at 79 columns onto TAB lines; finished jobs only with
`-x` (job history always on); errors and exit codes as PBS Pro's (`Unknown Job Id` 153, job
finished 35, bad state 170). Exit_status: the script's code, 256+N when a signal N killed the
job shell (qdel), -29 (JOB_EXEC_KILL_WALLTIME) when the simulator killed it at its walltime,
-20 (JOB_EXEC_RERUN_MS_FAIL) when its node went down (`pbs-simctl node-fail`), none when the
job was deleted before it ran. See ../README.md for what is not simulated.

Job arrays, as PBS Pro: `qsub -J X-Y[:Z]` (X below Y; refused for a non-rerunnable job) makes
the array `N[].server` and one subjob `N[i].server` per index, each run as a job of its own with
`PBS_ARRAY_INDEX` and `PBS_ARRAY_ID` set. A subjob is Q, H, R, then X once it ended (with its
Exit_status); the array is Q, B once a subjob began, F once all ended. `qstat -t` adds the
subjobs to a listing; an array is addressed as `N[]` (`N` alone is not one of its ids).
`XPR_SIM_PBS_FLAVOUR=torque` makes `qsub` Torque's for arrays only: `qsub --version` answers
as Torque, `-t LIST` replaces `-J`, the index is in `PBS_ARRAYID`, `-o`/`-e` get `-INDEX`
appended; everything else (qstat's text, Exit_status) stays PBS Pro's.

`pbs-simctl` is not a PBS command: it is the simulator's admin control, standing in for what an
administrator or the hardware does to a PBS server (a node failing, the scheduler preempting a
job). See `pbs_simctl`.
"""

import json
import os
import pwd
import re
import sys
import time

import simcore
from simcore import SimError, Spool

SERVER = os.environ.get("XPR_SIM_PBS_SERVER", "pbs-sim")
FLAVOUR = os.environ.get("XPR_SIM_PBS_FLAVOUR", "pro")  # "pro" (PBS Pro) or "torque"
# The server's max_array_size (PBS Pro's default: PBS_MAX_ARRAY_JOB_DFL).
MAX_ARRAY_SIZE = int(os.environ.get("XPR_SIM_PBS_MAX_ARRAY_SIZE", "10000"))
VERSION = "2021.1.3 (simulator)"
DEFAULT_QUEUE = "workq"
# PBS errno values; the commands exit with errno & 0xff (PBSE_UNKJOBID 15001 -> 153, ...).
UNKNOWN_JOB, HISTORY_JOB, BAD_STATE = 153, 35, 170
SUBSTATE = {"queued": 10, "held": 20, "running": 42}
# JOB_SUBSTATE_SCHSUSP: suspended by the scheduler (a preemption), shown as job_state S.
SUSPENDED_BY_SCHEDULER = 45
# JOB_EXEC_RERUN_MS_FAIL (OpenPBS src/include/job.h): the job's mother superior node went down.
MS_FAIL = -20

QSUB_WITH_VALUE = set("ANqlSoejrvWmMkpcPJt")
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


def array_indices(opts):
    """The indices of an array submission (`-J`, or Torque's `-t`), or None for a plain job."""
    if FLAVOUR == "torque":
        if "J" in opts:
            raise SimError("qsub: invalid option -- 'J' (the Torque flavour takes -t)", 2)
        if "t" not in opts:
            return None
        return simcore.parse_index_list(opts["t"], "qsub", 0)
    if "t" in opts:
        raise SimError("qsub: invalid option -- 't'", 2)
    if "J" not in opts:
        return None
    if opts.get("r", "y") != "y":
        raise SimError("qsub:  cannot submit non-rerunable Array Job", 2)
    # PBS Pro's chk_Jrange: one range X-Y[:Z] with X below Y.
    m = re.fullmatch(r"(\d+)-(\d+)(?::\d+)?", opts["J"])
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise SimError(f"qsub: illegal -J value {opts['J']}", 2)
    return simcore.parse_index_list(opts["J"], "qsub", 0)


def qsub(args):
    if args == ["--version"]:
        if FLAVOUR == "torque":
            print("Version: 6.1.3 (simulator)\nCommit: 0000000", file=sys.stderr)
        else:
            print(f"pbs_version = {VERSION}")
        return 0
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
    indices = array_indices(opts)
    if indices is not None and len(indices) > MAX_ARRAY_SIZE:
        raise SimError("qsub: Array job exceeds server or queue size limit", 2)

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
    job_id = f"{seq}.{SERVER}" if indices is None else f"{seq}[].{SERVER}"
    # Like PBS, run a copy taken now: later edits to the file do not change the job.
    copy = os.path.join(spool_path, "jobs", f"{seq}.SC")
    with open(copy, "w") as f:
        f.write(text)
    node_file = os.path.join(spool_path, "jobs", f"{seq}.nodes")
    with open(node_file, "w") as f:
        f.write(simcore.hostname() + "\n")

    join = opts.get("j", "n")

    def paths(index):
        """(stdout, stderr) of the job, or of its element `index`: PBS Pro puts the index in
        for `^array_index^` and names a subjob's default files NAME.oN.I; Torque appends
        `-I`."""
        def one(key, letter):
            if key in opts:
                path = output_path(opts[key], submit_dir)
                if index is None:
                    return path
                if FLAVOUR == "torque":
                    return f"{path}-{index}"
                return path.replace("^array_index^", str(index))
            tail = "" if index is None else f"-{index}" if FLAVOUR == "torque" else f".{index}"
            return os.path.join(submit_dir, f"{name}.{letter}{seq}{tail}")
        stdout, stderr = one("o", "o"), one("e", "e")
        if join == "oe":
            stderr = stdout
        elif join == "eo":
            stdout = stderr
        return stdout, stderr

    stdout_path, stderr_path = paths(None)

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
    if indices is None:
        with spool:
            spool.save(job)
        simcore.start_runner(spool, seq)
        print(job_id)
        return 0
    # An array: its own record (no runner), then one job record per element.
    job["array"] = {"indices": indices, "range": opts.get("J") or opts.get("t")}
    elements = []
    for index in indices:
        element = json.loads(json.dumps(job))
        del element["array"]
        element.update(key=f"{seq}.{index}", index=index, parent=seq,
                       id=f"{seq}[{index}].{SERVER}")
        element["stdout_path"], element["stderr_path"] = paths(index)
        element["env"]["PBS_JOBID"] = element["id"]
        if FLAVOUR == "torque":
            element["env"]["PBS_ARRAYID"] = str(index)
        else:
            element["env"].update(PBS_ARRAY_INDEX=str(index), PBS_ARRAY_ID=job_id)
        elements.append(element)
    with spool:
        spool.save(job)
        for element in elements:
            spool.save(element)
    for element in elements:
        simcore.start_runner(spool, element["key"])
    print(job_id)
    return 0


def find_job(spool, job_id):
    """The record for `123` or `123.server` (a job), `123[]` (an array) or `123[7]` (its
    element), with or without the server, or None."""
    m = re.fullmatch(r"(\d+)(\[(\d*)\])?(?:\.(.+))?", job_id)
    if not m or (m.group(4) and m.group(4) != SERVER and not SERVER.startswith(m.group(4) + ".")):
        return None
    job = spool.load(int(m.group(1)))
    if job is None or ("array" in job) != (m.group(2) is not None):
        return None  # an array is `N[]`, a plain job has no brackets
    if m.group(3):
        return spool.load(f"{m.group(1)}.{int(m.group(3))}")
    return job


def array_state(spool, array):
    """An array's state from its elements' (PBS Pro): finished once all ended, begun (B) once
    one has started or ended, held while all are held, else queued."""
    states = [e["state"] for e in spool.elements(array)]
    if all(s == "finished" for s in states):
        return "finished"
    if any(s in ("running", "finished") for s in states):
        return "begun"
    if all(s == "held" for s in states):
        return "held"
    return "queued"


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


def array_attributes(spool, array):
    """An array's own attributes in PBS Pro's `qstat -f` order: no run of its own, the state
    of its elements in `array_state_count`, and (once all ended) an Exit_status that is 0, 1
    when an element exited above 0, 2 when one exited below 0 (OpenPBS `update_sj_parent`)."""
    elements = spool.elements(array)
    state = array_state(spool, array)
    letter = {"queued": "Q", "held": "H", "begun": "B", "finished": "F"}[state]
    counts = {"Queued": 0, "Running": 0, "Exiting": 0, "Expired": 0}
    for e in elements:
        counts[{"queued": "Queued", "held": "Queued", "running": "Running",
                "finished": "Expired"}[e["state"]]] += 1
    queued = [str(e["index"]) for e in elements if e["state"] in ("queued", "held")]
    attrs = [("Job_Name", array["name"]), ("Job_Owner", f"{array['owner']}@{simcore.hostname()}"),
             ("job_state", letter), ("queue", array["queue"]), ("server", SERVER),
             ("Checkpoint", "u"), ("ctime", pbs_time(array["submit_time"])),
             ("Error_Path", f"{simcore.hostname()}:{array['stderr_path']}"),
             ("Hold_Types", array["hold_types"]), ("Join_Path", array["join"]),
             ("Keep_Files", "n"), ("Mail_Points", "a"), ("mtime", pbs_time(array["mtime"])),
             ("Output_Path", f"{simcore.hostname()}:{array['stdout_path']}"), ("Priority", "0"),
             ("qtime", pbs_time(array["submit_time"])), ("Rerunable", "True")]
    attrs += [(f"Resource_List.{k}", v) for k, v in sorted(array["resources"].items())]
    attrs += [("substate", {"queued": "10", "held": "20", "begun": "3", "finished": "92"}[state]),
              ("Variable_List", ",".join(f"{k}={v}" for k, v in array["variables"].items())),
              ("etime", pbs_time(array["submit_time"]))]
    codes = [exit_status(e) for e in elements if exit_status(e) is not None]
    if state == "finished" and codes:
        attrs.append(("Exit_status", "1" if any(c > 0 for c in codes) else
                      "2" if any(c < 0 for c in codes) else "0"))
    attrs += [("array", "True"),
              ("array_state_count", " ".join(f"{k}:{v}" for k, v in counts.items())),
              ("array_indices_submitted", array["array"]["range"])]
    if queued:
        attrs.append(("array_indices_remaining", ",".join(queued)))
    attrs.append(("Submit_arguments", array["submit_args"]))
    if state == "finished":
        end = max(e.get("end_time") or 0 for e in elements)
        attrs.append(("history_timestamp", str(int(end))))
    attrs += [("project", "_pbs_project_default"), ("Submit_Host", simcore.hostname())]
    return attrs


def attributes(job):
    """The job's attributes in PBS Pro's `qstat -f` order (an array's element: with
    `array_id` and `array_index`, and X once it ended)."""
    state = job["state"]
    letter = {"queued": "Q", "held": "H", "running": "R", "finished": "F"}[state]
    if state == "finished" and "parent" in job:
        letter = "X"  # a subjob that ended (svr_setjob_histinfo: "default X for subjob")
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
    if "parent" in job:
        attrs += [("array_id", f"{job['parent']}[].{SERVER}"), ("array_index", str(job["index"]))]
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
    if args == ["--version"]:
        return qsub(args)
    if args in (["-Q", "-f"], ["-f", "-Q"], ["-Qf"]):
        return queue_status()
    opts, ids = simcore.parse_options(args, set(), {"x", "f", "H", "t", "J"}, "qstat")
    if not opts.get("f"):
        raise SimError("qstat: the simulator prints only the full form (qstat -f [-x] [-t] [ID...])", 2)
    spool = Spool(simcore.spool_dir("pbs"))
    history = opts.get("x") or opts.get("H")
    code, blocks = 0, []

    def finished(job):
        if "array" in job:
            return array_state(spool, job) == "finished"
        return job["state"] == "finished"

    def show(job, asked):
        """Adds the job's block (an array: then its subjobs with -t); False when history
        hides it."""
        if finished(job) and not history:
            if asked:
                print(f"qstat: {job['id']} Job has finished, use -x or -H to obtain historical "
                      "job information", file=sys.stderr)
            return False
        attrs = array_attributes(spool, job) if "array" in job else attributes(job)
        blocks.append("\n".join([f"Job Id: {job['id']}"] + [wrap(k, v) for k, v in attrs]) + "\n")
        if "array" in job and opts.get("t"):
            for element in spool.elements(job):
                show(element, False)
        return True

    if ids:
        for job_id in ids:
            job = find_job(spool, job_id)
            if job is None:
                print(f"qstat: Unknown Job Id {job_id}", file=sys.stderr)
                code = UNKNOWN_JOB
            elif not show(job, True):
                code = HISTORY_JOB
    else:
        for job in spool.all_jobs():
            if opts.get("J") and "array" not in job:
                continue
            show(job, False)
    if blocks:
        sys.stdout.write("\n".join(blocks) + "\n")
    return code


def qselect(args):
    opts, extra = simcore.parse_options(args, {"N", "u", "s", "q"}, {"x", "J", "T"}, "qselect")
    if extra:
        raise SimError(f"qselect: unexpected argument {extra[0]}", 2)
    spool = Spool(simcore.spool_dir("pbs"))
    letters = {"queued": "Q", "held": "H", "running": "R", "begun": "B", "finished": "F"}
    for job in spool.all_jobs():
        if opts.get("J") and "array" not in job:
            continue
        # -T: jobs and subjobs instead of jobs and arrays.
        listed = spool.elements(job) if "array" in job and opts.get("T") else [job]
        for one in listed:
            state = array_state(spool, one) if "array" in one else one["state"]
            if state == "finished" and not opts.get("x"):
                continue
            if "N" in opts and one["name"] != opts["N"]:
                continue
            if "u" in opts and one["owner"] != opts["u"]:
                continue
            if "s" in opts and letters[state] not in opts["s"]:
                continue
            if "q" in opts and one["queue"] != opts["q"]:
                continue
            print(one["id"])
    return 0


def change_jobs(command, ids, action):
    """Runs action(job) -> error message or None on each id's record, under the lock. An
    array's id acts on each of its elements not yet ended (an error only when none is left)."""
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
            targets = [job]
            if "array" in job:
                targets = [e for e in spool.elements(job) if e["state"] != "finished"]
                if not targets:
                    print(f"{command}: Job has finished {job['id']}", file=sys.stderr)
                    code = HISTORY_JOB
                    continue
            for target in targets:
                problem = action(target)
                if problem:
                    message, code = problem
                    print(f"{command}: {message} {target['id']}", file=sys.stderr)
                    continue
                target["mtime"] = time.time()
                spool.save(target)
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


def qmgr(args):
    """`qmgr -c 'list server'`: the server's attributes, `max_array_size` among them
    (`$XPR_SIM_PBS_MAX_ARRAY_SIZE`, default PBS Pro's 10000). No other request."""
    if args != ["-c", "list server"] and args != ["-c", "l s"]:
        raise SimError("qmgr: the simulator answers only -c 'list server'", 2)
    attrs = [("server_state", "Active"), ("server_host", simcore.hostname()),
             ("scheduling", "True"), ("default_queue", DEFAULT_QUEUE), ("log_events", "511"),
             ("query_other_jobs", "True"), ("resources_default.ncpus", "1"),
             ("scheduler_iteration", "600"), ("flatuid", "True"), ("node_fail_requeue", "310"),
             ("max_array_size", str(MAX_ARRAY_SIZE)), ("pbs_version", VERSION),
             ("job_history_enable", "True")]
    print(f"Server {SERVER}")
    for key, value in attrs:
        print(f"    {key} = {value}")
    print()
    return 0


# The simulated server's queues for `qstat -Q -f` (the simulator itself runs a job of any
# queue at once): the default one without limits, and one capped at an hour, 4 cores and 8gb.
QUEUES = [(DEFAULT_QUEUE, []),
          ("short", [("resources_max.ncpus", "4"), ("resources_max.mem", "8gb"),
                     ("resources_max.walltime", "01:00:00")])]


def queue_status():
    """`qstat -Q -f`: the simulated queues in PBS Pro's layout (what `xpr discover` reads)."""
    for name, limits in QUEUES:
        print(f"Queue: {name}")
        attrs = [("queue_type", "Execution"), ("total_jobs", "0"),
                 ("state_count", "Transit:0 Queued:0 Held:0 Waiting:0 Running:0 Exiting:0 Begun:0 ")]
        attrs += limits + [("resources_assigned.ncpus", "0"), ("resources_assigned.nodect", "0"),
                           ("hasnodes", "False"), ("enabled", "True"), ("started", "True")]
        for key, value in attrs:
            print(f"    {key} = {value}")
        print()
    return 0


def pbsnodes(args):
    """`pbsnodes -a`: this host as the one node, with its cores and memory, in PBS Pro's
    layout. No other form."""
    if args != ["-a"]:
        raise SimError("pbsnodes: the simulator answers only pbsnodes -a", 2)
    host = simcore.hostname()
    print(host)
    for key, value in [("Mom", host), ("ntype", "PBS"), ("state", "free"),
                       ("pcpus", str(os.cpu_count() or 1)),
                       ("resources_available.arch", "linux"),
                       ("resources_available.host", host),
                       ("resources_available.mem", f"{simcore.mem_total_kb()}kb"),
                       ("resources_available.ncpus", str(os.cpu_count() or 1)),
                       ("resources_available.vnode", host),
                       ("resources_assigned.mem", "0kb"), ("resources_assigned.ncpus", "0"),
                       ("resv_enable", "True"), ("sharing", "default_shared")]:
        print(f"     {key} = {value}")
    print()
    return 0


COMMANDS = {"qsub": qsub, "qstat": qstat, "qselect": qselect, "qdel": qdel, "qhold": qhold,
            "qrls": qrls, "qmgr": qmgr, "pbsnodes": pbsnodes, "pbs-simctl": pbs_simctl}

if __name__ == "__main__":
    try:
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    except SimError as e:
        print(e, file=sys.stderr)
        sys.exit(e.code)
