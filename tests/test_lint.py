"""The code checks STYLE.md asks of every change run with the suite, and so in CI: ruff
(lint and format) and mypy (strict where STYLE.md says), with the versions pinned in
constraints.txt. `make lint` runs the same."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Settings need these to import; mypy's Django plugin imports them, nothing connects.
LINT_ENV = {
    "DATABASE_URL": "postgres://lint@localhost/lint",
    "REDIS_URL": "redis://localhost",
    "SECRET_KEY": "lint",
}


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **LINT_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ruff_finds_nothing() -> None:
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted() -> None:
    result = run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, f"run `ruff format .`:\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing() -> None:
    result = run(str(BIN / "mypy"), "apps", "config")
    assert result.returncode == 0, result.stdout + result.stderr
