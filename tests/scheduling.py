"""How ``make test`` spreads the suite over pytest-xdist workers (``-n``, ``--dist load``).

A session fixture is made once per worker, so the tests that share a costly one must run on
one worker, in collection order: :data:`WORKER_GROUPS`. ``tests/conftest.py`` imports the
hook; the plugin is its own module so that a test can run it on a suite of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Test folder -> the group all its tests run in: on one xdist worker, in collection order.
#: The integration tests share one deploy into the emulator (and its destroy test must come
#: after the others), the packaging tests one built wheel and its virtualenvs.
WORKER_GROUPS = {"integration": "emulator", "packaging": "wheel"}


def worker_group(nodeid: str) -> str:
    """The unit of work ``nodeid`` is scheduled in: its folder's group, else the test alone."""
    parts = nodeid.split("/", 2)
    if len(parts) == 3 and parts[0] == "tests" and parts[1] in WORKER_GROUPS:
        return WORKER_GROUPS[parts[1]]
    return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule by :func:`worker_group` (``-n`` with the default ``--dist load``).

    Not ``--dist loadgroup``'s ``xdist_group`` markers: that scheduler learns the group from a
    suffix it writes into ``item._nodeid``, and pytest 9.2 keeps the node id elsewhere, so
    the markers are silently ignored (pytest-dev/pytest-xdist#1386) and each worker made the
    deploy and the wheel. The groups go out first (the largest first), so the longest chain
    of tests starts at once.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FolderGroups(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return FolderGroups(config, log)
