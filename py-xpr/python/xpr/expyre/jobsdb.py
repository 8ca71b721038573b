"""ExPyRe's view of the jobs DB: rows with ExPyRe's keys and status names, over xpr's DB.

xpr's statuses are finer than ExPyRe's: a task that is ``waiting`` (for a queue slot or a
parent) or ``staged`` shows here as ``created``, one being submitted (``submitting``) as
``submitted``; the others have the same names. The groups ``ongoing`` and
``can_produce_results`` mean what they mean in ExPyRe.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import config

#: xpr's statuses that ExPyRe has no name for, and the ExPyRe status they show as.
_AS_EXPYRE = {"waiting": "created", "staged": "created", "submitting": "submitted"}

#: ExPyRe's status groups.
GROUPS = {
    "ongoing": ("created", "submitted", "started"),
    "can_produce_results": ("created", "submitted", "started", "succeeded", "died"),
}

#: The keys of a row, as ExPyRe's ``JobsDB.jobs`` has them.
ROW_KEYS = (
    "id", "name", "from_dir", "status", "system", "remote_id", "remote_status",
    "creation_time", "status_time",
)  # fmt: skip

Patterns = Union[None, str, Iterable[str]]


def expyre_status(xpr_status: str) -> str:
    """ExPyRe's name for xpr's status ``xpr_status``."""
    return _AS_EXPYRE.get(xpr_status, xpr_status)


def _list(value: Patterns) -> List[str]:
    """A list of patterns from None, one pattern, or several."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def row(record: Mapping[str, Any]) -> Dict[str, Any]:
    """ExPyRe's row for an xpr task record (``Task.record()``)."""
    status = record["status"]
    local_dir = record.get("local_dir")
    # The scheduler's view where xpr has one: how the attempt ended, else queued/running.
    remote_status = record.get("end_state") or {"submitted": "queued", "started": "running"}.get(
        status
    )
    return {
        "id": record["id"],
        "name": record["name"],
        # ExPyRe's from_dir is the dir holding the job's stage dir: here the stage root.
        "from_dir": str(Path(local_dir).parent) if local_dir else None,
        "status": expyre_status(status),
        "system": record["system"],
        "remote_id": record.get("scheduler_job_id"),
        "remote_status": remote_status,
        "creation_time": record.get("created_at"),
        "status_time": record.get("updated_at"),
    }


class JobsDB:
    """The jobs DB of the current config (``expyre.config.db``), read through the session."""

    def jobs(
        self,
        status: Patterns = None,
        name: Patterns = None,
        id: Patterns = None,
        system: Patterns = None,
        readonly: bool = True,
    ) -> List[Dict[str, Any]]:
        """The jobs the filters select, oldest first, as dicts with ExPyRe's keys (``id``,
        ``name``, ``from_dir``, ``status``, ``system``, ``remote_id``, ``remote_status``,
        ``creation_time``, ``status_time``; times are seconds since the epoch).

        Each filter is one regexp or a list of them, each matching a whole value (as
        ``xpr ls`` and partition regexps); ``status`` also takes the groups ``ongoing`` and
        ``can_produce_results``. ``readonly`` is accepted for ExPyRe's sake: reading never
        locks the DB here."""
        del readonly  # xpr's DB is WAL-mode: a read takes no lock a writer waits for
        filter = {"ids": _list(id), "names": _list(name), "systems": _list(system)}
        records = json.loads(config.session()._native.list(json.dumps(filter)))
        rows = [row(r) for r in records]
        wanted = _list(status)
        if not wanted:
            return rows
        try:
            matchers = [re.compile(p) for p in wanted if p not in GROUPS]
        except re.error as err:
            raise ValueError(f"status pattern {err.pattern!r}: {err}") from None
        groups = {s for p in wanted for s in GROUPS.get(p, ())}
        return [
            r for r in rows
            if r["status"] in groups or any(m.fullmatch(r["status"]) for m in matchers)
        ]  # fmt: skip

    def __repr__(self) -> str:
        return f"<xpr.expyre JobsDB in {config.session().stage_root}>"


def find_reusable(name: str, identity_key: str) -> Optional[Dict[str, Any]]:
    """The newest task named ``name`` with ExPyRe identity ``identity_key`` that can still
    produce results (ExPyRe's restart rule), as its xpr record; None if there is none."""
    filter = {"names": [literal_pattern(name)], "statuses": ["can_produce_results"]}
    records = json.loads(config.session()._native.list(json.dumps(filter)))
    for record in reversed(records):
        if stored_spec(record).get("spec", {}).get("identity_key") == identity_key:
            return record
    return None


def literal_pattern(text: str) -> str:
    """A regexp matching ``text`` itself, in the syntax Python's and the library's (Rust's)
    regexps share: only their meta characters are escaped (Python's ``re.escape`` also escapes
    ``-``, ``#`` ... which older Rust regexps refuse)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def stored_spec(record: Mapping[str, Any]) -> Dict[str, Any]:
    """The task's stored spec (its command, inputs, outputs ... as recorded), or {}."""
    try:
        spec = json.loads(record.get("spec") or "{}")
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}
