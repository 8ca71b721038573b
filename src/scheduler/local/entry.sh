#!/bin/sh
# xpr-localq's entry point: every local queue command is
#     /bin/sh -c ENTRY xpr-localq PROGRAM VERB ARGS...        (src/scheduler/local.rs)
# It keeps the program's text (PROGRAM, localq.sh in its wire form) in XPR_LOCALQ_PROGRAM,
# where the program finds it to start copies of itself, and runs it on VERB ARGS; stdin,
# stdout and the exit code are the program's.
XPR_LOCALQ_PROGRAM=$1; shift; eval "$XPR_LOCALQ_PROGRAM"
