#!/bin/sh
# Grid Engine accounting: the `qacct` records of finished jobs.
#
# Run as:  sh -c ACCOUNTING_SCRIPT sh JOB...               (src/scheduler/sge/mod.rs;
#          tests/testbed/capture/sge.sh carries a copy)
#
# $@     job numbers.
# stdin  unused.
# stdout `qacct -o USER -j JOB` for each job in turn (a job qacct has no record of is
#        reported on stderr and absent from stdout); exit 1 only when the user is unknown.
u=$(id -un) || exit 1; for id do qacct -o "$u" -j "$id"; done; exit 0
