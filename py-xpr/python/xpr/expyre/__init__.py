"""``xpr.expyre``: a drop-in for ExPyRe's Python API, over xpr's :class:`xpr.Session`.

    from xpr.expyre import ExPyRe, ExPyReJobDiedError, ExPyReTimeoutError
    from xpr.expyre.resources import Resources
    from xpr.expyre import config

    job = ExPyRe("square", function=pow, args=[3, 2])
    job.start(resources={"max_time": "10m", "num_nodes": 1}, system_name="local")
    value, stdout, stderr = job.get_results()
    job.mark_processed()

The ``expyre`` shim distribution (``py-xpr/shim``) makes ``import expyre`` mean this
package; ``py-xpr/EXPYRE.md`` lists what is supported and what differs.
"""

from typing import Any

from . import config
from .errors import ExPyReJobDiedError, ExPyReTimeoutError
from .func import ExPyRe
from .resources import Resources

__all__ = [
    "ExPyRe",
    "ExPyReJobDiedError",
    "ExPyReTimeoutError",
    "Resources",
    "config",
    "systems",
]


def __getattr__(name: str) -> Any:
    """``systems`` (ExPyRe's ``from expyre import systems``): ``config.systems``, read at
    first access."""
    if name == "systems":
        return config.systems
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
