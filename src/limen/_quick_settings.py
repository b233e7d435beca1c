"""The two paths ``limen read`` needs (the embedded database and the root key file), read
from the environment as :class:`limen.config.Settings` would resolve them, without
pydantic: importing it takes longer than the whole read.

It answers only when the answer cannot differ from the settings': with no database URL
and no ``LIMEN_*`` setting other than the data directory and the key file (any other one
might be invalid, which the settings would report). Otherwise it answers ``None`` and the
command builds the settings. ``tests/vault/test_quick_read.py`` holds :data:`FIELDS`
equal to the settings' fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["FIELDS", "embedded_paths"]

FIELDS: Final = frozenset(
    {
        "access_log",
        "access_token_ttl",
        "console_session_ttl",
        "data_dir",
        "database_url",
        "detect",
        "detect_process",
        "forwarded_allow_ips",
        "host",
        "key_file",
        "key_passphrase",
        "log_format",
        "log_level",
        "max_request_bytes",
        "orphans",
        "playbook_suspensions_per_minute",
        "port",
        "public_url",
        "sink_allowed_hosts",
        "ssf_allowed_hosts",
        "ssf_signing_alg",
        "vault_reuse_seconds",
    }
)
_PREFIX: Final = "LIMEN_"
# Read here; the database URL must be unset (the embedded default).
_UNDERSTOOD: Final = frozenset({"data_dir", "key_file", "database_url"})


def embedded_paths(
    data_dir: Path | None,
    database_url: str | None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[Path, Path] | None:
    """``(database file, root key file)`` for the data directory option ``data_dir``
    (``--data-dir`` or ``LIMEN_DATA_DIR``), or ``None`` if only the settings can say."""
    if database_url:
        return None
    key_file = None
    for name, value in environ.items():
        if name[: len(_PREFIX)].upper() != _PREFIX:
            continue
        field = name[len(_PREFIX) :].lower()
        if field not in FIELDS:
            continue  # the settings ignore it too
        if field not in _UNDERSTOOD or not name.isupper() or not value:
            return None
        if field == "database_url":
            return None
        if field == "key_file":
            key_file = Path(value).expanduser().absolute()
    if data_dir is None:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir("limen", appauthor=False))
    data_dir = data_dir.expanduser().absolute()
    return data_dir / "limen.db", key_file or data_dir / "limen.key"
