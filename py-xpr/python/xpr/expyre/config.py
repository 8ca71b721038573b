"""ExPyRe's ``expyre.config``: where the config and the jobs DB are, the systems, the DB.

Module attributes, as ExPyRe has them:

- ``systems``: a dict, system name -> :class:`System` (``.host``, ``.scheduler``,
  ``.partitions`` ...), read from the config the library loads.
- ``db``: the jobs DB, :class:`xpr.expyre.jobsdb.JobsDB` (``db.jobs(status=, name=, id=,
  system=)``).
- ``local_stage_dir``: the stage root (jobs DB and local run dirs), a ``Path``.

:func:`init` points everything at ``root_dir`` (``root_dir/config.json`` is the config and
``root_dir`` the stage root, as ``EXPYRE_ROOT`` does). Without it the config is found as the
``xpr`` command finds it (``EXPYRE_ROOT``, else ``.expyre``/``_expyre`` dirs from the current
directory up, and ``~/.expyre``), at first use rather than at import (ExPyRe looks at import),
so that ``import xpr.expyre`` stays fast and a later ``chdir`` still counts until then.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

if TYPE_CHECKING:  # only for hints: importing xpr here would slow `import xpr.expyre.config`
    import xpr

# The state of the module: the root given to init(), and the objects made from it on first use.
_lock = threading.RLock()
_root_dir: Optional[Path] = None
_verbose = False
_session: "Optional[xpr.Session]" = None

# Attributes computed at first access (PEP 562 __getattr__) and cached as module globals;
# init() forgets them.
_LAZY = ("systems", "db", "local_stage_dir")


@dataclass
class System:
    """A system of the config, as ExPyRe's ``System`` shows it (read-only data here: xpr's
    library does the work)."""

    #: The system's name in config.json.
    name: str
    #: The login host (``user@host``), or None for this machine.
    host: Optional[str]
    #: The scheduler's name: ``slurm``, ``pbs``, ``sge``, ``lsf`` or ``local``.
    scheduler: str
    #: Partition name -> its settings (``num_cores``, ``max_time``, ``max_mem`` ...).
    partitions: Dict[str, Dict[str, Any]]
    #: The system's header template lines.
    header: List[str] = field(default_factory=list)
    #: Lines run in every job after ``cd`` to its dir.
    commands: List[str] = field(default_factory=list)
    #: The remote run dir's base (relative: under ``$HOME``), when the config sets it.
    rundir: Optional[str] = None
    #: The remote shell command, when the config sets it.
    remsh_cmd: Optional[str] = None
    #: True when the scheduler's default header lines are left out.
    no_default_header: bool = False
    #: The job script's interpreter.
    script_exec: str = "/bin/bash"
    #: Commands run before each submission.
    pre_submit_cmds: List[str] = field(default_factory=list)
    #: The system's entry of the merged config.json, as written (empty for built-in systems).
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def queues(self) -> Dict[str, Dict[str, Any]]:
        """ExPyRe's older name of :attr:`partitions`."""
        return self.partitions


def init(root_dir: Union[str, "os.PathLike[str]"], verbose: bool = False) -> None:
    """Uses ``root_dir/config.json`` as the config and ``root_dir`` as the stage root (the
    jobs DB and local run dirs), as ``EXPYRE_ROOT=root_dir`` would; forgets the systems, DB
    and session of an earlier config. With ``verbose``, says what it uses on stderr."""
    root = Path(root_dir).expanduser().resolve()
    config_file = root / "config.json"
    if not config_file.is_file():
        from .._xpr import ConfigError

        raise ConfigError(
            f"expyre.config.init({str(root_dir)!r}): {config_file} does not exist (hint: "
            "init() takes the directory that holds config.json, and uses it as the stage root)"
        )
    global _root_dir, _verbose, _session
    with _lock:
        old, _session = _session, None
        _root_dir, _verbose = root, verbose
        for name in _LAZY:
            globals().pop(name, None)
    if old is not None:
        old.close()
    if verbose:
        print(f"expyre.config: config {config_file}, stage root {root}", file=sys.stderr)


def session() -> "xpr.Session":
    """The one :class:`xpr.Session` every ExPyRe object of this process goes through, opened
    at first use from the config :func:`init` named, or the one found."""
    global _session
    with _lock:
        if _session is None:
            from .._session import Session

            if _root_dir is not None:
                _session = Session(_root_dir / "config.json")
            else:
                _session = Session()
                problems = _session._native.config_problems
                if problems:
                    # As the xpr command: a broken config leaves the built-in local usable.
                    print(f"expyre.config: only `local` is usable: {problems}", file=sys.stderr)
            if _verbose:
                print(f"expyre.config: stage root {_session.stage_root}", file=sys.stderr)
        return _session


def _load_systems() -> Dict[str, System]:
    """The systems of the config, as the library loads and checks it (the session's own
    config, so exactly the file the session reads)."""
    report = json.loads(session()._native.config_json())
    merged = (report.get("merged") or {}).get("systems") or {}
    systems: Dict[str, System] = {}
    for entry in report.get("systems") or []:
        name = entry["name"]
        raw = merged.get(name) or {}
        raw_partitions = raw.get("partitions", raw.get("queues"))
        partitions = (
            {k: dict(v or {}) for k, v in raw_partitions.items()}
            if isinstance(raw_partitions, dict)
            else {
                p["name"]: {k: v for k, v in p.items() if k != "name"}
                for p in entry.get("partitions") or []
            }
        )
        systems[name] = System(
            name=name,
            host=entry.get("host"),
            scheduler=str(entry.get("scheduler")),
            partitions=partitions,
            header=list(raw.get("header") or []),
            commands=list(raw.get("commands") or []),
            rundir=raw.get("rundir"),
            remsh_cmd=raw.get("remsh_cmd"),
            no_default_header=bool(raw.get("no_default_header", False)),
            script_exec=raw.get("script_exec") or "/bin/bash",
            pre_submit_cmds=list(raw.get("pre_submit_cmds") or []),
            raw=dict(raw),
        )
    return systems


def __getattr__(name: str) -> Any:
    """``systems``, ``db`` and ``local_stage_dir``, made at first access (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if name in globals():
            return globals()[name]
        if name == "systems":
            value: Any = _load_systems()
        elif name == "db":
            from .jobsdb import JobsDB

            value = JobsDB()
        else:
            value = session().stage_root
        globals()[name] = value
        return value


def loaded_systems() -> Optional[Dict[str, System]]:
    """``systems`` if it was read already (and perhaps edited by the caller), else None:
    lets a start refuse a system the caller deleted without reading the config for it."""
    return globals().get("systems")
