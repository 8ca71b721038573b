"""The ``xpr`` command installed with the package: the same command line as the Rust ``xpr``
binary (the library's CLI crate runs in this process), with ExPyRe's subcommand spellings
(``ls rm sync db_unlock reset_status``) among its own."""

import signal
import sys

from ._xpr import cli_main


def main() -> None:
    """Runs ``xpr`` with this process's arguments and exits with its exit code."""
    # Ctrl-C ends the command as it ends the Rust binary: the CLI runs outside Python's
    # interpreter loop, which would only note the signal for later.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(cli_main(sys.argv))
