"""Encryption of API keys at rest (Fernet: AES-128-CBC with an HMAC)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.FIELD_ENCRYPTION_KEY
    if not key:
        # Derive a stable key from SECRET_KEY; the salt keeps it distinct from Django's own uses.
        digest = hashlib.sha256(b"batch-dashboard/api-keys:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "the stored API key cannot be decrypted (SECRET_KEY or FIELD_ENCRYPTION_KEY changed); enter it again"
        ) from None


def mask(api_key: str) -> str:
    """`sk-ant-…abcd`: enough to tell keys apart, never enough to use one."""
    prefix = "sk-ant-" if api_key.startswith("sk-ant-") else ""
    return f"{prefix}…{api_key[-4:]}" if len(api_key) >= 8 else "…"
