"""One benchmark program written for ExPyRe, run unchanged by ExPyRe and by xpr's drop-in.

    python driver.py N WORK TOKEN TIMEOUT

N Python function calls (``shutil.copyfile("in.txt", "out.txt")``, each with its own
``in.txt`` as input file and ``out.txt`` as output file) on the system ``bench`` of the
``config.json`` in ``$EXPYRE_ROOT``, started one after the other as ExPyRe allows, then
waited for, checked and marked processed, the way wfl drives ExPyRe. The last line printed is
JSON: wall seconds from before the import to all results local, seconds to start all, and how
many outputs came back right.
"""

import json
import os
import shutil
import sys
import time

t0 = time.time()
from expyre.func import ExPyRe  # noqa: E402  (the import is part of what is timed)

n, work, token, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
jobs = []
for i in range(n):
    os.chdir(os.path.join(work, f"t{i}"))
    job = ExPyRe(f"{token}-{i}", function=shutil.copyfile, args=["in.txt", "out.txt"],
                 input_files=["in.txt"], output_files=["out.txt"], try_restart_from_prev=False)
    job.start(resources={"max_time": "10m", "num_cores": 1}, system_name="bench",
              partial_node=True)
    jobs.append(job)
t1 = time.time()
for i, job in enumerate(jobs):
    os.chdir(os.path.join(work, f"t{i}"))  # get_results copies output_files into the cwd
    job.get_results(timeout=timeout, check_interval=1, quiet=True)
t2 = time.time()
ok = 0
for i, job in enumerate(jobs):
    with open(os.path.join(work, f"t{i}", "in.txt")) as a, \
            open(os.path.join(work, f"t{i}", "out.txt")) as b:
        ok += a.read() == b.read()
    job.mark_processed()
print(json.dumps({"wall": t2 - t0, "submitted": t1 - t0, "ok": ok}))
