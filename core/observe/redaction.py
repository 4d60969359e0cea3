"""Redaction of secrets in text and structured values: API keys, secrets, signatures,
passphrases and bearer tokens (in query strings, JSON, ``key: value`` and headers), plus every
secret-looking value of the process environment.

Shared by the audit log and the file log (neither imports the other).
"""

from __future__ import annotations

import dataclasses
import os
import re
from decimal import Decimal
from typing import Any

REDACTED = "[REDACTED]"

_KEYS = (
    r"x-mbx-apikey|api[_-]?key|apikey|access[_-]?key|api[_-]?secret|secret[_-]?key|secret"
    r"|api[_-]?signature|signature|sig|passphrase|password|passwd|access[_-]?token|token"
    r"|listen[_-]?key"
)
# key=value in URLs, query strings and form bodies: ...&signature=4c7e...
_QUERY = re.compile(rf"(?i)\b({_KEYS})=([^&\s\"',;)]+)")
# "apiKey": "..." / 'api-key': '...' / apiKey='...' in JSON, dict reprs and kwargs
_QUOTED = re.compile(rf"(?i)([\"']?)\b({_KEYS})\1(\s*[:=]\s*)([\"'])((?:\\.|(?!\4).)*)\4")
# header style, unquoted: X-MBX-APIKEY: abc / api-signature: abc
_BARE = re.compile(rf"(?i)\b({_KEYS})(\s*:\s*)([^\s\"',;}}\]]+)")
_AUTH = re.compile(r"(?i)\b(authorization)(\s*[:=]\s*[\"']?)((?:bearer|basic)\s+)?([^\s\"',}]+)")
_ENV_NAME = re.compile(r"(?i)key|secret|token|passw|passphrase|sign")
_ENV_VALUE = re.compile(r"[A-Za-z0-9_\-+=/.]{12,}")


_HINT = re.compile("key|secret|sig|pass|token|auth")
"""Every pattern above contains one of these (a cheap test, on lower case, before them)."""
_OWN_FIELDS = frozenset(
    {
        "client_order_id",
        "pair",
        "venue",
        "symbol",
        "side",
        "purpose",
        "fee_currency",
        "currency",
        "name",
        "old",
        "new",
    }
)
"""Record fields made by arbtui itself from its config (never credentials): not scanned."""
_KEY_NAME = re.compile(rf"(?i)(?:{_KEYS})")
_env_cache: list[str] | None = None


def env_secrets(refresh: bool = False) -> list[str]:
    """Values of environment variables that look like credentials (name and shape), longest
    first: they are removed wherever they appear, whatever the context. Read once (again
    with ``refresh``; each file log start refreshes)."""
    global _env_cache
    if _env_cache is None or refresh:
        found = {
            v
            for k, v in os.environ.items()
            if _ENV_NAME.search(k) and _ENV_VALUE.fullmatch(v) and not v.startswith("/")
        }
        _env_cache = sorted(found, key=len, reverse=True)
    return _env_cache


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with credentials replaced by ``[REDACTED]``: values of key-like names
    (apiKey, api-key, X-MBX-APIKEY, secret, signature, token, password, listenKey ...) in
    query strings, JSON, dict reprs and headers; Authorization header values; and any literal
    value of a credential-like environment variable (``secrets`` overrides that list)."""
    for value in env_secrets() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    if not _HINT.search(text.lower()):
        return text
    text = _QUERY.sub(rf"\1={REDACTED}", text)
    text = _QUOTED.sub(rf"\1\2\1\3\4{REDACTED}\4", text)
    text = _BARE.sub(rf"\1\2{REDACTED}", text)
    return _AUTH.sub(rf"\1\2\3{REDACTED}", text)


def redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, int | float | Decimal | None):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: getattr(value, f.name)
            if f.name in _OWN_FIELDS
            else redact_value(getattr(value, f.name), secrets)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and _KEY_NAME.fullmatch(k)
            else redact_value(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v, secrets) for v in value]
    return value
