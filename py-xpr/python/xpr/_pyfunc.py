"""The local side of running a Python function as an xpr job.

A call travels as files in the job's run dir; ``_runner.py`` (shipped as
``xpr_py_runner.py``, see :func:`runner_source`) is the remote side and
documents the protocol in full.  In short:

- :func:`write_call` writes ``xpr_py_call.pkl``: a pickle (protocol 4) of
  ``{"function": f, "args": [...], "kwargs": {...}}``.  By default the
  function is pickled by reference, so its module must be importable on the
  remote side; ``by_value=True`` uses cloudpickle, which must then be
  installed on both sides.
- The runner leaves ``xpr_py_result.pkl`` (exit 0), or
  ``xpr_py_exception.pkl`` when the exception survives pickling plus
  ``xpr_py_traceback.txt`` (exit 1), or only the traceback when the call file
  could not be loaded (exit 2).
- :func:`read_outcome` turns whatever the run dir holds into an
  :class:`Outcome`; :func:`raise_or_return` turns that into a return value or
  an exception for the caller.

:func:`expyre_identity` computes ExPyRe's hash of a call, which decides
whether an earlier run can be reused.

This module uses only the standard library (and cloudpickle, lazily).
"""

from __future__ import annotations

import enum
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NoReturn, Sequence, Union

CALL_FILE = "xpr_py_call.pkl"
"""The pickled call, written locally by :func:`write_call`."""
RESULT_FILE = "xpr_py_result.pkl"
"""The pickled return value, written by the runner on success."""
EXCEPTION_FILE = "xpr_py_exception.pkl"
"""The pickled exception, written by the runner when the call raised one that pickles."""
TRACEBACK_FILE = "xpr_py_traceback.txt"
"""The remote traceback text, written by the runner on every failure."""
RUNNER_FILE = "xpr_py_runner.py"
"""The name :func:`runner_source` is shipped under; the job runs ``python3 xpr_py_runner.py``."""

# Protocol 4 (Python >= 3.4) so that an old remote Python reads the call, and
# so that the hash in expyre_identity does not change with the local Python.
PICKLE_PROTOCOL = 4

PathLike = Union[str, "os.PathLike[str]"]


class RemoteFunctionError(Exception):
    """The remote call failed without an exception that could be brought back.

    For example the exception did not pickle, the return value did not pickle,
    or the call file could not be loaded remotely (the function's module is not
    installed there).  ``traceback_text`` is the remote traceback; it is also
    part of the message.
    """

    def __init__(self, message: str, traceback_text: str) -> None:
        super().__init__("{}\n{}".format(message, traceback_text))
        self.traceback_text = traceback_text


class CallPicklingError(pickle.PicklingError):
    """The call cannot be written: the function or an argument does not pickle."""


class CloudpickleMissingError(ImportError):
    """``by_value=True`` was asked for but cloudpickle is not installed."""


class OutcomeReadError(Exception):
    """A file the runner left in the run dir cannot be read back here."""


class OutcomeKind(enum.Enum):
    """What a run dir says about how the call ended."""

    VALUE = "value"
    """The function returned; ``Outcome.value`` holds the value."""
    RAISED = "raised"
    """The function raised; ``Outcome.exception`` holds the exception."""
    FAILED = "failed"
    """The runner failed without an exception to re-raise; see ``Outcome.traceback_text``."""
    NOTHING = "nothing"
    """The run dir has no outcome file: the job died before the runner finished."""


@dataclass(frozen=True)
class Outcome:
    """How a remote call ended, as read back from its run dir by :func:`read_outcome`."""

    kind: OutcomeKind
    """Which of the cases below this is."""
    run_dir: Path
    """The run dir the outcome was read from."""
    value: Any = None
    """The return value (``VALUE`` only)."""
    exception: BaseException | None = None
    """The remote exception, with its traceback attached (``RAISED`` only)."""
    traceback_text: str = ""
    """The remote traceback (``RAISED`` and ``FAILED``; may be empty for ``RAISED``)."""


def _describe(function: Any) -> str:
    """``module.qualname`` of ``function`` for messages, or its repr."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if module and qualname:
        return "{}.{}".format(module, qualname)
    return repr(function)


def _check_importable(function: Any) -> None:
    """Refuse a function that plain pickle would store but the remote cannot import.

    Pickle by reference stores ``module`` and ``qualname``; a lambda, a nested
    function or anything from ``__main__`` has no importable name remotely, and
    would fail only there, much later.  Checked before pickling for that reason.
    """
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if module == "__main__":
        why = "it is defined in __main__ (a script or notebook), which the remote side cannot import"
    elif "<lambda>" in qualname:
        why = "it is a lambda, which has no importable name"
    elif "<locals>" in qualname:
        why = "it is defined inside another function, so it has no importable name"
    else:
        return
    raise CallPicklingError(
        "cannot pickle {} by reference: {} (hint: define it at module level in a "
        "module the remote Python can import, or pass by_value=True to pickle it "
        "with cloudpickle)".format(_describe(function), why))


def _cloudpickle() -> Any:
    """Import cloudpickle, or raise :class:`CloudpickleMissingError` saying what to do."""
    try:
        import cloudpickle
    except ImportError as exc:
        raise CloudpickleMissingError(
            "by_value=True pickles the function with cloudpickle, which is not "
            "installed (hint: pip install cloudpickle, here and on the remote "
            "side, which needs it to unpickle the call)") from exc
    return cloudpickle


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary name, so ``path`` is never half-written."""
    tmp_path = path.with_name("{}.tmp-{}".format(path.name, os.getpid()))
    try:
        tmp_path.write_bytes(data)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_call(
    path: PathLike,
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    by_value: bool = False,
) -> None:
    """Write the call ``function(*args, **kwargs)`` to the call file ``path``.

    ``path`` is the file to create, normally ``run_dir / CALL_FILE``.  By
    default the function is pickled by reference: the remote Python must be
    able to import its module (install it there, or ship the ``.py`` file as an
    input file of the task: the runner puts the run dir first on ``sys.path``).
    A lambda, a nested function or a function from ``__main__`` is refused with
    :class:`CallPicklingError`.

    With ``by_value=True`` the call is pickled with cloudpickle, which stores
    lambdas, nested functions and functions from ``__main__`` by value; the
    remote side then needs cloudpickle installed too.  Functions in importable
    modules are still stored by reference by cloudpickle (unless their module
    is registered with ``cloudpickle.register_pickle_by_value``).

    Raises :class:`CallPicklingError` when the function or an argument cannot
    be pickled, and :class:`CloudpickleMissingError` when ``by_value=True`` and
    cloudpickle is not installed.
    """
    if not callable(function):
        raise TypeError("the function to run must be callable, not {!r}".format(function))
    kwargs = dict(kwargs)
    bad_keys = [key for key in kwargs if not isinstance(key, str)]
    if bad_keys:
        raise TypeError("keyword argument names must be strings, not {!r}".format(bad_keys))
    call = {"function": function, "args": list(args), "kwargs": kwargs}

    if by_value:
        dumps = _cloudpickle().dumps
    else:
        _check_importable(function)
        dumps = pickle.dumps
    try:
        data = dumps(call, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise CallPicklingError(
            "cannot pickle the call to {}: {} (hint: the function and all its "
            "arguments must pickle; by_value=True also handles lambdas and "
            "nested functions)".format(_describe(function), exc)) from exc
    _write_atomically(Path(path), data)


def _read_text(path: Path) -> str:
    """The text of ``path``, or "" if it does not exist.

    The runner writes UTF-8 with backslash escapes, so decoding cannot fail on
    its files; replacement covers anything else.
    """
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _attach_traceback(exc: BaseException, traceback_text: str, run_dir: Path) -> None:
    """Attach the remote traceback to ``exc``, where the user will see it."""
    exc.__xpr_remote_traceback__ = traceback_text  # type: ignore[attr-defined]
    # Python >= 3.11 prints notes under the exception, so an uncaught
    # re-raised exception shows where it came from remotely.
    if hasattr(exc, "add_note"):
        text = traceback_text if traceback_text else "(the runner wrote no traceback)\n"
        exc.add_note("remote traceback (run dir {}):\n{}".format(run_dir, text.rstrip("\n")))


def read_outcome(run_dir: PathLike) -> Outcome:
    """Read how the call in ``run_dir`` ended.

    Looks for the result, then the exception, then the traceback file; with
    none of them the outcome is ``NOTHING`` (the job died).  A remote exception
    that cannot be unpickled here (its class's module is not installed
    locally, say) gives ``FAILED`` with the traceback text and the reason.

    Raises :class:`OutcomeReadError` when the result file exists but cannot be
    unpickled here.
    """
    run_dir = Path(run_dir)
    result_path = run_dir / RESULT_FILE
    exception_path = run_dir / EXCEPTION_FILE
    traceback_path = run_dir / TRACEBACK_FILE

    if result_path.exists():
        try:
            with result_path.open("rb") as f:
                value = pickle.load(f)
        except Exception as exc:
            raise OutcomeReadError(
                "cannot unpickle the result of the remote function from {}: {}: {} "
                "(hint: the modules of the returned value's types must be importable "
                "here too)".format(result_path, type(exc).__name__, exc)) from exc
        return Outcome(OutcomeKind.VALUE, run_dir, value=value)

    traceback_text = _read_text(traceback_path)
    if exception_path.exists():
        try:
            with exception_path.open("rb") as f:
                exception = pickle.load(f)
            if not isinstance(exception, BaseException):
                raise TypeError("it holds a {}, not an exception".format(type(exception).__name__))
        except Exception as exc:
            # The traceback still says what happened remotely; say why the
            # exception itself cannot be re-raised.
            reason = "xpr: cannot unpickle the remote exception from {} here: {}: {}\n".format(
                exception_path, type(exc).__name__, exc)
            return Outcome(OutcomeKind.FAILED, run_dir, traceback_text=traceback_text + "\n" + reason)
        _attach_traceback(exception, traceback_text, run_dir)
        return Outcome(OutcomeKind.RAISED, run_dir, exception=exception, traceback_text=traceback_text)

    if traceback_path.exists():
        return Outcome(OutcomeKind.FAILED, run_dir, traceback_text=traceback_text)
    return Outcome(OutcomeKind.NOTHING, run_dir)


def raise_or_return(outcome: Outcome, *, died_error_factory: Callable[[str], BaseException]) -> Any:
    """Return the remote value, or raise what the remote call came to.

    - ``VALUE``: returns the value.
    - ``RAISED``: raises the remote exception as its own type; the remote
      traceback is in ``exc.__xpr_remote_traceback__`` (and a note on Python
      >= 3.11).
    - ``FAILED``: raises :class:`RemoteFunctionError` with the traceback text.
    - ``NOTHING``: raises ``died_error_factory(message)``, where the message
      names the run dir and the files that are missing.
    """
    if outcome.kind is OutcomeKind.VALUE:
        return outcome.value
    if outcome.kind is OutcomeKind.RAISED:
        assert outcome.exception is not None
        # `from None`: a local exception being handled by the caller has
        # nothing to do with the remote one, so it must not show as its context.
        raise outcome.exception from None
    if outcome.kind is OutcomeKind.FAILED:
        raise RemoteFunctionError(
            "the remote function failed in {} without an exception that could be "
            "re-raised here; the remote traceback follows:".format(outcome.run_dir),
            outcome.traceback_text)
    _raise_died(outcome, died_error_factory)


def _raise_died(outcome: Outcome, died_error_factory: Callable[[str], BaseException]) -> NoReturn:
    """Raise the caller's error for a job that left no outcome file."""
    message = (
        "the job died before the remote function finished: its run dir {} has none of "
        "{}, {}, {} (hint: see the task's stdout/stderr logs and the scheduler's "
        "accounting: it may have run out of time or memory, been cancelled, or "
        "python3 may have failed to start)".format(
            outcome.run_dir, RESULT_FILE, EXCEPTION_FILE, TRACEBACK_FILE))
    raise died_error_factory(message)


def _hash_input(digest: Any, path: Path) -> None:
    """Add ``path``'s name and bytes to ``digest``; for a directory, every entry below it.

    As ExPyRe: the path as given, then for a directory each entry in sorted
    order, each with its path and, for a file, its bytes.
    """
    for entry in [path] + (sorted(path.rglob("*")) if path.is_dir() else []):
        digest.update(os.fsencode(str(entry)))
        if entry.is_file():
            digest.update(entry.read_bytes())


def expyre_identity(
    name: str,
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    hash_ignore: Iterable[int | str] = (),
    input_files: Iterable[PathLike] = (),
) -> str:
    """ExPyRe's restart identity of a call: a hex SHA-256.

    Hashes, in order: ``function.__module__ + function.__name__``; the pickle
    of each positional argument whose index is not in ``hash_ignore``; the
    pickle of each ``(key, value)`` of ``kwargs`` in sorted key order, for keys
    not in ``hash_ignore``; and each input file's path and bytes (a directory
    contributes every entry below it, in sorted order).  Pickles use protocol 4
    so the hash does not depend on the local Python.

    ``name`` is not hashed (the caller combines it with the hash); it only
    names the task in errors.  Raises ``FileNotFoundError`` for a missing input
    file and :class:`CallPicklingError` for an argument that does not pickle.
    """
    ignore = set(hash_ignore)
    digest = hashlib.sha256()
    module = getattr(function, "__module__", None) or ""
    func_name = getattr(function, "__name__", None) or type(function).__qualname__
    digest.update((module + func_name).encode())

    def add_pickle(what: str, obj: Any) -> None:
        try:
            digest.update(pickle.dumps(obj, protocol=PICKLE_PROTOCOL))
        except Exception as exc:
            raise CallPicklingError(
                "task {}: cannot hash {} of {}: it does not pickle: {} (hint: list "
                "it in hash_ignore to leave it out of the restart identity)".format(
                    name, what, _describe(function), exc)) from exc

    for index, arg in enumerate(args):
        if index not in ignore:
            add_pickle("positional argument {}".format(index), arg)
    for key in sorted(kwargs):
        if key not in ignore:
            add_pickle("keyword argument {!r}".format(key), (key, kwargs[key]))
    for input_file in input_files:
        path = Path(input_file)
        if not path.exists():
            raise FileNotFoundError(
                "task {}: input file {} does not exist (it is hashed into the task's "
                "restart identity)".format(name, path))
        _hash_input(digest, path)
    return digest.hexdigest()


def runner_source() -> str:
    """The text of the remote runner, to ship into a run dir as :data:`RUNNER_FILE`."""
    return Path(__file__).with_name("_runner.py").read_text(encoding="utf-8")
