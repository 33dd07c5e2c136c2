from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task
from django.conf import settings

from apps.core.tenancy import current_tenant
from apps.statuspage.export import export_tenant

logger = logging.getLogger(__name__)


@shared_task(name="statuspage.export_tenant")
def export_current_tenant() -> int:
    """Refresh the static export of the tenant this task runs in (see CLARION_STATUS_EXPORT_DIR)."""
    root = settings.CLARION_STATUS_EXPORT_DIR
    if not root:
        return 0
    return len(export_tenant(current_tenant(), Path(root)))
