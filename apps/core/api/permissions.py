"""What an API key's role allows."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from apps.core.choices import ApiKeyRole
from apps.core.models import ApiKey

WRITE_ROLES = (ApiKeyRole.RESPONDER, ApiKeyRole.APPROVER)


class RolePermission(permissions.BasePermission):
    """Every key reads; responder and approver keys write; viewer keys get 403."""

    message = "This API key is read-only (role viewer); use a responder or approver key."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        return request.method in permissions.SAFE_METHODS or key.role in WRITE_ROLES


class ApproverPermission(permissions.BasePermission):
    message = "Only an approver API key may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and key.role == ApiKeyRole.APPROVER
