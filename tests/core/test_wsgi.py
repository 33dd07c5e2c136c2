"""The WSGI application web processes serve (config/wsgi.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_web_processes_load_every_view_and_freeze_what_they_loaded() -> None:
    """The garbage collector's full passes skip what was loaded at start-up (they stalled a
    busy web process for ~100 ms each), and that includes every view: a view imported at
    a first request would stay in the collector's reach. Checked in a fresh interpreter,
    as a web process starts."""
    probe = (
        "import gc, json, sys; import config.wsgi; "
        "print(json.dumps([gc.get_freeze_count(), sorted(m for m in sys.modules "
        "if m.startswith('config.urls') or m == 'apps.incidents.api.views')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert frozen > 50_000
    assert loaded == ["apps.incidents.api.views", "config.urls_public", "config.urls_tenants"]
