"""``expyre.config`` is ``xpr.expyre.config`` itself: ``expyre/__init__.py`` maps the
name to that module before this file could run; the file is here for tools that look for it."""

import sys

from xpr.expyre import config as _module

sys.modules[__name__] = _module
