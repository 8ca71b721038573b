#!/bin/sh
# Grid Engine find-by-name: the user's jobs, queued or finished, for some job names.
#
# Run as:  sh -c FIND_BY_NAME_SCRIPT sh N_NAME...          (src/scheduler/sge/mod.rs;
#          tests/testbed/capture/sge.sh carries a copy)
#
# $@     job names (N_<task id>).
# stdin  unused.
# stdout one `#xpr:name NAME` line per name (so the parser keeps only those jobs of the full
#        listing), `#xpr:qstat`, the `qstat -xml -g d` document of the user's jobs,
#        `#xpr:qacct`, then `qacct -o USER -j NAME` for each name; exit 1 when the user is
#        unknown or qstat fails, else 0.
u=$(id -un) || exit 1; printf '#xpr:name %s\n' "$@"; echo '#xpr:qstat'; qstat -xml -g d -u "$u" || exit 1; echo '#xpr:qacct'; for n do qacct -o "$u" -j "$n"; done; exit 0
