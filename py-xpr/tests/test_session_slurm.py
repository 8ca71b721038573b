"""The Pythonic API on the test bed's real Slurm over SSH (tests/testbed/setup.sh): a command
with its input and output, Python functions in arrays and packs, a remote exception. The
test bed's head node has only its own python3: the tests' helper module travels with each
task as an input (the runner imports from the run dir)."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

import xpr
from pyfunc_helpers import HelperError, add, raise_helper_error

HELPERS = str(Path(__file__).resolve().parent / "pyfunc_helpers.py")


def _testbed_env() -> dict:
    """The test bed's endpoints (its env file); None when Slurm is switched off."""
    off = os.environ.get("XPR_TESTBED_OFF", "").split(",")
    if "slurm" in off or "all" in off:
        pytest.skip("SKIPPED: the test bed's Slurm is switched off by XPR_TESTBED_OFF")
    path = Path(os.environ.get("XPR_TESTBED_ENV", "/tmp/xpr-testbed/env.sh"))
    if not path.exists():
        pytest.fail(f"test bed env file {path} missing: start it with tests/testbed/setup.sh")
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            env[key] = value
    return env


@pytest.fixture
def slurm(tmp_path: Path):
    """A session with system ``slurm`` (the test bed's, over SSH), its remote run dirs under a
    dir of its own that is removed afterwards."""
    env = _testbed_env()
    ssh = ["ssh", "-F", env["XPR_SSH_CONFIG"], "xpr-local"]
    rundir = f"xpr-py-tests/{uuid.uuid4().hex[:12]}"
    folder = tmp_path / ".expyre"
    folder.mkdir()
    system = {
        "host": "xpr-local",
        "scheduler": "slurm",
        "remsh_cmd": f"ssh -F {env['XPR_SSH_CONFIG']}",
        "rundir": rundir,
        "partitions": {"debug": {"num_cores": 16, "max_time": None, "max_mem": None}},
    }
    (folder / "config.json").write_text(json.dumps({"systems": {"slurm": system}}))
    with xpr.Session(folder / "config.json") as session:
        yield session
    subprocess.run(ssh + [f"rm -rf -- \"$HOME\"/{rundir}"], check=False)


def test_a_command_runs_on_slurm_with_its_input_and_output(slurm, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("over ssh\n")
    task = slurm.submit(
        "tr a-z A-Z < in.txt > out.txt; hostname",
        system="slurm",
        inputs=["in.txt"],
        outputs=["out.txt"],
        base_dir=tmp_path,
    )
    results = task.result(timeout=240)
    assert (results.local_dir / "out.txt").read_text() == "OVER SSH\n"
    assert task.scheduler_job_id and task.scheduler_job_id.isdigit()
    assert task.logs().stdout.strip()


@pytest.mark.parametrize("mode", ["array", "packed"])
def test_python_functions_run_on_slurm_in_arrays_and_packs(slurm, mode: str) -> None:
    calls = [((i, 100), {}) for i in range(6)]
    options = {"pack": 3} if mode == "packed" else {}
    tasks = slurm.map_calls(
        add,
        calls,
        system="slurm",
        python="python3",
        inputs=[HELPERS],
        mode=mode,
        name=f"add_{mode}",
        **options,
    )
    assert [t.result(timeout=240) for t in tasks] == [i + 100 for i in range(6)]
    jobs = {t.scheduler_job_id for t in tasks}
    # An array's elements are jobs of their own (`123_4`); a pack's tasks share one job.
    assert len(jobs) == (6 if mode == "array" else 2), jobs
    if mode == "array":
        assert all("_" in j for j in jobs), jobs


def test_a_remote_exception_on_slurm_comes_back_as_its_own_type(slurm) -> None:
    task = slurm.call(
        raise_helper_error, "far", xpr_options={"system": "slurm", "inputs": [HELPERS]}
    )
    with pytest.raises(HelperError, match="bad value far"):
        task.result(timeout=240)
