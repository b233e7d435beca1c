"""Settings: every operator-tunable value and its default, read from ``LIMEN_*`` variables.

Settings are built once, by the CLI's root callback or by whoever calls
``limen.api.create_app``, and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8270


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("limen", appauthor=False))


class Settings(BaseSettings):
    """Limen's configuration. Each field is also the env var ``LIMEN_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LIMEN_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Where the embedded database, the key file and other local state live."""

    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite at ``<data_dir>/limen.db``."""

    key_file: Path | None = None
    """Key-encryption key file; unset means ``<data_dir>/limen.key``."""

    key_passphrase: SecretStr | None = None
    """Derive the key-encryption key from this passphrase (Argon2id) instead of a key file."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    public_url: str | None = None
    """The URL clients reach this installation at (``https://limen.example.com``): the
    issuer of its tokens, the audience of tokens for its own API, and every URL its
    metadata advertises. Unset: ``http://<host>:<port>``. Never taken from a request."""

    ssf_allowed_hosts: str | None = None
    """Comma-separated host names or addresses that Shared Signals push receivers may be
    at even though they are loopback, link-local or private (unset: none may be)."""

    sink_allowed_hosts: str | None = None
    """Comma-separated host names or addresses that audit sinks added over HTTP
    (``POST /v1/sinks``) may send to even though they are loopback, link-local or private
    (unset: none may be). ``limen sink add`` on the server host is not limited."""

    ssf_signing_alg: Literal["EdDSA", "RS256"] = "EdDSA"
    """The JWS algorithm of Shared Signals SETs: ``EdDSA`` (Ed25519), or ``RS256`` (a
    2048-bit RSA key) for receivers following the CAEP interoperability profile. Both
    keys are published at ``/.well-known/jwks.json``."""

    log_level: str = "info"

    log_format: Literal["text", "json"] = "text"
    """``text``: one line per event with time, level and logger; ``json``: one JSON object
    per line, for a log shipper."""

    access_log: bool = False
    """Log a line per HTTP request. Off by default: every secret read, decision and change
    is already an event in the audit trail, and the line costs a share of a small request."""

    forwarded_allow_ips: str | None = None
    """Proxy addresses (comma-separated, or ``*``) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` headers are trusted; unset means the connection's own address is
    the client address recorded in events."""

    access_token_ttl: timedelta = timedelta(minutes=5)
    """Lifetime of OAuth access tokens."""

    console_session_ttl: timedelta = timedelta(hours=8)
    """How long a console sign-in lasts (``LIMEN_CONSOLE_SESSION_TTL``); revoking the
    access token or suspending its identity ends the session at once."""

    max_request_bytes: int = 1_048_576
    """Requests with a larger body are refused with 413."""

    vault_reuse_seconds: float = Field(default=5.0, ge=0)
    """On PostgreSQL, how long an API node may answer repeated reads of an item from the
    rows it looked up last, while it has heard of no vault write; 0 looks every item up,
    so that a read on one node always sees a write just committed on another."""

    detect: bool = True
    """Run the live detector on this server: score every committed event, raise alerts
    and run the response playbooks (``docs/respond.md``). Off: events are only recorded."""

    detect_process: bool | None = None
    """Where ``limen server`` runs the live detector: ``true`` in a child process of its
    own (``limen detect run``), so the API process does no scoring; ``false`` on a thread
    of the API process; unset, in a child process where the database commits writers in
    parallel (PostgreSQL) and on a thread where writers take turns on one lock (SQLite)."""

    playbook_suspensions_per_minute: int = Field(default=5, ge=0)
    """The blast-radius guard: at most this many identities suspended or contained by
    playbooks in any minute, across the cluster; beyond it, the alert asks a person."""

    orphans: Literal["suspend", "transfer-to-manager", "keep"] = "suspend"
    """When the identity provider deprovisions a person (SCIM ``active: false`` or
    ``DELETE``), what becomes of the agents and services they own: ``suspend`` them,
    ``transfer-to-manager`` (re-parent them to the person's manager from the enterprise
    extension, or suspend them if there is none active), or ``keep`` them as they are."""

    @field_validator("data_dir", "key_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @field_validator("database_url", mode="after")
    @classmethod
    def _normalise_driver(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else None

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise ValueError("must be an http(s) URL such as https://limen.example.com")
        return value.rstrip("/")

    @property
    def resolved_public_url(self) -> str:
        """:attr:`public_url`, or the listen address."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'limen.db'}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "limen.key"

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``: the database family in use."""
        return "postgresql" if self.resolved_database_url.startswith("postgresql") else "sqlite"


def normalise_database_url(value: str) -> str:
    """``value`` with the driver Limen ships: operators copy URLs from other tools, which
    write ``postgres://`` or ``postgresql://``; psycopg 3 is the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value
