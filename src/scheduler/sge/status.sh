#!/bin/sh
# Grid Engine status: the user's jobs, one row per array task.
#
# Run as:  sh -c STATUS_SCRIPT sh                          (src/scheduler/sge/mod.rs;
#          tests/testbed/capture/sge.sh carries a copy)
#
# stdin  unused.
# stdout the `qstat -xml -g d` document of the user's jobs; qstat's exit code.
exec qstat -xml -g d -u "$(id -un)"
