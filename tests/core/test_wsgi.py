"""The WSGI application web processes serve (config/wsgi.py)."""

from __future__ import annotations

import gc
import sys


def test_web_processes_load_every_view_and_freeze_what_they_loaded() -> None:
    """The garbage collector's full passes skip what was loaded at start-up (they stalled a
    busy web process for ~100 ms each), and that includes every view: a view imported at
    a first request would stay in the collector's reach."""
    import config.wsgi

    assert callable(config.wsgi.application)
    assert gc.get_freeze_count() > 50_000
    assert {"config.urls_tenants", "config.urls_public"} <= sys.modules.keys()
