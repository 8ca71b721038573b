"""xpr.expyre's config: found as ExPyRe finds it when init() is not called (a cwd `_expyre`,
EXPYRE_ROOT), init()'s errors, EXPYRE_SYS, input files in the restart identity, several-word
python_cmd, and a script's own function sent by value. Each discovery case runs in a fresh
Python, as a user's program would."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import xpr
from conftest import LOCAL
from expyre_helpers import read_text
from xpr.expyre import ExPyRe, config

WAIT = 120
HERE = Path(__file__).resolve().parent


def run_python(program: str, cwd: Path, env: dict) -> str:
    """Runs ``program`` in a fresh Python in ``cwd`` with ``env``; returns its stdout (the
    test fails with its stderr if it fails)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=WAIT + 60,
    )  # fmt: skip
    assert done.returncode == 0, f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def clean_env(home: Path) -> dict:
    """This environment without ExPyRe's variables, with ``home`` as HOME (so no
    ~/.expyre of the user's is read) and the tests' helpers importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPYRE_")}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


JOB = f"""
    import json, sys
    from expyre import ExPyRe, config
    from expyre_helpers import chunk_sum
    job = ExPyRe("found", function=chunk_sum, args=[[20, 22]])
    job.start({{"max_time": "10m", "num_cores": 1}}, partial_node=True, python_cmd=sys.executable)
    value = job.get_results(timeout={WAIT})[0]
    print(json.dumps({{"value": value, "stage_root": str(config.local_stage_dir),
                      "systems": sorted(config.systems), "system": job.system_name}}))
"""


def test_without_init_the_config_is_found_in_a_cwd_expyre_dir(tmp_path) -> None:
    project = tmp_path / "home" / "project"
    (project / "_expyre").mkdir(parents=True)
    (project / "_expyre" / "config.json").write_text(json.dumps({"systems": LOCAL}))
    env = dict(clean_env(tmp_path / "home"), EXPYRE_SYS="loc")
    seen = json.loads(run_python(JOB, cwd=project, env=env))
    assert seen == {"value": 42, "stage_root": str(project / "_expyre"),
                    "systems": ["loc", "local"], "system": "loc"}  # fmt: skip


def test_without_init_expyre_root_names_the_config_and_stage_root(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"systems": LOCAL}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(clean_env(tmp_path), EXPYRE_ROOT=str(root), EXPYRE_SYS="loc")
    seen = json.loads(run_python(JOB, cwd=elsewhere, env=env))
    assert seen["value"] == 42 and seen["stage_root"] == str(root)


def test_init_needs_a_dir_with_config_json(tmp_path) -> None:
    with pytest.raises(xpr.ConfigError, match="config.json does not exist"):
        config.init(tmp_path / "nothing-here")


def test_a_broken_config_is_an_error_naming_the_problem(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"systems": {"bad": {"host": None}}}))
    config.init(tmp_path)
    with pytest.raises(xpr.ConfigError, match="bad"):
        config.systems  # noqa: B018 (read for its effect)


@pytest.fixture
def expyre_root(local_config: Path):
    config.init(local_config.parent)
    return local_config.parent


def test_input_files_are_staged_and_in_the_identity(expyre_root, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXPYRE_SYS", "loc")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("first\n")

    def job():
        return ExPyRe("reader", function=read_text, args=["data/in.txt"],
                      input_files=["data/in.txt"])  # fmt: skip

    start = {"resources": {"max_time": "10m", "num_cores": 1}, "partial_node": True,
             "python_cmd": f"{sys.executable} -u"}  # fmt: skip
    first = job()
    first.start(**start)
    assert first.system_name == "loc", "EXPYRE_SYS is the default system"
    assert first.get_results(timeout=WAIT)[0] == "first\n"
    assert job().recreated, "same inputs: the same job"
    (tmp_path / "data" / "in.txt").write_text("second\n")
    changed = job()
    assert not changed.recreated, "an input's content is part of the identity"
    changed.start(**start)
    assert changed.get_results(timeout=WAIT)[0] == "second\n"


def test_a_function_of_the_main_script_goes_by_value(local_config, tmp_path) -> None:
    pytest.importorskip("cloudpickle")
    program = f"""
        import sys
        from expyre import ExPyRe, config
        config.init({str(local_config.parent)!r})

        def triple(x):
            return 3 * x

        job = ExPyRe("script_fn", function=triple, args=[14])
        job.start({{"max_time": "10m", "num_cores": 1}}, system_name="loc", partial_node=True,
                  python_cmd=sys.executable)
        print(job.get_results(timeout={WAIT})[0])
    """
    assert run_python(program, cwd=tmp_path, env=clean_env(tmp_path)).strip() == "42"
