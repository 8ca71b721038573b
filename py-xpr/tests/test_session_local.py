"""The Pythonic API on the built-in local scheduler: commands, outputs, failures, logs,
dependencies, callbacks, asyncio."""

import asyncio
import json
from pathlib import Path

import pytest

import xpr
from conftest import LOCAL


def test_a_command_runs_and_its_output_comes_back(session, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    task = session.submit(
        "tr a-z A-Z < in.txt > out.txt; echo done",
        system="loc",
        inputs=["in.txt"],
        outputs=["out.txt"],
        base_dir=tmp_path,
    )
    results = task.result(timeout=120)
    assert task.status == "succeeded"
    assert results.exit_code == 0
    assert (results.local_dir / "out.txt").read_text() == "HELLO\n"
    assert task.logs().stdout == "done\n"
    assert [t.id for t in session.tasks(ids=[task.id])] == [task.id]


def test_a_failing_command_raises_task_failed_with_its_exit_code(session) -> None:
    task = session.submit(["sh", "-c", "echo broken >&2; exit 3"], system="loc", name="bad")
    with pytest.raises(xpr.TaskFailed) as failed:
        task.result(timeout=120)
    assert failed.value.results.exit_code == 3
    assert failed.value.results.end_state == "failed"
    assert "broken" in task.logs().stderr


def test_an_unknown_system_is_an_error_naming_it(session) -> None:
    with pytest.raises(xpr.XprError) as error:
        session.submit(["true"], system="nowhere")
    assert "nowhere" in str(error.value)


def test_a_wait_past_its_timeout_raises_wait_timeout(session) -> None:
    task = session.submit(["sleep", "30"], system="loc")
    with pytest.raises(xpr.WaitTimeout):
        task.wait(timeout=1)
    assert task.cancel()
    task.wait(timeout=120)
    assert task.results().end_state == "cancelled"


def test_children_wait_for_their_parent_and_callbacks_fire_once(session) -> None:
    seen = []
    parent = session.submit(["sh", "-c", "echo p > p.txt"], system="loc", outputs=["p.txt"])
    child = session.submit(["true"], system="loc", name="child", after_ok=parent)
    never = session.submit(["true"], system="loc", name="never", after_fail=parent)
    child.on_success(lambda t: seen.append(("ok", t.id)))
    never.on_exit(lambda t: seen.append(("exit", t.id)))
    never.on_success(lambda t: seen.append(("wrong", t.id)))
    session.wait([parent, child, never], timeout=120)
    assert child.status == "succeeded"
    assert never.results().end_state == "never_ran"
    assert sorted(seen) == sorted([("ok", child.id), ("exit", never.id)])
    session.wait([child, never], timeout=10)
    assert len(seen) == 2, "callbacks fire once"


def test_waits_work_in_asyncio(session) -> None:
    async def main():
        tasks = [session.submit(f"exit {i}", system="loc") for i in range(3)]
        await asyncio.gather(*(t.wait_async(timeout=120) for t in tasks))
        return [t.results().exit_code for t in tasks]

    assert asyncio.run(main()) == [0, 1, 2]


def test_the_xpr_command_is_installed_and_lists_the_tasks(session, local_config) -> None:
    import os
    import subprocess
    import sys

    task = session.submit(["true"], system="loc", name="listed")
    task.wait(timeout=120)
    xpr_cmd = Path(sys.executable).parent / "xpr"
    assert xpr_cmd.exists(), "the wheel installs the `xpr` command"
    env = dict(os.environ, EXPYRE_ROOT=str(local_config.parent))
    out = subprocess.run([xpr_cmd, "ls"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert task.id in out.stdout
    # ExPyRe's spellings are there.
    for sub in ("db_unlock", "reset_status", "sync", "rm"):
        help_out = subprocess.run([xpr_cmd, sub, "--help"], capture_output=True, text=True)
        assert help_out.returncode == 0, (sub, help_out.stderr)


def test_a_profile_and_expyre_sys_choose_the_system(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / ".expyre"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "systems": LOCAL,
        "profiles": {"greet": {"system": "loc", "env": {"GREETING": "from the profile"}}},
    }))
    with xpr.Session(folder / "config.json") as session:
        task = session.submit(["sh", "-c", 'echo "$GREETING"'], profile="greet")
        task.wait(timeout=120)
        assert task.system == "loc"
        assert task.logs().stdout == "from the profile\n"
        monkeypatch.setenv("EXPYRE_SYS", "loc")
        assert session.submit(["true"], name="by-env").system == "loc"
        monkeypatch.delenv("EXPYRE_SYS")
        assert session.submit(["true"], name="default").system == "local"
        with pytest.raises(xpr.ConfigError) as error:
            session.submit(["true"], profile="nosuch")
        assert "nosuch" in str(error.value)
