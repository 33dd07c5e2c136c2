"""Every model change ships with its migration (STYLE.md: `makemigrations --check` in CI):
a forgotten one fails the suite here instead of surprising the next deploy."""

from io import StringIO

import pytest
from django.core.management import call_command


def test_no_model_change_is_missing_a_migration(db) -> None:
    out = StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(
            f"Models changed without a migration; run `manage.py makemigrations`:\n{out.getvalue()}"
        )
