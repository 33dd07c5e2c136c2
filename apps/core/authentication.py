"""`Authorization: Bearer <api key>` for the management API.

Keys live in the tenant's schema, so a key of one tenant is unknown on another's host.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.core.models import ApiKey
from apps.core.selectors import apikey_authenticate
from apps.core.tenancy import current_schema


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw.strip():
            raise exceptions.AuthenticationFailed(
                "Send the API key as 'Authorization: Bearer <key>'."
            )
        if current_schema() == "public":
            raise exceptions.AuthenticationFailed(
                "API keys belong to a tenant: call the API on the tenant's host."
            )
        key = apikey_authenticate(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key for this tenant.")
        return key, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
