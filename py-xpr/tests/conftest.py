"""Shared fixtures: each test gets its own stage root (jobs DB, run dirs) through a config of
its own, so tests never see each other's tasks or the user's."""

import json
import os
import sys
from pathlib import Path

import pytest

# The helper modules of the tests (functions pickled by reference) import in the jobs too:
# local jobs inherit PYTHONPATH.
HERE = Path(__file__).resolve().parent
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
sys.path.insert(0, str(HERE))


def write_config(root: Path, systems: dict) -> Path:
    """A config.json under ``root/.expyre`` with ``systems``; returns its path."""
    folder = root / ".expyre"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps({"systems": systems}))
    return path


LOCAL = {
    "loc": {
        "host": None,
        "scheduler": "local",
        "partitions": {"local": {"num_cores": 2, "max_time": None, "max_mem": None}},
    }
}


@pytest.fixture
def local_config(tmp_path: Path) -> Path:
    """A config with one `local`-scheduler system named ``loc``, its stage root in tmp."""
    return write_config(tmp_path, LOCAL)


@pytest.fixture
def session(local_config: Path):
    import xpr

    with xpr.Session(local_config) as s:
        yield s
