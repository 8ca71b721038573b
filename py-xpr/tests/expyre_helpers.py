"""Module-level functions for the xpr.expyre tests to run as jobs (pickled by reference:
the jobs import this module through the PYTHONPATH conftest.py sets)."""

import os
import signal
import time


def environment(names):
    """The job's values of the environment variables ``names`` (None where unset)."""
    return {name: os.environ.get(name) for name in names}


def write_outputs(files):
    """Writes ``files`` (relative path -> text) in the run dir; returns their names."""
    for path, text in files.items():
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return sorted(files)


def kill_my_job():
    """Kills the job's whole process group with SIGKILL: the function never returns and no
    shell of the job is left to write an exit status (a job killed from outside)."""
    print("about to die", flush=True)
    os.killpg(os.getpgid(0), signal.SIGKILL)
    time.sleep(60)  # not reached


def sleep_then(seconds, value):
    """Sleeps ``seconds``, then returns ``value``."""
    time.sleep(seconds)
    return value


def chunk_sum(items, *, scale=1, label=None):
    """A wfl-style chunk: ``scale`` times the sum of ``items``; ``label`` is bookkeeping only
    (the tests leave it out of the restart identity with hash_ignore)."""
    return scale * sum(items)


def read_text(path):
    """The text of ``path`` in the job's run dir (an input file staged there)."""
    with open(path) as f:
        return f.read()
