"""ExPyRe's exceptions, placed in xpr's hierarchy so that code catching either one works."""

from __future__ import annotations

from .._session import JobDiedError
from .._xpr import WaitTimeout


class ExPyReTimeoutError(WaitTimeout, TimeoutError):
    """``get_results`` ran out of time (at once for ``timeout=0``) before the job finished.

    Also an :class:`xpr.WaitTimeout` and a ``TimeoutError``."""


class ExPyReJobDiedError(JobDiedError):
    """The job ended without a result or an exception from the function (killed, out of
    time or memory, cancelled, Python failed to start, the call did not load ...). The
    message holds the job's stdout and stderr. Also an :class:`xpr.JobDiedError`."""
