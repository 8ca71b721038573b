"""Tests of running a Python function through the run-dir file protocol.

``xpr._pyfunc`` (local side) writes the call and reads the outcome; the real
runner (``xpr/_runner.py``, copied into a temporary run dir as
``xpr_py_runner.py``) runs in a subprocess in between, as a job would.  No xpr
binding is needed: both modules are loaded from their files, so this works
whatever ``xpr/__init__.py`` imports.

The runner's Python gets this directory on PYTHONPATH so ``pyfunc_helpers``
imports there, like a remote side with the module installed.
"""

import ast
import importlib.util
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = TESTS_DIR.parent / "python" / "xpr"

# pyfunc_helpers must import under the same name here as in the runner, so
# that an exception class coming back is the very class the tests compare to.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import pyfunc_helpers  # noqa: E402


def _load(name, path):
    """Import the module at ``path`` as ``name``, without importing the xpr package."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is made.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pyfunc = _load("xpr_pyfunc_under_test", PACKAGE_DIR / "_pyfunc.py")
runner = _load("xpr_runner_under_test", PACKAGE_DIR / "_runner.py")


class DiedError(Exception):
    """What the tests' died_error_factory makes."""


def run_runner(run_dir, *, helpers_importable=True, python=sys.executable):
    """Run the runner in ``run_dir`` as a job would; return the CompletedProcess."""
    (run_dir / pyfunc.RUNNER_FILE).write_text(pyfunc.runner_source(), encoding="utf-8")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # No __pycache__ in the run dir, so tests can check exactly what the runner leaves.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if helpers_importable:
        env["PYTHONPATH"] = str(TESTS_DIR)
    return subprocess.run(
        [python, pyfunc.RUNNER_FILE],
        cwd=str(run_dir),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )


def run_call(run_dir, function, args=(), kwargs=None, *, by_value=False, helpers_importable=True):
    """Write the call, run the runner, return ``(process, outcome)``."""
    pyfunc.write_call(run_dir / pyfunc.CALL_FILE, function, args, kwargs or {}, by_value=by_value)
    proc = run_runner(run_dir, helpers_importable=helpers_importable)
    return proc, pyfunc.read_outcome(run_dir)


def files_in(run_dir):
    """The names in ``run_dir``, minus the two files every run starts with."""
    return {p.name for p in run_dir.iterdir()} - {pyfunc.CALL_FILE, pyfunc.RUNNER_FILE}


def raise_or_return(outcome):
    return pyfunc.raise_or_return(outcome, died_error_factory=DiedError)


# --- success ---------------------------------------------------------------


def test_return_value_round_trips(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.add, (2, 3), {"scale": 10})

    assert proc.returncode == 0, proc.stderr
    assert outcome.kind is pyfunc.OutcomeKind.VALUE
    assert raise_or_return(outcome) == 50
    # Only the complete result: no temporary file, no failure files.
    assert files_in(tmp_path) == {pyfunc.RESULT_FILE}


def test_dict_with_numpy_array_round_trips(tmp_path):
    numpy = pytest.importorskip("numpy")

    proc, outcome = run_call(tmp_path, pyfunc_helpers.numpy_payload, (5,))

    assert proc.returncode == 0, proc.stderr
    value = raise_or_return(outcome)
    assert value["label"] == "half-steps"
    assert isinstance(value["array"], numpy.ndarray)
    assert value["array"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_function_output_goes_to_the_process_stdout_and_stderr(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.chatty, (4,))

    assert proc.returncode == 0, proc.stderr
    assert "to stdout 4" in proc.stdout
    assert "to stderr 4" in proc.stderr
    assert raise_or_return(outcome) == 4


def test_module_shipped_in_the_run_dir_imports(tmp_path, monkeypatch):
    # A task can ship its own .py module as an input file: the runner puts the
    # run dir first on sys.path, so it imports with nothing installed.
    local_dir = tmp_path / "local"
    run_dir = tmp_path / "run"
    local_dir.mkdir()
    run_dir.mkdir()
    source = "def triple(x):\n    return 3 * x\n"
    (local_dir / "xpr_test_shipped_mod.py").write_text(source)
    (run_dir / "xpr_test_shipped_mod.py").write_text(source)
    monkeypatch.syspath_prepend(str(local_dir))
    monkeypatch.delitem(sys.modules, "xpr_test_shipped_mod", raising=False)
    import xpr_test_shipped_mod

    try:
        proc, outcome = run_call(run_dir, xpr_test_shipped_mod.triple, (7,), helpers_importable=False)
    finally:
        del sys.modules["xpr_test_shipped_mod"]

    assert proc.returncode == 0, proc.stderr
    assert raise_or_return(outcome) == 21


def test_stale_outputs_of_an_earlier_run_are_removed(tmp_path):
    # A rerun in the same dir must not leave the earlier run's result behind
    # to be read as this run's.
    (tmp_path / pyfunc.RESULT_FILE).write_bytes(pickle.dumps("stale", protocol=4))

    proc, outcome = run_call(tmp_path, pyfunc_helpers.raise_helper_error, (1,))

    assert proc.returncode == 1
    assert outcome.kind is pyfunc.OutcomeKind.RAISED
    assert pyfunc.RESULT_FILE not in files_in(tmp_path)


# --- the call raised ---------------------------------------------------------


def test_custom_exception_comes_back_as_its_own_type_with_remote_traceback(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.raise_helper_error, (3,))

    assert proc.returncode == 1
    assert files_in(tmp_path) == {pyfunc.EXCEPTION_FILE, pyfunc.TRACEBACK_FILE}
    assert outcome.kind is pyfunc.OutcomeKind.RAISED
    with pytest.raises(pyfunc_helpers.HelperError, match="bad value 3") as info:
        raise_or_return(outcome)
    exc = info.value
    assert type(exc) is pyfunc_helpers.HelperError
    remote_tb = exc.__xpr_remote_traceback__
    assert remote_tb.splitlines()[0] == "pyfunc_helpers.HelperError: bad value 3"
    # The remote function's own source line is in the traceback.
    assert 'raise HelperError("bad value {}".format(value))' in remote_tb
    # The local re-raise is not chained to anything.
    assert exc.__cause__ is None
    assert exc.__suppress_context__
    if sys.version_info >= (3, 11):
        assert any('raise HelperError("bad value {}"' in note for note in exc.__notes__)


def test_exception_that_does_not_unpickle_gives_remote_function_error(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.raise_two_arg_error)

    assert proc.returncode == 1
    assert files_in(tmp_path) == {pyfunc.TRACEBACK_FILE}
    assert outcome.kind is pyfunc.OutcomeKind.FAILED
    with pytest.raises(pyfunc.RemoteFunctionError) as info:
        raise_or_return(outcome)
    text = info.value.traceback_text
    assert text.splitlines()[0] == "pyfunc_helpers.TwoArgError: code 7: cannot come back"
    assert 'raise TwoArgError(7, "cannot come back")' in text
    assert "could not be pickled" in text
    assert "TwoArgError" in str(info.value)


def test_exception_that_does_not_pickle_gives_remote_function_error(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.raise_locked_error)

    assert proc.returncode == 1
    assert files_in(tmp_path) == {pyfunc.TRACEBACK_FILE}
    with pytest.raises(pyfunc.RemoteFunctionError) as info:
        raise_or_return(outcome)
    assert info.value.traceback_text.startswith("pyfunc_helpers.LockedError: holds a lock")


def test_unpicklable_return_value_gives_remote_function_error_and_no_partial_result(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.return_unpicklable)

    assert proc.returncode == 1
    assert files_in(tmp_path) == {pyfunc.TRACEBACK_FILE}
    with pytest.raises(pyfunc.RemoteFunctionError) as info:
        raise_or_return(outcome)
    assert "cannot be pickled" in info.value.traceback_text


def test_sys_exit_in_the_function_is_a_failure_not_a_local_exit(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.call_exit, (3,))

    assert proc.returncode == 1
    with pytest.raises(pyfunc.RemoteFunctionError) as info:
        raise_or_return(outcome)
    assert info.value.traceback_text.startswith("builtins.SystemExit: 3")


def test_remote_exception_that_does_not_unpickle_here_falls_back_to_the_traceback(tmp_path):
    # A protocol-0 pickle of a class from a module that does not exist here.
    (tmp_path / pyfunc.EXCEPTION_FILE).write_bytes(b"cxpr_no_such_module_here\nErr\n(tR.")
    (tmp_path / pyfunc.TRACEBACK_FILE).write_text("xpr_no_such_module_here.Err: boom\n\nTraceback ...\n")

    outcome = pyfunc.read_outcome(tmp_path)

    assert outcome.kind is pyfunc.OutcomeKind.FAILED
    assert outcome.traceback_text.startswith("xpr_no_such_module_here.Err: boom")
    assert "cannot unpickle the remote exception" in outcome.traceback_text
    assert "xpr_no_such_module_here" in outcome.traceback_text.splitlines()[-1]


def test_result_that_does_not_unpickle_here_is_a_clear_error(tmp_path):
    (tmp_path / pyfunc.RESULT_FILE).write_bytes(b"cxpr_no_such_module_here\nValue\n(tR.")

    with pytest.raises(pyfunc.OutcomeReadError, match=pyfunc.RESULT_FILE):
        pyfunc.read_outcome(tmp_path)


# --- the call could not run, or the job died ---------------------------------


def test_module_missing_remotely_exits_2_with_traceback_naming_it(tmp_path):
    proc, outcome = run_call(tmp_path, pyfunc_helpers.add, (1, 2), helpers_importable=False)

    assert proc.returncode == 2
    assert files_in(tmp_path) == {pyfunc.TRACEBACK_FILE}
    text = (tmp_path / pyfunc.TRACEBACK_FILE).read_text()
    assert "cannot load the call" in text
    assert "No module named 'pyfunc_helpers'" in text
    # Also printed, so it is in the task's logs.
    assert "No module named 'pyfunc_helpers'" in proc.stderr
    assert outcome.kind is pyfunc.OutcomeKind.FAILED
    with pytest.raises(pyfunc.RemoteFunctionError, match="pyfunc_helpers"):
        raise_or_return(outcome)


def test_corrupt_call_file_exits_2(tmp_path):
    (tmp_path / pyfunc.CALL_FILE).write_bytes(b"not a pickle")

    proc = run_runner(tmp_path)

    assert proc.returncode == 2
    assert files_in(tmp_path) == {pyfunc.TRACEBACK_FILE}
    assert pyfunc.read_outcome(tmp_path).kind is pyfunc.OutcomeKind.FAILED


def test_pickle_that_is_not_a_call_exits_2(tmp_path):
    (tmp_path / pyfunc.CALL_FILE).write_bytes(pickle.dumps(["not", "a", "call"], protocol=4))

    proc = run_runner(tmp_path)

    assert proc.returncode == 2
    assert "function, args and kwargs" in (tmp_path / pyfunc.TRACEBACK_FILE).read_text()


def test_job_killed_mid_call_leaves_nothing_and_uses_the_died_factory(tmp_path):
    marker = tmp_path / "started"
    pyfunc.write_call(tmp_path / pyfunc.CALL_FILE, pyfunc_helpers.announce_then_sleep, (str(marker), 600), {})
    (tmp_path / pyfunc.RUNNER_FILE).write_text(pyfunc.runner_source(), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, pyfunc.RUNNER_FILE], cwd=str(tmp_path), env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the runner ended before the call started"
            assert time.monotonic() < deadline, "the call did not start within 60 s"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()

    outcome = pyfunc.read_outcome(tmp_path)

    assert outcome.kind is pyfunc.OutcomeKind.NOTHING
    with pytest.raises(DiedError) as info:
        raise_or_return(outcome)
    assert str(tmp_path) in str(info.value)
    assert pyfunc.RESULT_FILE in str(info.value)


def test_died_factory_result_is_raised(tmp_path):
    seen = []

    def factory(message):
        seen.append(message)
        return KeyError("custom")

    with pytest.raises(KeyError, match="custom"):
        pyfunc.raise_or_return(pyfunc.read_outcome(tmp_path), died_error_factory=factory)
    assert len(seen) == 1 and "died" in seen[0]


# --- writing the call ------------------------------------------------------


def _nested():
    def inner(x):
        return x

    return inner


def _defined_in_main():
    namespace = {"__name__": "__main__"}
    exec("def main_function(x):\n    return x\n", namespace)
    return namespace["main_function"]


@pytest.mark.parametrize(
    "function, named, why",
    [
        (lambda x: x, "<lambda>", "lambda"),
        (_nested(), "_nested.<locals>.inner", "inside another function"),
        (_defined_in_main(), "__main__.main_function", "__main__"),
    ],
    ids=["lambda", "nested", "main"],
)
def test_unimportable_function_is_refused_by_reference(tmp_path, function, named, why):
    with pytest.raises(pyfunc.CallPicklingError) as info:
        pyfunc.write_call(tmp_path / pyfunc.CALL_FILE, function, (1,), {})

    message = str(info.value)
    assert named in message
    assert why in message
    assert "by_value=True" in message
    assert "module level" in message
    assert not (tmp_path / pyfunc.CALL_FILE).exists()


def test_unpicklable_argument_is_a_clear_error(tmp_path):
    with pytest.raises(pyfunc.CallPicklingError, match="pyfunc_helpers.add"):
        pyfunc.write_call(tmp_path / pyfunc.CALL_FILE, pyfunc_helpers.add, (lambda: 0, 1), {})
    assert list(tmp_path.iterdir()) == []


def test_call_file_is_protocol_4_dict(tmp_path):
    pyfunc.write_call(tmp_path / pyfunc.CALL_FILE, pyfunc_helpers.add, (1, 2), {"scale": 3})

    data = (tmp_path / pyfunc.CALL_FILE).read_bytes()
    assert data[:2] == b"\x80\x04"
    assert pickle.loads(data) == {"function": pyfunc_helpers.add, "args": [1, 2], "kwargs": {"scale": 3}}
    assert [p.name for p in tmp_path.iterdir()] == [pyfunc.CALL_FILE]


def test_by_value_runs_a_nested_function(tmp_path):
    pytest.importorskip("cloudpickle")
    offset = 100

    def add_offset(x):
        return x + offset

    proc, outcome = run_call(tmp_path, add_offset, (5,), by_value=True, helpers_importable=False)

    assert proc.returncode == 0, proc.stderr
    assert raise_or_return(outcome) == 105


def test_by_value_without_cloudpickle_says_how_to_install_it(tmp_path, monkeypatch):
    # A None entry makes `import cloudpickle` raise ImportError.
    monkeypatch.setitem(sys.modules, "cloudpickle", None)

    with pytest.raises(ImportError, match="pip install cloudpickle") as info:
        pyfunc.write_call(tmp_path / pyfunc.CALL_FILE, pyfunc_helpers.add, (1, 2), {}, by_value=True)
    assert isinstance(info.value, pyfunc.CloudpickleMissingError)


# --- old remote Pythons ----------------------------------------------------

# Interpreters to run the runner with, as a remote node might have them
# (e.g. a Python 3.6): paths separated by os.pathsep.  Unset: the test says it
# was skipped.
OLD_PYTHONS = [p for p in os.environ.get("XPR_PYFUNC_REMOTE_PYTHONS", "").split(os.pathsep) if p]


@pytest.mark.skipif(not OLD_PYTHONS, reason="set XPR_PYFUNC_REMOTE_PYTHONS to old interpreters to run")
@pytest.mark.parametrize("python", OLD_PYTHONS)
def test_runner_works_with_an_old_remote_python(tmp_path, python):
    value_dir, raised_dir, missing_dir = tmp_path / "value", tmp_path / "raised", tmp_path / "missing"
    for run_dir, function, args in [
        (value_dir, pyfunc_helpers.add, (2, 3)),
        (raised_dir, pyfunc_helpers.raise_helper_error, (5,)),
        (missing_dir, pyfunc_helpers.add, (2, 3)),
    ]:
        run_dir.mkdir()
        pyfunc.write_call(run_dir / pyfunc.CALL_FILE, function, args, {})

    assert run_runner(value_dir, python=python).returncode == 0
    assert run_runner(raised_dir, python=python).returncode == 1
    assert run_runner(missing_dir, python=python, helpers_importable=False).returncode == 2

    assert raise_or_return(pyfunc.read_outcome(value_dir)) == 5
    with pytest.raises(pyfunc_helpers.HelperError, match="bad value 5") as info:
        raise_or_return(pyfunc.read_outcome(raised_dir))
    assert info.value.__xpr_remote_traceback__.startswith("pyfunc_helpers.HelperError: bad value 5")
    with pytest.raises(pyfunc.RemoteFunctionError, match="No module named 'pyfunc_helpers'"):
        raise_or_return(pyfunc.read_outcome(missing_dir))


# --- atomic writes ---------------------------------------------------------


def test_runner_write_is_invisible_until_complete(tmp_path, monkeypatch):
    target = tmp_path / "out.pkl"
    seen = []
    real_replace = os.replace

    def checking_replace(src, dst):
        # At the moment of the rename the final name is absent and the
        # temporary file already holds all the data.
        seen.append((os.path.exists(dst), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(runner.os, "replace", checking_replace)
    runner.write_atomically(str(target), lambda f: f.write(b"complete data"))

    assert seen == [(False, b"complete data")]
    assert target.read_bytes() == b"complete data"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]


def test_runner_write_that_fails_leaves_no_file(tmp_path):
    def half_then_fail(f):
        f.write(b"half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        runner.write_atomically(str(tmp_path / "out.pkl"), half_then_fail)
    assert list(tmp_path.iterdir()) == []


# --- the runner source -----------------------------------------------------


def test_runner_source_is_the_runner_module():
    assert pyfunc.runner_source() == (PACKAGE_DIR / "_runner.py").read_text(encoding="utf-8")
    assert pyfunc.RUNNER_FILE == "xpr_py_runner.py"
    # The two sides agree on the file names.
    for name in ("CALL_FILE", "RESULT_FILE", "EXCEPTION_FILE", "TRACEBACK_FILE"):
        assert getattr(runner, name) == getattr(pyfunc, name)


def test_runner_is_python_3_6_and_stdlib_only():
    # feature_version rejects syntax newer than 3.6 (best effort, per the ast docs).
    tree = ast.parse(pyfunc.runner_source(), feature_version=(3, 6))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"os", "pickle", "sys", "traceback"}


# --- ExPyRe identity -------------------------------------------------------


def identity(*args, hash_ignore=(), input_files=(), name="task", **kwargs):
    return pyfunc.expyre_identity(
        name, pyfunc_helpers.add, args, kwargs, hash_ignore=hash_ignore, input_files=input_files
    )


def test_identity_is_stable_and_hex_sha256():
    first = identity(1, 2, scale=3)
    assert first == identity(1, 2, scale=3)
    assert len(first) == 64 and int(first, 16) >= 0


def test_identity_changes_with_an_argument():
    assert identity(1, 2, scale=3) != identity(1, 5, scale=3)
    assert identity(1, 2, scale=3) != identity(1, 2, scale=4)


def test_identity_changes_with_the_function():
    args, kwargs = (1, 2), {}
    assert pyfunc.expyre_identity("t", pyfunc_helpers.add, args, kwargs) != pyfunc.expyre_identity(
        "t", pyfunc_helpers.chatty, args, kwargs
    )


def test_identity_ignores_listed_argument_index_and_kwarg_name():
    assert identity(1, 2, hash_ignore=[1]) == identity(1, 99, hash_ignore=[1])
    assert identity(1, 2, scale=3, hash_ignore=["scale"]) == identity(1, 2, scale=8, hash_ignore=["scale"])
    # Ignoring one does not ignore the others.
    assert identity(1, 2, hash_ignore=[1]) != identity(7, 2, hash_ignore=[1])


def test_identity_does_not_include_the_name():
    assert identity(1, 2, name="one") == identity(1, 2, name="two")


def test_identity_changes_with_input_file_contents(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("first")
    before = identity(1, 2, input_files=[str(data)])
    assert before == identity(1, 2, input_files=[str(data)])

    data.write_text("second")

    assert identity(1, 2, input_files=[str(data)]) != before


def test_identity_changes_with_a_file_inside_an_input_directory(tmp_path):
    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "a.txt").write_text("a")
    (inputs / "sub" / "b.txt").write_text("b")
    before = identity(input_files=[str(inputs)])

    (inputs / "sub" / "b.txt").write_text("changed")

    assert identity(input_files=[str(inputs)]) != before


def test_identity_of_a_missing_input_file_names_it(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        identity(input_files=[str(missing)])
