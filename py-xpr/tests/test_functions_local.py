"""Python functions as tasks on the built-in local scheduler: values and numpy arrays back,
remote exceptions raised again as their own type, dead jobs, by-value pickling, Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import xpr
from pyfunc_helpers import HelperError, add, announce_then_sleep, numpy_payload, raise_helper_error

# The jobs' Python: this venv's, which has numpy and cloudpickle (a remote has its own).
PY = {"system": "loc", "python": sys.executable}


def test_map_runs_a_module_function_per_item_in_each_mode(session) -> None:
    individual = session.map(add, range(3), **PY, name="add1")
    packed = session.map(add, range(3, 10), **PY, name="add2", mode="packed", pack=3)
    session.wait(individual + packed, timeout=180)
    # add(item) needs b: each call raised TypeError remotely, as its own type.
    with pytest.raises(TypeError):
        individual[0].result()
    calls = [((i, 10), {"scale": 2}) for i in range(7)]
    tasks = session.map_calls(add, calls, **PY, mode="packed", pack=3)
    assert [t.result(timeout=180) for t in tasks] == [(i + 10) * 2 for i in range(7)]
    jobs = {t.scheduler_job_id for t in tasks}
    assert len(jobs) == 3, f"7 calls, 3 per job: {jobs}"


def test_numpy_arguments_and_results_round_trip(session) -> None:
    np = pytest.importorskip("numpy")
    task = session.call(add, np.arange(4.0), np.ones(4), xpr_options=PY)
    assert np.array_equal(task.result(timeout=120), np.arange(4.0) + 1)
    payload = session.call(numpy_payload, 5, xpr_options=PY).result(timeout=120)
    assert np.array_equal(payload["array"], np.arange(5) * 0.5)


def test_a_remote_exception_is_raised_as_its_own_type_with_its_traceback(session) -> None:
    task = session.call(raise_helper_error, 42, xpr_options=PY)
    with pytest.raises(HelperError, match="bad value 42") as raised:
        task.result(timeout=120)
    remote = raised.value.__xpr_remote_traceback__
    assert "raise_helper_error" in remote and 'raise HelperError("bad value' in remote
    assert task.status == "failed"


def test_a_job_killed_before_its_function_ended_raises_job_died(session, tmp_path) -> None:
    marker = tmp_path / "started"
    task = session.call(announce_then_sleep, str(marker), 60, xpr_options=PY)
    deadline = time.time() + 60
    while not marker.exists():
        assert time.time() < deadline, "the call did not start"
        time.sleep(0.1)
    assert task.cancel()
    with pytest.raises(xpr.JobDiedError, match="cancelled"):
        task.result(timeout=120)


def test_functions_of_a_script_go_by_value_or_are_refused_by_name(session) -> None:
    pytest.importorskip("cloudpickle")

    def scaled(x):
        return x * 3

    with pytest.raises(Exception, match="scaled"):
        session.call(scaled, 2, xpr_options=PY)
    task = session.call(scaled, 2, xpr_options=dict(PY, by_value=True))
    assert task.result(timeout=120) == 6


def test_ctrl_c_during_a_wait_stops_the_wait_and_leaves_the_db_whole(local_config, tmp_path) -> None:
    script = tmp_path / "waiter.py"
    ready = tmp_path / "ready"
    script.write_text(
        textwrap.dedent(
            f"""
            import xpr
            s = xpr.Session({str(local_config)!r})
            t = s.submit(["sleep", "3"], system="loc", name="interrupted")
            open({str(ready)!r}, "w").write(t.id)
            try:
                t.wait(timeout=120)
            except KeyboardInterrupt:
                print("interrupted", t.status)
                raise SystemExit(130)
            """
        )
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not ready.exists():
        assert time.time() < deadline and child.poll() is None, "the waiter did not start"
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 130, out
    assert out.startswith("interrupted ")
    # The task goes on, and another session finishes following it.
    with xpr.Session(local_config) as again:
        task = again.task(ready.read_text())
        assert task.wait(timeout=120).status == "succeeded"
