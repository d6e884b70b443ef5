"""Column types shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, stored as naive UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _fernet() -> MultiFernet:
    keys = current_app.config["DATA_ENCRYPTION_KEYS"]
    if not keys:
        raise RuntimeError("DATA_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_text(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a key was removed before data was re-encrypted
        raise RuntimeError("encrypted value cannot be read with the configured keys") from exc


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with Fernet (AES-128-CBC + HMAC) under DATA_ENCRYPTION_KEYS."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt_text(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt_text(value)
