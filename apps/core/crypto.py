"""Encryption of stored credentials (integration secrets, provider API keys).

`encrypt()` / `decrypt()` use Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp). The key
is `CLARION_ENCRYPTION_KEY` when set: one Fernet key (`python -c "from cryptography.fernet
import Fernet; print(Fernet.generate_key().decode())"`), or several separated by commas to
rotate keys (the first encrypts, every one decrypts). Without it, the key is derived from
`SECRET_KEY` with HKDF-SHA256, and values written under a key in `SECRET_KEY_FALLBACKS` still
decrypt. Set `CLARION_ENCRYPTION_KEY` in production so that rotating `SECRET_KEY` (sessions,
signed links) does not touch stored credentials.

`EncryptedTextField` stores a text column encrypted and hands the plain text to Python.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from apps.core.exceptions import ApplicationError

_HKDF_SALT = b"clarion.core.crypto"
_HKDF_INFO = b"clarion encrypted fields v1"


class DecryptionFailed(ApplicationError):
    """A stored value cannot be decrypted with any configured key."""

    code = "decryption_failed"
    status_code = 500


def _derive(secret: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(key)


@functools.lru_cache(maxsize=8)
def _fernet_for(configured: str, secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    if configured.strip():
        keys = []
        for position, raw in enumerate(k.strip() for k in configured.split(",") if k.strip()):
            try:
                keys.append(Fernet(raw.encode()))
            except (ValueError, TypeError) as exc:
                raise ImproperlyConfigured(
                    f"CLARION_ENCRYPTION_KEY: key #{position + 1} is not a Fernet key (32 "
                    'url-safe base64-encoded bytes). Generate one with `python -c "from '
                    'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
                ) from exc
        return MultiFernet(keys)
    return MultiFernet([Fernet(_derive(s)) for s in (secret_key, *fallbacks)])


def _fernet() -> MultiFernet:
    return _fernet_for(
        str(getattr(settings, "CLARION_ENCRYPTION_KEY", "") or ""),
        settings.SECRET_KEY,
        tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ()),
    )


def encrypt(value: str) -> str:
    """`value` encrypted with the current key, as ASCII text."""
    return _fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The plain text of a value produced by `encrypt`, with the current or an older key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionFailed(
            "A stored credential cannot be decrypted: the encryption key changed. Restore the "
            "previous CLARION_ENCRYPTION_KEY (or SECRET_KEY, or list it in SECRET_KEY_FALLBACKS) "
            "or enter the credential again."
        ) from exc


def reencrypt(token: str) -> str:
    """`token` encrypted again with the current key (after adding a new first key)."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text kept encrypted in the database (see the module docstring for the key).

    The column holds Fernet tokens, so it cannot be searched, filtered or ordered on; an
    empty string is stored as is (no secret is not a secret)."""

    description = "Text, encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
