"""ExPyRe's job-side environment lines and the copy of output files into the current dir."""

from __future__ import annotations

import filecmp
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Iterable, List, Tuple

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_var_commands(env_vars: Iterable[str]) -> List[str]:
    """The job's ``export`` lines for ExPyRe's ``env_vars``.

    ``NAME=value`` is exported as written, unquoted, so the job's shell expands it (wfl's
    ``WFL_NUM_PYTHON_SUBPROCESSES=${EXPYRE_NUM_CORES_PER_NODE}``); quote inside the value
    what must stay literal. A bare ``NAME`` carries this process's value, quoted, so it
    arrives as it is here; when ``NAME`` is not set here, the job's own value is exported
    (what ExPyRe does for every bare name).
    """
    lines = []
    for entry in env_vars:
        entry = str(entry)
        name, sep, value = entry.partition("=")
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"env_vars entry {entry!r}: {name!r} is not a shell variable name (hint: "
                "give NAME=value, or a bare NAME to pass on this process's value)"
            )
        if sep:
            lines.append(f"export {name}={value}")
        elif name in os.environ:
            lines.append(f"export {name}={shlex.quote(os.environ[name])}")
        else:
            lines.append(f"export {name}")
    return lines


def _free_backup(dest: Path) -> Path:
    """``dest.~N~`` with the first N not taken (``cp --backup=numbered``'s name)."""
    n = 1
    while True:
        candidate = dest.with_name(f"{dest.name}.~{n}~")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _copy_file(source: Path, dest: Path) -> None:
    """Copies ``source`` to ``dest``: an identical ``dest`` stays as it is, a different one
    is kept as ``dest.~N~`` first (as xpr's own delivery: a user's file is never lost), and
    the new file is written under a temporary name and renamed into place."""
    if dest.is_file() and filecmp.cmp(source, dest, shallow=False):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(f".{dest.name}.xpr-{os.getpid()}.tmp")
    shutil.copy2(source, temp)
    if os.path.lexists(dest):
        # A hard link first, so the name holds the old bytes or the new ones, never none.
        backup = _free_backup(dest)
        try:
            os.link(dest, backup, follow_symlinks=False)
        except OSError:
            os.replace(dest, backup)
    os.replace(temp, dest)


def copy_outputs(
    run_dir: Path, patterns: Iterable[str], dest: Path
) -> Tuple[List[Path], List[str]]:
    """Copies what ``patterns`` (paths or globs relative to the run dir) match in ``run_dir``
    to ``dest``, keeping relative paths; returns the files written and the patterns that
    matched nothing."""
    written: List[Path] = []
    missing: List[str] = []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        matches = sorted(run_dir.glob(pattern)) if any(c in pattern for c in "*?[") else (
            [run_dir / pattern] if os.path.lexists(run_dir / pattern) else []
        )
        if not matches:
            missing.append(pattern)
        for match in matches:
            if match.is_dir():
                files = sorted(p for p in match.rglob("*") if p.is_file())
            else:
                files = [match]
            for source in files:
                target = dest / source.relative_to(run_dir)
                _copy_file(source, target)
                written.append(target)
    return written, missing
