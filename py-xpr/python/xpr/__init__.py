"""xpr: run work on HPC clusters from a laptop, from Python.

The same core as the ``xpr`` command (a Rust library, bound here, no second implementation):
named systems from ExPyRe's ``config.json`` files, a node finder, staging, submission through
Slurm, PBS, Grid Engine, LSF or none over SSH, following, collection, and one jobs DB.

    import xpr

    with xpr.Session() as session:
        task = session.submit(["sh", "-c", "hostname > host.txt"], outputs=["host.txt"])
        print(task.result().local_dir / "host.txt")
        squares = session.map(pow2, range(10), mode="packed", pack=5)
        print([t.result() for t in squares])

``xpr.expyre`` is a drop-in for ExPyRe's API (``from xpr.expyre import ExPyRe``).
"""

import re as _re

from ._pyfunc import RemoteFunctionError
from ._session import (
    JobDiedError,
    Logs,
    Results,
    Session,
    Task,
    TaskFailed,
)
from ._xpr import ConfigError, WaitTimeout, XprError, __version__


def _hint(error: BaseException) -> "str | None":
    """The ``hint: ...`` part of an xpr error's message: what to do about it."""
    found = _re.search(r"\(hint: (.*?)\)(?:$|[\s:;,.])", str(error), _re.S)
    return found.group(1) if found else None


# Every xpr error tells what to do, when the library said: `error.hint`.
XprError.hint = property(_hint)  # type: ignore[attr-defined]

__all__ = [
    "ConfigError",
    "JobDiedError",
    "Logs",
    "RemoteFunctionError",
    "Results",
    "Session",
    "Task",
    "TaskFailed",
    "WaitTimeout",
    "XprError",
    "__version__",
]
