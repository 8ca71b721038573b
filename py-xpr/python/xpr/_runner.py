"""The remote side of running a Python function as an xpr job.

xpr ships this file into the job's run dir as ``xpr_py_runner.py`` and the job
runs ``python3 xpr_py_runner.py`` with the run dir as its working directory.
It must run on any CPython >= 3.6 with nothing installed: it imports only the
standard library, and never xpr (the pickled call may need more, e.g. the
function's own module, or cloudpickle for a call pickled by value).

The files in the run dir (the local side is ``xpr._pyfunc``):

- ``xpr_py_call.pkl`` (input): a pickle of
  ``{"function": f, "args": [...], "kwargs": {...}}``.
- ``xpr_py_result.pkl``: the pickled return value.  Exit status 0.
- ``xpr_py_exception.pkl``: the pickled exception the call raised, written
  only when it pickles and unpickles again (so the local side can re-raise it
  as its own type).  Exit status 1.
- ``xpr_py_traceback.txt``: written whenever the runner fails (exit 1 or 2).
  When the call raised, its first line is ``module.QualName: message``,
  followed by the full remote traceback.
- Exit status 2, with only ``xpr_py_traceback.txt``: the call file could not
  be loaded (the function's module is not importable here, the file is
  missing or corrupt, ...).

Every output file is written under a temporary name and renamed into place
with ``os.replace``, so a file with one of the names above is always complete
(the job may be killed at any moment).  Outputs left by an earlier run in the
same dir are removed first, so they cannot pass for this run's outcome.

The function's stdout and stderr go to the process's own, which xpr keeps as
the task's logs; failures are also printed to stderr for the same reason.
"""

# Keep to Python 3.6 syntax and the standard library: this runs on whatever
# python3 a cluster node has.
import os
import pickle
import sys
import traceback

CALL_FILE = "xpr_py_call.pkl"
RESULT_FILE = "xpr_py_result.pkl"
EXCEPTION_FILE = "xpr_py_exception.pkl"
TRACEBACK_FILE = "xpr_py_traceback.txt"

# Protocol 4 (Python >= 3.4) so that any remote or local Python reads it.
PICKLE_PROTOCOL = 4

EXIT_OK = 0
EXIT_RAISED = 1
EXIT_BAD_CALL = 2


def write_atomically(path, write):
    """Create ``path`` with ``write(binary_file)``, all or nothing.

    The data goes to a temporary name in the same directory, is flushed to
    disk, and only then renamed to ``path``; if ``write`` fails, the temporary
    file is removed and the error propagates.
    """
    tmp_path = "{}.tmp-{}".format(path, os.getpid())
    try:
        with open(tmp_path, "wb") as f:
            write(f)
            f.flush()
            # The rename must not become visible before the data, even on a
            # network file system after a node crash.
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        raise


def write_text(path, text):
    """Write ``text`` to ``path`` atomically, as UTF-8 whatever the locale.

    A node's locale may be C/ASCII, and a traceback may hold any character.
    """
    data = text.encode("utf-8", "backslashreplace")
    write_atomically(path, lambda f: f.write(data))


def exception_heading(exc):
    """The line ``module.QualName: message`` (or just the name) for ``exc``."""
    cls = type(exc)
    name = "{}.{}".format(cls.__module__, cls.__qualname__)
    try:
        message = str(exc)
    except Exception:
        message = "<str() of the exception failed>"
    if message:
        return "{}: {}".format(name, message)
    return name


def pickled_exception(exc):
    """The pickle of ``exc`` if it survives a round trip, else None.

    An exception whose ``__init__`` takes other arguments than it passes to
    ``Exception.__init__`` pickles fine but fails to unpickle; checking here
    means the local side never finds an exception file it cannot use.
    """
    try:
        data = pickle.dumps(exc, protocol=PICKLE_PROTOCOL)
        pickle.loads(data)
    except Exception:
        return None
    return data


def fail(text, status):
    """Record ``text`` as the failure, print it to stderr, return ``status``."""
    write_text(TRACEBACK_FILE, text)
    sys.stderr.write(text)
    sys.stderr.flush()
    return status


def load_call():
    """Return ``(function, args, kwargs)`` from the call file.

    Raises whatever unpickling raises, or ValueError for a pickle that is not
    a call.
    """
    with open(CALL_FILE, "rb") as f:
        call = pickle.load(f)
    if not isinstance(call, dict) or not {"function", "args", "kwargs"} <= set(call):
        raise ValueError(
            "{} does not hold a dict with the keys function, args and "
            "kwargs".format(CALL_FILE))
    return call["function"], list(call["args"]), dict(call["kwargs"])


def main():
    """Run the call in the current directory; return the exit status."""
    run_dir = os.getcwd()
    # Modules shipped with the task as input files sit in the run dir.  Python
    # already puts the script's directory first; this also holds if the
    # runner is started from elsewhere.
    if not sys.path or sys.path[0] != run_dir:
        sys.path.insert(0, run_dir)

    for name in (RESULT_FILE, EXCEPTION_FILE, TRACEBACK_FILE):
        if os.path.exists(name):
            os.remove(name)

    try:
        function, args, kwargs = load_call()
    except Exception as exc:
        return fail(
            "xpr_py_runner: cannot load the call from {} in {}: {}\n"
            "(hint: the function's module, and the modules of its arguments, "
            "must be importable by this Python ({}): install them on the "
            "remote side or ship them as input files; a call pickled by value "
            "needs cloudpickle installed here)\n\n{}".format(
                CALL_FILE, run_dir, exception_heading(exc), sys.executable,
                traceback.format_exc()),
            EXIT_BAD_CALL)

    try:
        value = function(*args, **kwargs)
    except Exception as exc:
        text = exception_heading(exc) + "\n\n" + traceback.format_exc()
        data = pickled_exception(exc)
        if data is None:
            text += ("\nxpr_py_runner: the exception could not be pickled and "
                     "unpickled again, so only this traceback comes back.\n")
        else:
            write_atomically(EXCEPTION_FILE, lambda f: f.write(data))
        return fail(text, EXIT_RAISED)
    except SystemExit as exc:
        # Not re-raised locally as itself: that would end the caller's program.
        return fail("{}\n\n{}".format(exception_heading(exc),
                                      traceback.format_exc()), EXIT_RAISED)

    try:
        write_atomically(RESULT_FILE,
                         lambda f: pickle.dump(value, f, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        return fail(
            "xpr_py_runner: the function returned a value of type {} that "
            "cannot be pickled: {}\n\n{}".format(
                type(value).__qualname__, exception_heading(exc),
                traceback.format_exc()),
            EXIT_RAISED)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
