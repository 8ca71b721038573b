"""Module-level functions for test_pyfunc.py to run through the runner.

They are pickled by reference, so the runner's Python must import this module:
the tests put this directory on its PYTHONPATH, like a remote side with the
module installed (and leave it off to test a module missing remotely).
"""

import sys
import threading
import time


def add(a, b, *, scale=1):
    """Return ``(a + b) * scale``."""
    return (a + b) * scale


def numpy_payload(n):
    """Return a dict holding a numpy array of ``n`` floats and a label."""
    import numpy

    return {"array": numpy.arange(n, dtype=float) * 0.5, "label": "half-steps"}


class HelperError(Exception):
    """A custom exception that pickles and unpickles like any plain exception."""


def raise_helper_error(value):
    """Raise HelperError naming ``value``."""
    raise HelperError("bad value {}".format(value))  # the remote source line tests look for


class TwoArgError(Exception):
    """Pickles, but does not unpickle: ``__init__`` needs two arguments, ``args`` holds one."""

    def __init__(self, code, detail):
        super().__init__("code {}: {}".format(code, detail))


def raise_two_arg_error():
    """Raise an exception that cannot make the round trip through pickle."""
    raise TwoArgError(7, "cannot come back")


class LockedError(Exception):
    """Does not even pickle: it holds a lock."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


def raise_locked_error():
    """Raise an exception that pickle refuses."""
    raise LockedError("holds a lock")


def return_unpicklable():
    """Return a value that cannot be pickled."""
    return {"lock": threading.Lock()}


def chatty(n):
    """Print to stdout and stderr, then return ``n``."""
    print("to stdout {}".format(n))
    sys.stdout.flush()
    sys.stderr.write("to stderr {}\n".format(n))
    return n


def announce_then_sleep(marker, seconds):
    """Create the file ``marker`` (so a test knows the call started), then sleep."""
    with open(marker, "w") as f:
        f.write("started\n")
    time.sleep(seconds)
    return "woke up"


def call_exit(status):
    """Call ``sys.exit(status)`` from inside the function."""
    sys.exit(status)
