"""Settings from files (compose secrets, Kubernetes Secret volumes) and the production rule
for the public base URL (issue 17, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.secret_files import SecretFileError
from shared.settings import Settings, load_settings, load_settings_or_exit

KEYS = '{"k1": "' + "A" * 43 + '="}'
PRODUCTION = {"env": "production", "internal_secret": "i" * 40, "cursor_secret": "c" * 40,
              "data_keys": KEYS, "data_active_key": "k1"}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUTA_INTERNAL_SECRET", "RUTA_CURSOR_SECRET", "RUTA_SECRETS_DIR",
                 "RUTA_DATA_KEYS", "RUTA_DATA_ACTIVE_KEY", "RUTA_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_a_setting_is_read_from_the_file_its_FILE_variable_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "internal").write_text("s" * 40 + "\n")
    monkeypatch.setenv("RUTA_INTERNAL_SECRET_FILE", str(tmp_path / "internal"))
    assert Settings().internal_secret == "s" * 40  # the file's final newline is not part of it


def test_a_secrets_folder_supplies_settings_named_after_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "RUTA_CURSOR_SECRET").write_text("c" * 40)
    (tmp_path / "data_keys").write_text(KEYS)
    (tmp_path / "RUTA_DATA_ACTIVE_KEY").write_text("k1")
    monkeypatch.setenv("RUTA_SECRETS_DIR", str(tmp_path))
    s = Settings()
    assert (s.cursor_secret, s.data_keys, s.data_active_key) == ("c" * 40, KEYS, "k1")
    monkeypatch.setenv("RUTA_CURSOR_SECRET", "e" * 40)  # the environment wins over the folder
    assert Settings().cursor_secret == "e" * 40


def test_unusable_files_are_refused_naming_the_setting_never_the_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "internal").write_text("leaked-value-" * 4)
    monkeypatch.setenv("RUTA_INTERNAL_SECRET_FILE", str(tmp_path / "internal"))
    monkeypatch.setenv("RUTA_INTERNAL_SECRET", "other-leaked-value" * 3)
    monkeypatch.setenv("RUTA_CURSOR_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretFileError) as err:
        Settings()
    assert err.value.problems == [
        "RUTA_INTERNAL_SECRET: set it or RUTA_INTERNAL_SECRET_FILE, not both",
        "RUTA_CURSOR_SECRET_FILE: cannot read the file it names"]
    with pytest.raises(SystemExit) as exit_:
        load_settings_or_exit()
    assert exit_.value.code == 2
    err_text = capsys.readouterr().err
    assert "RUTA_CURSOR_SECRET_FILE" in err_text and "leaked" not in err_text


@pytest.mark.parametrize(("url", "accepted"), [
    (None, False),
    ("http://ruta.example.org", False),
    ("ftp://ruta.example.org", False),
    ("https://ruta.example.org?x=1", False),
    ("https://ruta.example.org", True),
    ("https://ruta.example.org/api", True),
    ("http://127.0.0.1:8000", True),
    ("http://localhost:8080", True),
])
def test_production_requires_a_public_base_url_in_https_unless_loopback(
        url: str | None, accepted: bool) -> None:
    extra = {} if url is None else {"public_base_url": url}
    if accepted:
        assert load_settings(**PRODUCTION, **extra).public_base_url == url
        return
    with pytest.raises(ValidationError, match="RUTA_PUBLIC_BASE_URL"):
        load_settings(**PRODUCTION, **extra)


def test_development_keeps_its_loopback_default() -> None:
    assert Settings().public_base_url == "http://127.0.0.1:8000"


def test_the_database_password_comes_from_its_own_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "db").write_text("p@ss:w/rd\n")
    monkeypatch.setenv("RUTA_DATABASE_PASSWORD_FILE", str(tmp_path / "db"))
    s = load_settings(registry_database_url="postgresql+asyncpg://ruta@postgres:5432/reg",
                      referrals_database_url="postgresql+asyncpg://ruta:own@postgres/ref")
    assert s.database_url("registry") == "postgresql+asyncpg://ruta:p%40ss%3Aw%2Frd@postgres:5432/reg"
    assert s.database_url("referrals") == "postgresql+asyncpg://ruta:own@postgres/ref"


def test_each_database_may_have_its_own_password_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Kubernetes worker purges all four databases, each with its own CloudNativePG
    `<cluster>-app` Secret: a per-database password wins over the shared one."""
    (tmp_path / "shared").write_text("common\n")
    (tmp_path / "registry").write_text("registry-only\n")
    monkeypatch.setenv("RUTA_DATABASE_PASSWORD_FILE", str(tmp_path / "shared"))
    monkeypatch.setenv("RUTA_REGISTRY_DATABASE_PASSWORD_FILE", str(tmp_path / "registry"))
    s = load_settings(registry_database_url="postgresql+asyncpg://app@reg-rw:5432/app",
                      gateway_database_url="postgresql+asyncpg://app@gw-rw:5432/app")
    assert s.database_url("registry") == "postgresql+asyncpg://app:registry-only@reg-rw:5432/app"
    assert s.database_url("gateway") == "postgresql+asyncpg://app:common@gw-rw:5432/app"
