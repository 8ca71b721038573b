#!/bin/sh
# LSF find-by-name: `bjobs -a` of the jobs with these names, one call per name (`bjobs -J`
# takes one name).
#
# Run as:  sh -c FIND_BY_NAME_SCRIPT FIELDS NAME...        (src/scheduler/lsf/mod.rs)
#
# $0     the `bjobs -o` fields (BJOBS_FIELDS); $@ the job names.
# stdin  unused.
# stdout one JSON document per name, in turn; the last bjobs's exit code.
for name do bjobs -a -json -o "$0" -J "$name"; done
