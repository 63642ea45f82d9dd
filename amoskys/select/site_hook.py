"""Amoskys's ``sitecustomize``: record a test's child Python processes, then step aside.

Standalone: Amoskys copies this file as ``sitecustomize.py`` next to the select plugin and
``amoskys_select_child.py`` (:mod:`amoskys.select.child_recorder`) into the folder it puts on
the tests' ``PYTHONPATH``, so every Python a test starts imports it at start-up. When
``AMOSKYS_SELECT_CHILD`` is set (by the plugin, for the test that runs) it starts recording
(a failure here never breaks the child: its marker without a report keeps the test
"spawned"). Then, with or without the variable, it loads the ``sitecustomize`` it shadows (the
next one on ``sys.path`` after this folder, e.g. Debian's) under the same name, so nothing
else changes for the child. Python 3.8 syntax; cheap: it runs in every Python the tests start.
"""

import os as _os
import sys as _sys


def _amoskys_record() -> None:
    value = _os.environ.get("AMOSKYS_SELECT_CHILD")
    if not value:
        return
    try:
        from importlib import import_module

        import_module("amoskys_select_child").start(value)
    except Exception:  # never break the child; a marker without a report: "spawned"
        try:
            token, _colon, folder = value.partition(":")
            name = "%s.%d.failed.started" % (token, _os.getpid())
            open(_os.path.join(folder, name), "w").close()
        except Exception:  # nosec B110 - nothing more can be done here
            pass


def _amoskys_chain() -> None:
    """Load the ``sitecustomize`` after this folder on ``sys.path`` (its errors are site's)."""
    here = _os.path.normcase(_os.path.dirname(_os.path.abspath(__file__)))
    later = []
    seen = False
    for entry in _sys.path:
        mine = _os.path.normcase(_os.path.abspath(entry or ".")) == here
        if seen and not mine:
            later.append(entry)
        seen = seen or mine
    if not later:
        return
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("sitecustomize", later)
    if spec is None or spec.loader is None:
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_amoskys_record()
_amoskys_chain()
