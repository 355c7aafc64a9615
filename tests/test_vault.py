from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.vault import UndecryptableLink, Vault, VaultError, VaultKeyError, VaultKeyMissing, normalize_token

TOKEN = "dev-token-alice"


def test_round_trip_and_ciphertext_hides_token() -> None:
    vault = Vault(Fernet.generate_key())
    blob = vault.encrypt(TOKEN)
    assert isinstance(blob, bytes) and TOKEN.encode() not in blob
    assert vault.decrypt(blob) == TOKEN
    assert vault.encrypt(TOKEN) != blob  # random IV each time
    with pytest.raises(ValueError):
        vault.encrypt("")


def test_wrong_key_raises_vault_key_error_without_leaking() -> None:
    old, new = Vault(Fernet.generate_key()), Vault(Fernet.generate_key())
    blob = old.encrypt(TOKEN)
    with pytest.raises(VaultKeyError) as info:
        new.decrypt(blob)
    assert TOKEN not in str(info.value)
    with pytest.raises(VaultKeyError):
        new.decrypt(b"not a fernet token")


def test_check_names_the_links_that_cannot_be_decrypted(tmp_path: Path) -> None:
    old = Vault(Fernet.generate_key())
    current, _ = Vault.from_settings(None, tmp_path / "bot.key", create=True)
    links = [
        (1, "guild 100 owner 7", current.encrypt("dev-token-alice")),
        (2, "guild 100 owner 8", old.encrypt("dev-token-bob")),
        (3, "guild 200 owner 9", old.encrypt("dev-token-carol")),
    ]
    bad = current.check(links)
    assert bad == [UndecryptableLink(2, "guild 100 owner 8"), UndecryptableLink(3, "guild 200 owner 9")]
    message = current.undecryptable_message(bad)
    assert "links 2 (guild 100 owner 8), 3 (guild 200 owner 9) cannot be decrypted" in message
    assert str(tmp_path / "bot.key") in message
    assert "Restore the old key file" in message and "Nothing was deleted" in message
    assert current.check(links[:1]) == [] and current.undecryptable_message([]) == ""


def test_key_file_is_generated_once_with_mode_0600_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "data" / "bot.key"
    with caplog.at_level(logging.WARNING):
        first, created = Vault.from_settings(None, key_file, create=True)
    assert created
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_text = key_file.read_text().strip()
    assert key_text not in caplog.text  # the key is never logged
    second, created_again = Vault.from_settings(None, key_file, create=True)
    assert not created_again
    assert second.decrypt(first.encrypt(TOKEN)) == TOKEN
    assert key_file.read_text().strip() == key_text


def test_a_missing_key_file_is_never_generated_unless_asked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "data" / "bot.key"
    with caplog.at_level(logging.DEBUG), pytest.raises(VaultKeyMissing, match=str(key_file)):
        Vault.from_settings(None, key_file)
    assert not key_file.exists()  # nothing was generated
    assert "generated" not in caplog.text


def test_key_file_with_wide_mode_is_tightened(tmp_path: Path) -> None:
    key_file = tmp_path / "bot.key"
    key_file.write_bytes(Fernet.generate_key())
    os.chmod(key_file, 0o644)
    Vault.from_settings(None, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_configured_key_wins_over_key_file(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    vault, created = Vault.from_settings(SecretStr(key.decode()), tmp_path / "bot.key")
    assert not created and not (tmp_path / "bot.key").exists()
    assert Vault(key).decrypt(vault.encrypt(TOKEN)) == TOKEN


@pytest.mark.parametrize("bad", ["not-a-key", "dGVzdA==", "x" * 44])
def test_bad_configured_key_gives_a_clear_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(VaultError) as info:
        Vault.from_settings(SecretStr(bad), tmp_path / "bot.key")
    message = str(info.value)
    assert "storage.key" in message and "not a valid Fernet key" in message and "44 characters" in message
    assert bad not in message


def test_bad_or_empty_key_file_gives_a_clear_error(tmp_path: Path) -> None:
    key_file = tmp_path / "bot.key"
    key_file.write_text("garbage\n")
    with pytest.raises(VaultError, match=r"key file .*bot\.key is not a valid Fernet key"):
        Vault.from_settings(None, key_file)
    key_file.write_text("\n")
    with pytest.raises(VaultError, match="is empty"):
        Vault.from_settings(None, key_file)


def test_repr_never_shows_the_key() -> None:
    key = Fernet.generate_key()
    vault = Vault(key)
    assert key.decode() not in repr(vault) and key.decode() not in str(vault)
    assert vault.fingerprint in repr(vault)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("dev-token-alice", "dev-token-alice"),
        ("  dev-token-alice\n", "dev-token-alice"),
        ('"dev-token-alice"', "dev-token-alice"),
        ("'dev-token-alice'", "dev-token-alice"),
        ("`dev-token-alice`", "dev-token-alice"),
        ("\u201cdev-token-alice\u201d", "dev-token-alice"),
        ("Bearer dev-token-alice", "dev-token-alice"),
        ("bearer   dev-token-alice", "dev-token-alice"),
        ("BEARER\tdev-token-alice", "dev-token-alice"),
        ('"Bearer dev-token-alice"', "dev-token-alice"),
        ('Bearer "dev-token-alice"', "dev-token-alice"),
        ("Bearerish-token", "Bearerish-token"),
    ],
)
def test_normalize_token_accepts(raw: str, expected: str) -> None:
    assert normalize_token(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('""', "empty"),
        ("Bearer ", "empty"),
        ("dev token alice", "spaces"),
        ("dev-token\nalice", "spaces"),
        ("a" * 513, "too long"),
        ("dev-tökén", "characters"),
    ],
)
def test_normalize_token_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        normalize_token(raw)
    if raw.strip():
        assert raw.strip() not in str(info.value)


def test_normalize_token_length_limit_is_inclusive() -> None:
    assert normalize_token("a" * 512) == "a" * 512
