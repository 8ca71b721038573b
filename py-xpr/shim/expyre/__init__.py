"""``expyre``: ExPyRe's import name, served by xpr (``xpr.expyre``).

``from expyre import ExPyRe, ExPyReJobDiedError, ExPyReTimeoutError, systems``,
``expyre.func``, ``expyre.resources`` and ``expyre.config`` are xpr.expyre's own objects and
modules (the same module objects: ``expyre.config.init(...)`` sets what ``xpr.expyre`` uses).
"""

import sys
from typing import Any

import xpr.expyre as _xpr_expyre
from xpr.expyre import ExPyRe, ExPyReJobDiedError, ExPyReTimeoutError, Resources, config
# Attributes of this package too: `import expyre.func` finds the module in sys.modules and
# does not set the attribute itself.
from xpr.expyre import func, resources  # noqa: F401

# The submodules are xpr.expyre's, not copies: one config state, one class, whichever name
# the caller imports them by.
for _name in ("func", "resources", "config"):
    sys.modules[f"{__name__}.{_name}"] = getattr(_xpr_expyre, _name)

__version__ = "0.1.6+xpr"
__all__ = ["ExPyRe", "ExPyReJobDiedError", "ExPyReTimeoutError", "Resources", "config", "systems"]


def __getattr__(name: str) -> Any:
    """``systems``: ``expyre.config.systems``, read at first access."""
    if name == "systems":
        return config.systems
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
