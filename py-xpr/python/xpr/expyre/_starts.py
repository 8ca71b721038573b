"""ExPyRe.start()s sent to the library together.

ExPyRe submits each job as its ``start`` is called, one SSH round trip or more each; wfl and
most ExPyRe programs call ``start`` on every chunk in a loop and only then look at results.
Here a ``start`` checks its job at once (so a missing input, an unknown system or a request no
partition fits raises from ``start``, as in ExPyRe) and queues it; the queue goes to the
library as ONE batch (recorded in one transaction, staged in one tar stream, submitted in one
remote batch per system) when anything asks about a queued job (its ``id``, ``status``,
``get_results`` ...), a quarter of a second after the last ``start``, every
:data:`MAX_BATCH` starts, or when the interpreter exits. A process killed in that quarter
second leaves its queued jobs unrecorded, never half-recorded: running it again submits them.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .func import ExPyRe

#: Seconds after the last ``start`` before the queue is sent anyway.
DELAY = 0.25

#: The most starts sent in one batch.
MAX_BATCH = 1000


class PendingStarts:
    """The queue of checked, not yet sent starts (one per process, :data:`PENDING`)."""

    def __init__(self) -> None:
        # Reentrant: sending the queue reads the session, which may look at a job.
        self._lock = threading.RLock()
        self._jobs: List[Tuple["ExPyRe", Dict[str, Any]]] = []
        self._timer: Optional[threading.Timer] = None

    def add(self, job: "ExPyRe", request: Dict[str, Any]) -> None:
        """Queues ``job``'s start ``request`` (already checked)."""
        with self._lock:
            self._jobs.append((job, request))
            if self._timer is not None:
                self._timer.cancel()
            if len(self._jobs) >= MAX_BATCH:
                self._timer = None
                self.send()
                return
            self._timer = threading.Timer(DELAY, self._send_in_background)
            self._timer.daemon = True
            self._timer.start()

    def holds(self, job: "ExPyRe") -> bool:
        """Whether ``job``'s start is queued."""
        with self._lock:
            return any(j is job for j, _ in self._jobs)

    def send(self) -> None:
        """Sends every queued start to the library as one batch. A failure is kept by each
        job of the batch (raised when the job is next used) and raised here."""
        from . import config

        with self._lock:
            jobs, self._jobs = self._jobs, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not jobs:
                return
            try:
                native = config.session()._native
                started = json.loads(native.start_many(json.dumps([r for _, r in jobs])))
            except BaseException as err:
                for job, _ in jobs:
                    job._start_error = err
                raise
            for (job, _), reply in zip(jobs, started):
                job._attach(reply["id"], reply["record"]["system"])
                # Reused when an identical job appeared since the constructor looked.
                job.recreated = bool(reply.get("reused"))

    def _send_in_background(self) -> None:
        try:
            self.send()
        except BaseException as err:  # kept by the jobs too; said here as nobody waits
            print(f"xpr.expyre: sending queued starts failed: {err}", file=sys.stderr)


#: This process's queue.
PENDING = PendingStarts()


@atexit.register
def _send_at_exit() -> None:
    try:
        PENDING.send()
    except BaseException as err:
        print(f"xpr.expyre: sending queued starts at exit failed: {err}", file=sys.stderr)
