"""Credentials encrypted at rest: Fernet with a key from CLARION_ENCRYPTION_KEY or derived
from SECRET_KEY, and a model field that stores only ciphertext."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from apps.core.crypto import DecryptionFailed, decrypt, encrypt, reencrypt
from apps.integrations.models import Integration
from apps.integrations.services import integration_create


def test_a_value_round_trips_and_is_not_readable_when_stored() -> None:
    token = encrypt("s3cret value ✓")
    assert "s3cret" not in token
    assert decrypt(token) == "s3cret value ✓"
    assert encrypt("same") != encrypt("same")  # a fresh IV each time


def test_another_secret_key_cannot_decrypt_and_says_how_to_recover() -> None:
    token = encrypt("credential")
    with override_settings(SECRET_KEY="another-key-entirely"):
        with pytest.raises(DecryptionFailed, match="encryption key changed"):
            decrypt(token)
        with override_settings(SECRET_KEY_FALLBACKS=["clarion-tests-only-not-secret"]):
            assert decrypt(token) == "credential"


def test_an_explicit_key_is_used_and_keys_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(CLARION_ENCRYPTION_KEY=old):
        token = encrypt("credential")
        assert Fernet(old.encode()).decrypt(token.encode()) == b"credential"
    with override_settings(CLARION_ENCRYPTION_KEY=f"{new},{old}"):
        assert decrypt(token) == "credential"
        rotated = reencrypt(token)
        assert Fernet(new.encode()).decrypt(rotated.encode()) == b"credential"
    with override_settings(CLARION_ENCRYPTION_KEY=new), pytest.raises(DecryptionFailed):
        decrypt(token)


def test_a_malformed_key_stops_with_a_message() -> None:
    with (
        override_settings(CLARION_ENCRYPTION_KEY="not-a-fernet-key"),
        pytest.raises(ImproperlyConfigured, match="CLARION_ENCRYPTION_KEY: key #1"),
    ):
        encrypt("x")


def test_the_field_stores_ciphertext_and_reads_plain_text(tenant_db) -> None:
    integration, secret = integration_create(source="grafana", actor="pytest")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM integrations_integration WHERE id = %s", [integration.pk]
        )
        [(stored,)] = cursor.fetchall()
    assert secret not in stored
    assert decrypt(stored) == secret
    assert Integration.objects.get(pk=integration.pk).secret == secret
