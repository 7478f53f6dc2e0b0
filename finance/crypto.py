"""Field-level encryption of sensitive values, their blind index, and their masked form.

Keys come from `FIELD_ENCRYPTION_KEYS` (settings): `version:base64key` pairs, newest first. A stored
value is `v<version>:<Fernet token>`, so `rotate_keys` can tell which rows are on an older key.
Decryption never falls back to the ciphertext or to "": a value no configured key opens raises
`SensitiveDataUnavailable`. "" is stored as "" (never encrypted) so a blank stays distinguishable.

The blind index is an HMAC-SHA256 (key `BLIND_INDEX_KEY`) of the normalized value: exact-match
search and duplicate detection without decrypting every row.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK_CHAR = "•"
_STORED = re.compile(r"^v(\d+):(.+)$", re.DOTALL)


class SensitiveDataUnavailable(Exception):
    """A stored sensitive value cannot be decrypted with the configured keys."""


@dataclass(frozen=True)
class Keyring:
    newest_version: int
    versions: tuple[int, ...]
    fernet: MultiFernet


def derived_key(secret: str, purpose: str) -> str:
    """A deterministic Fernet key from a secret: the laptop and test default, never production's."""
    digest = hashlib.sha256(f"kehu:{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def parse_keys(spec: str | list[str] | tuple[str, ...]) -> list[tuple[int, str]]:
    """`"2:key,1:key"` (or a list of `version:key`) as [(version, key)], newest first."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    keys: list[tuple[int, str]] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        version, sep, key = item.partition(":")
        if not sep or not version.isdigit() or not key:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries are version:base64key.")
        try:
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS version {version} is not a valid Fernet key."
            ) from None
        keys.append((int(version), key))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS needs at least one key.")
    if len({v for v, _ in keys}) != len(keys):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS repeats a version.")
    return keys


@functools.lru_cache(maxsize=8)
def _keyring_for(spec: tuple[str, ...]) -> Keyring:
    keys = parse_keys(spec)
    return Keyring(
        newest_version=keys[0][0],
        versions=tuple(v for v, _ in keys),
        fernet=MultiFernet([Fernet(k.encode()) for _, k in keys]),
    )


def keyring() -> Keyring:
    spec = settings.FIELD_ENCRYPTION_KEYS
    return _keyring_for(tuple(spec.split(",")) if isinstance(spec, str) else tuple(spec))


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and _STORED.match(stored) is not None  # type: ignore[arg-type]


def stored_version(stored: str) -> int | None:
    match = _STORED.match(stored or "")
    return int(match.group(1)) if match else None


def encrypt(plaintext: str) -> str:
    """`v<newest>:<token>`; "" stays ""."""
    if plaintext == "":
        return ""
    ring = keyring()
    return f"v{ring.newest_version}:{ring.fernet.encrypt(plaintext.encode()).decode()}"


def decrypt(stored: str) -> str:
    """The plaintext; "" stays "". Raises SensitiveDataUnavailable, never returns the ciphertext."""
    if stored == "":
        return ""
    match = _STORED.match(stored)
    if match is None:
        raise SensitiveDataUnavailable("The stored value is not in the encrypted format.")
    try:
        return keyring().fernet.decrypt(match.group(2).encode()).decode()
    except (InvalidToken, UnicodeDecodeError):
        raise SensitiveDataUnavailable(
            f"No configured key (FIELD_ENCRYPTION_KEYS) decrypts a value stored with key v{match.group(1)}."
        ) from None


def rotate(stored: str) -> str:
    """The same plaintext under the newest key; "" stays "". Raises SensitiveDataUnavailable."""
    if stored == "":
        return ""
    match = _STORED.match(stored)
    if match is None:
        raise SensitiveDataUnavailable("The stored value is not in the encrypted format.")
    ring = keyring()
    try:
        token = ring.fernet.rotate(match.group(2).encode()).decode()
    except InvalidToken:
        raise SensitiveDataUnavailable(
            f"No configured key (FIELD_ENCRYPTION_KEYS) decrypts a value stored with key v{match.group(1)}."
        ) from None
    return f"v{ring.newest_version}:{token}"


# --- Blind index -------------------------------------------------------------------------------


def normalize_for_index(value: str) -> str:
    """Case, spaces and punctuation do not distinguish identifiers: `9131-0000 ...l` == `91310000...L`."""
    return re.sub(r"[\W_]+", "", value or "").upper()


def blind_index(value: str) -> str:
    """HMAC-SHA256 hex of the normalized value; "" for a blank value (blank is never a duplicate)."""
    normalized = normalize_for_index(value)
    if not normalized:
        return ""
    key = settings.BLIND_INDEX_KEY.encode()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


# --- Masking -----------------------------------------------------------------------------------


def mask(value: Any) -> str:
    """All but the last 4 characters as "•" ("" stays ""); a value of 4 or fewer is fully masked."""
    text = "" if value is None else str(value)
    if not text:
        return ""
    if len(text) <= 4:
        return MASK_CHAR * len(text)
    return MASK_CHAR * (len(text) - 4) + text[-4:]


# --- Model fields ------------------------------------------------------------------------------


class EncryptedTextField(models.CharField):
    """A short text stored encrypted in a `text` column. Filtering on it matches nothing useful
    (each encryption differs): search through a blind-index column instead."""

    encrypted = True

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        return encrypt(str(value))


class EncryptedDecimalField(models.DecimalField):
    """A Decimal stored as encrypted text (`text` column); Python, forms and the API see a Decimal.
    No SQL arithmetic, ordering or comparison on it: read the rows and compute in Python."""

    encrypted = True

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        plaintext = decrypt(value)
        try:
            return Decimal(plaintext)
        except InvalidOperation:
            raise SensitiveDataUnavailable("A decrypted figure is not a number.") from None

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        quantum = Decimal(1).scaleb(-self.decimal_places)
        return encrypt(str(Decimal(value).quantize(quantum)))

    def get_db_converters(self, connection: Any) -> list[Any]:
        # Only our own converter: the backend's decimal converter expects a number, not ciphertext.
        return [self.from_db_value]


def encrypted_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]


class BlindIndexField(models.CharField):
    """The keyed hash of another field's normalized value (set by the service that writes it)."""

    blind_index = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)


def is_audit_hidden(field: models.Field) -> bool:
    """Blind-index columns stay out of audit snapshots (a hash of a short id can be brute-forced)."""
    return getattr(field, "blind_index", False)


def encrypted_marker(field: models.Field, value: Any) -> Any:
    """What the audit log keeps of an encrypted value: "••••1234" for a text, "••••" for a figure,
    blank as blank."""
    if value is None or value == "":
        return value
    if isinstance(field, models.DecimalField):
        return MASK_CHAR * 4
    text = str(value)
    return MASK_CHAR * 4 + (text[-4:] if len(text) > 4 else "")
