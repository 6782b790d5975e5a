"""The application's settings: one frozen dataclass read from the environment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent


def _var_dir() -> Path:
    return Path(os.environ.get("MENTORCIRCLE_VAR_DIR", PROJECT_ROOT / "var")).resolve()


def _secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    configured = os.environ.get("SECRET_KEY")
    if configured:
        return configured
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written with 0600 so other local users cannot forge session cookies.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    base_url: str
    mail_from: str
    smtp_url: str | None
    var_dir: Path
    debug: bool = False
    pg_pool_min: int = 2
    pg_pool_max: int = 10
    sqlite_readers: int = 4
    sqlite_busy_timeout_ms: int = 10_000
    session_max_age: int = 14 * 24 * 3600
    # The outbox dispatcher: inside the app (off for separate `mentorcircle dispatch` workers),
    # and its timing, in seconds, so tests and operators can tune it.
    dispatch_in_app: bool = True
    dispatch_batch: int = 200
    dispatch_lease: float = 300.0
    dispatch_backoff: float = 60.0
    dispatch_max_attempts: int = 6
    dispatch_idle: float = 5.0
    # Asking for a sign-in link answers in no less than this (seconds): see sign_in_links.
    sign_in_response_seconds: float = 0.4

    @property
    def mail_folder(self) -> Path:
        return self.var_dir / "mail"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by DATABASE_URL (sqlite:///relative or sqlite:////absolute)."""
        raw = self.database_url.removeprefix("sqlite:///")
        path = Path(raw)
        return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "localhost"

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"


def load_settings() -> Settings:
    var_dir = _var_dir()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'mentorcircle.sqlite3'}"
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ValueError(
            "DATABASE_URL must start with sqlite:///, postgres:// or postgresql:// "
            f"(got {database_url.split(':', 1)[0]!r})"
        )
    return Settings(
        database_url=database_url,
        secret_key=_secret_key(var_dir),
        base_url=os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        mail_from=os.environ.get("MAIL_FROM", "mentorcircle@localhost"),
        smtp_url=os.environ.get("SMTP_URL") or None,
        var_dir=var_dir,
        debug=_bool("DEBUG", False),
        pg_pool_min=int(os.environ.get("PG_POOL_MIN", "2")),
        pg_pool_max=int(os.environ.get("PG_POOL_MAX", "10")),
        dispatch_in_app=_bool("DISPATCH_IN_APP", True),
        dispatch_batch=int(os.environ.get("DISPATCH_BATCH", "200")),
        dispatch_lease=float(os.environ.get("DISPATCH_LEASE_SECONDS", "300")),
        dispatch_backoff=float(os.environ.get("DISPATCH_BACKOFF_SECONDS", "60")),
        dispatch_max_attempts=int(os.environ.get("DISPATCH_MAX_ATTEMPTS", "6")),
        dispatch_idle=float(os.environ.get("DISPATCH_IDLE_SECONDS", "5")),
        sign_in_response_seconds=float(os.environ.get("SIGN_IN_RESPONSE_SECONDS", "0.4")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def sign(purpose: str, message: str) -> str:
    """A URL-safe 32-character HMAC of `message` under a key derived from SECRET_KEY for one
    purpose (feeds, "I can't attend" links, unsubscribing): secrets in links that are derived,
    never stored, and cannot be reused for another purpose."""
    key = hashlib.sha256(f"mentorcircle-{purpose}:".encode() + get_settings().secret_key.encode())
    digest = hmac.new(key.digest(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def signature_matches(purpose: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(purpose, message), signature)
