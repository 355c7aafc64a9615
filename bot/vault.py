"""Encryption at rest for linked Chastify DEV tokens (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``storage.key`` (config or env ``CHASTIFY_BOT_STORAGE__KEY``) or from the key file
(``storage.key_file``, default ``bot.key`` next to the database), which is generated with mode 0600 only when the
caller allows it (``create=True``): ``bot.keycheck`` allows it on a first start (no link stored) or when the
operator asked for a new key (``python -m bot run --new-key``), never silently while links need the old key.
Losing the key means every owner must link again; nothing here ever deletes a link.

Tokens and keys are never logged, and ``repr(vault)`` shows only a short fingerprint of the key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

__all__ = [
    "MAX_TOKEN_LENGTH",
    "UndecryptableLink",
    "Vault",
    "VaultError",
    "VaultKeyError",
    "VaultKeyMissing",
    "normalize_token",
]

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 512
_BEARER = re.compile(r"^bearer(?:\s+|$)", re.IGNORECASE)
_QUOTES = ('"', "'", "`", "\u201c\u201d", "\u2018\u2019")


class VaultError(Exception):
    """The vault key is missing, malformed or unreadable. The message says what to do."""


class VaultKeyError(VaultError):
    """A stored token cannot be decrypted with the current key (the key changed or the data is damaged)."""


class VaultKeyMissing(VaultError):
    """The key file does not exist and the caller did not allow a new one to be generated."""


@dataclass(frozen=True, slots=True)
class UndecryptableLink:
    link_id: int
    description: str


def _load_fernet(key: bytes, what: str) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise VaultError(
            f"{what} is not a valid Fernet key: it must be 32 random bytes in url-safe base64 "
            "(44 characters ending in '='), e.g. the output of "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from None


class Vault:
    """Encrypts and decrypts tokens with one Fernet key."""

    __slots__ = ("_fernet", "fingerprint", "source")

    def __init__(self, key: bytes | str, *, source: str = "the vault key") -> None:
        raw = key.encode("ascii", "replace") if isinstance(key, str) else key
        raw = raw.strip()
        self._fernet = _load_fernet(raw, source)
        self.source = source
        # 32 bits of a hash of the key: enough to tell two keys apart in a message, useless to an attacker.
        self.fingerprint = hashlib.sha256(raw).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"Vault(source={self.source!r}, fingerprint={self.fingerprint!r})"

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    @classmethod
    def from_settings(cls, key: SecretStr | None, key_file: Path, *, create: bool = False) -> tuple[Vault, bool]:
        """The vault for ``storage.key`` if set, else for the key file.

        A missing key file is generated only with ``create=True``; otherwise VaultKeyMissing is raised (a new
        key would silently make every stored token unreadable). Returns ``(vault, created)``: ``created`` is
        True when a new key file was written just now.
        """
        if key is not None and key.get_secret_value().strip():
            return cls(key.get_secret_value(), source="storage.key (env CHASTIFY_BOT_STORAGE__KEY)"), False
        what = f"the key file {key_file}"
        try:
            return cls(_read_key_file(key_file), source=what), False
        except FileNotFoundError:
            if not create:
                raise VaultKeyMissing(f"the key file {key_file} does not exist") from None
        new_key = Fernet.generate_key()
        try:
            _write_key_file(key_file, new_key)
        except FileExistsError:
            # Another process created it between our read and write: use theirs.
            return cls(_read_key_file(key_file), source=what), False
        log.warning(
            "generated a new token encryption key in %s; back it up: without it linked tokens cannot be read",
            key_file,
        )
        return cls(new_key, source=what), True

    # ------------------------------------------------------------------ use

    def encrypt(self, token: str) -> bytes:
        if not token:
            raise ValueError("refusing to encrypt an empty token")
        return self._fernet.encrypt(token.encode("utf-8"))

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(blob)).decode("utf-8")
        except (InvalidToken, TypeError, UnicodeDecodeError):
            raise VaultKeyError(
                f"a stored token cannot be decrypted with {self.source} (key fingerprint {self.fingerprint}); "
                "the key was changed or the data is damaged"
            ) from None

    def can_decrypt(self, blob: bytes) -> bool:
        try:
            self.decrypt(blob)
        except VaultKeyError:
            return False
        return True

    def check(self, links: Iterable[tuple[int, str, bytes]]) -> list[UndecryptableLink]:
        """The links (``(id, description, ciphertext)``) whose token this key cannot decrypt."""
        return [UndecryptableLink(link_id, desc) for link_id, desc, blob in links if not self.can_decrypt(blob)]

    def undecryptable_message(self, bad: Sequence[UndecryptableLink]) -> str:
        """A message for the operator about links :meth:`check` reported (empty if there are none)."""
        if not bad:
            return ""
        shown = ", ".join(f"{b.link_id} ({b.description})" if b.description else str(b.link_id) for b in bad)
        noun = "link" if len(bad) == 1 else "links"
        return (
            f"{noun} {shown} cannot be decrypted with {self.source} (key fingerprint {self.fingerprint}). "
            "Restore the old key file (or the old storage.key) and restart; if the old key is lost, those "
            "owners must link again. Nothing was deleted."
        )


def _read_key_file(path: Path) -> bytes:
    """Read a key file (FileNotFoundError if missing); tighten its mode to 0600 if others can read it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise VaultError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o600)
            log.warning("the key file %s was readable by others (mode %o); its mode is now 0600", path, mode)
    except OSError:
        pass  # a read-only mount (e.g. a container secret): nothing we can do
    if not data.strip():
        raise VaultError(
            f"the key file {path} is empty. If no lock was ever linked, delete it and restart to generate a "
            "new key; otherwise restore it from your backup"
        )
    return data.strip()


def _write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` with mode 0600 (fails with FileExistsError if it exists) and write the key."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise
    except OSError as exc:
        raise VaultError(f"cannot create the key file {path}: {exc.strerror or exc}") from None
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- input


def normalize_token(raw: str) -> str:
    """Clean a pasted DEV token: trim whitespace, surrounding quotes and a leading ``Bearer ``.

    Raises ValueError (message safe to show; it never contains the token) if what remains is empty, has
    whitespace inside, is longer than 512 characters or has characters a token cannot have.
    """
    text = raw.strip()
    for _ in range(3):
        before = text
        text = _strip_quotes(text).strip()
        text = _BEARER.sub("", text, count=1).strip()
        if text == before:
            break
    if not text:
        raise ValueError("the token is empty: paste the DEV token from Chastify's developer settings")
    if any(ch.isspace() for ch in text):
        raise ValueError("the token contains spaces or line breaks: paste only the token itself")
    if len(text) > MAX_TOKEN_LENGTH:
        raise ValueError(
            f"the token is too long ({len(text)} characters; at most {MAX_TOKEN_LENGTH}): paste only the token"
        )
    if not all(33 <= ord(ch) <= 126 for ch in text):
        raise ValueError("the token contains characters a Chastify token does not have: paste only the token")
    return text


def _strip_quotes(text: str) -> str:
    for quote in _QUOTES:
        opening, closing = (quote[0], quote[-1]) if len(quote) == 2 else (quote, quote)
        if len(text) >= 2 and text[0] == opening and text[-1] == closing:
            return text[1:-1]
    return text
