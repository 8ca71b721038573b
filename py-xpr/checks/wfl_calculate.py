"""wfl's autoparallelize, remote through ExPyRe's API, unchanged: run here on xpr.

    WFL_EXPYRE_INFO='{"sys_name": ..., ...}' python wfl_calculate.py

Eight rattled copper cells, EMT energies and forces by wfl.calculators.generic.calculate:
first in this process (the reference), then with the WFL_EXPYRE_INFO remote setup the
environment gives, which makes wfl split the inputs into chunks, one ExPyRe job each
(`from expyre import ExPyRe`: xpr's shim when it is installed). Prints one JSON line: the
jobs' count and the largest energy difference from the reference; exits 1 if any differs.
"""

import json
import os
import sys

from ase.build import bulk
from ase.calculators.emt import EMT
from wfl.calculators.generic import calculate
from wfl.configset import ConfigSet, OutputSpec


def structures():
    """Eight copper cells, each rattled by its own seed."""
    cells = []
    for seed in range(8):
        atoms = bulk("Cu", cubic=True) * (2, 2, 2)
        atoms.rattle(stdev=0.05, seed=seed)
        atoms.info["seed"] = seed
        cells.append(atoms)
    return cells


def energies(remote_info_json):
    """The EMT energies of the structures, remote when ``remote_info_json`` is given."""
    if remote_info_json is None:
        os.environ.pop("WFL_EXPYRE_INFO", None)
    else:
        os.environ["WFL_EXPYRE_INFO"] = remote_info_json
    out = calculate(
        ConfigSet(structures()),
        OutputSpec(),
        calculator=(EMT, [], {}),
        properties=["energy", "forces"],
        output_prefix="EMT_",
    )
    return {a.info["seed"]: a.info["EMT_energy"] for a in out}


def main():
    remote_info = os.environ.get("WFL_EXPYRE_INFO")
    if not remote_info:
        sys.exit("set WFL_EXPYRE_INFO to a RemoteInfo JSON (sys_name, job_name, resources ...)")
    reference = energies(None)
    remote = energies(remote_info)
    worst = max(abs(remote[k] - reference[k]) for k in reference)
    print(json.dumps({"structures": len(reference), "worst_difference_eV": worst}))
    sys.exit(0 if set(remote) == set(reference) and worst < 1e-9 else 1)


if __name__ == "__main__":
    main()
