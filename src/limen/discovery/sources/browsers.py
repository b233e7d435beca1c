"""Browser profiles: tokens web apps keep in local storage, session storage and IndexedDB,
session cookies of developer services, and how many logins each site has saved.

Chromium-family browsers (Chrome, Chromium, Edge, Brave) and Firefox, on Linux and macOS.
Nothing the operating system's keychain protects is decrypted: Chromium's cookie values
and every browser's saved passwords stay encrypted. What is read is what any program
running as the user can read in the clear:

- Chromium's ``Local Storage/leveldb``, ``Session Storage`` and ``IndexedDB/*.leveldb``
  (LevelDB, read with plyvel from a private copy, so the browser's own files are never
  opened for writing and a running browser's lock does not matter);
- Firefox's ``webappsstore.sqlite`` and ``storage/default/*/ls/data.sqlite`` (local
  storage) and ``cookies.sqlite`` (cookie values are plain there);
- which developer services have a session cookie (by name, never by value, for Chromium),
  and the number of saved logins per site (``Login Data``, ``logins.json``).

Storage values become text blobs, one ``key: value`` line per entry, so every rule applies
to them; each blob is labelled with the browser, profile, store and origin. Cookies and
saved logins become :class:`Fact` records, fingerprinted without being decrypted.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from limen.discovery.sources.base import Blob, Warn

__all__ = ["BROWSERS", "SESSION_COOKIES", "BrowserSource", "Fact"]

BROWSERS: Final = (
    ("chrome", ".config/google-chrome"),
    ("chromium", ".config/chromium"),
    ("chromium", "snap/chromium/common/chromium"),
    ("edge", ".config/microsoft-edge"),
    ("brave", ".config/BraveSoftware/Brave-Browser"),
    ("chrome", "Library/Application Support/Google/Chrome"),
    ("chromium", "Library/Application Support/Chromium"),
    ("edge", "Library/Application Support/Microsoft Edge"),
    ("brave", "Library/Application Support/BraveSoftware/Brave-Browser"),
    ("firefox", ".mozilla/firefox"),
    ("firefox", "snap/firefox/common/.mozilla/firefox"),
    ("firefox", "Library/Application Support/Firefox/Profiles"),
)
"""(browser, user-data folder under home) for every supported browser and platform."""

SESSION_COOKIES: Final = (
    ("github.com", "user_session", "GitHub"),
    ("gitlab.com", "_gitlab_session", "GitLab"),
    ("slack.com", "d", "Slack"),
    ("atlassian.net", "cloud.session.token", "Atlassian"),
    ("bitbucket.org", "cloud.session.token", "Bitbucket"),
    ("vercel.com", "authorization", "Vercel"),
    ("huggingface.co", "token", "Hugging Face"),
    ("claude.ai", "sessionKey", "Anthropic"),
    ("chatgpt.com", "__Secure-next-auth.session-token", "OpenAI"),
    ("npmjs.com", "token", "npm"),
    ("heroku.com", "heroku-session-affinity", "Heroku"),
    ("console.aws.amazon.com", "aws-userInfo", "AWS"),
)
"""(cookie domain, cookie name, provider) of sessions that act as their user."""

_MAX_VALUE: Final = 1 << 20
_PRINTABLE_RUN: Final = re.compile(rb"[\x20-\x7e]{8,}")
_UTF16_RUN: Final = re.compile(rb"(?:[\x20-\x7e]\x00){8,}")


@dataclass(frozen=True, slots=True)
class Fact:
    """A credential seen without reading its value: a session cookie, saved logins.

    ``material`` identifies it (an encrypted cookie value, an origin and profile) and is
    fingerprinted like a secret, so a rescan recognises it; ``shown`` is what a report
    may print instead of a value.
    """

    rule_id: str
    provider: str
    description: str
    path: str
    material: bytes = field(repr=False)
    shown: str
    detail: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Profile:
    browser: str
    name: str
    path: Path


class BrowserSource:
    """Every browser profile under a home directory."""

    def __init__(
        self,
        home: Path,
        *,
        browsers: Sequence[tuple[str, str]] = BROWSERS,
        session_cookies: Sequence[tuple[str, str, str]] = SESSION_COOKIES,
    ) -> None:
        self.home = Path(home)
        self._browsers = browsers
        self._session_cookies = session_cookies
        self._facts: list[Fact] = []

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield one text blob per origin and store; collect cookies and saved logins."""
        self._facts = []
        for profile in self.profiles():
            try:
                if profile.browser == "firefox":
                    yield from self._firefox(profile, warn)
                else:
                    yield from self._chromium(profile, warn)
            except (OSError, sqlite3.Error) as exc:
                warn(f"{profile.path}: cannot read the {profile.browser} profile ({_why(exc)})")

    def facts(self, warn: Warn) -> list[Fact]:
        """Session cookies and saved-login counts seen by the last :meth:`blobs` pass."""
        return list(self._facts)

    def profiles(self) -> list[_Profile]:
        """The profiles that exist, in a stable order."""
        found: list[_Profile] = []
        for browser, relative in self._browsers:
            root = self.home / relative
            if not root.is_dir():
                continue
            marker = "prefs.js" if browser == "firefox" else "Preferences"
            for child in sorted(root.iterdir()):
                if child.is_dir() and (child / marker).exists():
                    found.append(_Profile(browser, child.name, child))
        return found

    # --- Chromium ---------------------------------------------------------------------

    def _chromium(self, profile: _Profile, warn: Warn) -> Iterator[Blob]:
        local = profile.path / "Local Storage" / "leveldb"
        if local.is_dir():
            yield from self._blobs(profile, "local storage", local, _local_storage(local, warn))
        session = profile.path / "Session Storage"
        if session.is_dir():
            yield from self._blobs(profile, "session storage", session, _session(session, warn))
        indexed = profile.path / "IndexedDB"
        if indexed.is_dir():
            for db in sorted(indexed.glob("*.indexeddb.leveldb")):
                origin = _origin_from_folder(db.name.removesuffix(".indexeddb.leveldb"))
                entries = _leveldb(db, warn, comparator=b"idb_cmp1")
                lines = {origin: [text for _, value in entries for text in _strings(value)]}
                yield from self._blobs(profile, "indexeddb", db, lines)
        self._chromium_cookies(profile, warn)
        self._chromium_logins(profile, warn)

    def _chromium_cookies(self, profile: _Profile, warn: Warn) -> None:
        for name in ("Network/Cookies", "Cookies"):
            db = profile.path / name
            if db.exists():
                rows = _query(
                    db, "SELECT host_key, name, value, encrypted_value FROM cookies", warn
                )
                for host, cookie, value, encrypted in rows:
                    material = value.encode() if isinstance(value, str) and value else encrypted
                    self._cookie(profile, db, str(host), str(cookie), bytes(material or b""))
                return

    def _chromium_logins(self, profile: _Profile, warn: Warn) -> None:
        db = profile.path / "Login Data"
        if not db.exists():
            return
        rows = _query(
            db,
            "SELECT origin_url, count(*) FROM logins WHERE blacklisted_by_user = 0 "
            "GROUP BY origin_url ORDER BY origin_url",
            warn,
        )
        for origin, count in rows:
            self._logins(profile, db, str(origin), int(count))

    # --- Firefox ----------------------------------------------------------------------

    def _firefox(self, profile: _Profile, warn: Warn) -> Iterator[Blob]:
        old = profile.path / "webappsstore.sqlite"
        if old.exists():
            by_origin: dict[str, list[str]] = {}
            for scope, key, value in _query(
                old, "SELECT originKey, key, value FROM webappsstore2", warn
            ):
                by_origin.setdefault(_firefox_origin(str(scope)), []).append(f"{key}: {value}")
            yield from self._blobs(profile, "local storage", old, by_origin)
        for data in sorted((profile.path / "storage" / "default").glob("*/ls/data.sqlite")):
            origin = _origin_from_folder(data.parent.parent.name.replace("+++", "_"))
            lines = []
            for key, value, compressed in _query(
                data, "SELECT key, value, compression_type FROM data", warn
            ):
                if compressed:
                    continue  # snappy-framed; left out rather than half-read
                lines.append(f"{key}: {_text(value)}")
            yield from self._blobs(profile, "local storage", data, {origin: lines})
        cookies = profile.path / "cookies.sqlite"
        if cookies.exists():
            by_host: dict[str, list[str]] = {}
            for host, name, value in _query(
                cookies, "SELECT host, name, value FROM moz_cookies", warn
            ):
                self._cookie(profile, cookies, str(host), str(name), str(value).encode())
                by_host.setdefault(str(host).lstrip("."), []).append(f"{name}={value}")
            yield from self._blobs(profile, "cookies", cookies, by_host)
        logins = profile.path / "logins.json"
        if logins.exists():
            try:
                document = json.loads(logins.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                warn(f"{logins}: cannot read ({_why(exc)})")
            else:
                counts: dict[str, int] = {}
                for entry in document.get("logins", []) if isinstance(document, dict) else []:
                    if isinstance(entry, dict) and isinstance(entry.get("hostname"), str):
                        counts[entry["hostname"]] = counts.get(entry["hostname"], 0) + 1
                for origin, count in sorted(counts.items()):
                    self._logins(profile, logins, origin, count)

    # --- shared -----------------------------------------------------------------------

    def _blobs(
        self, profile: _Profile, store: str, path: Path, lines: dict[str, list[str]]
    ) -> Iterator[Blob]:
        for origin, entries in sorted(lines.items()):
            if not entries:
                continue
            yield Blob(
                path=f"{path} [{origin}]",
                source="browser",
                data="\n".join(entries).encode("utf-8", "replace") + b"\n",
                detail=_detail(profile, store, origin),
            )

    def _cookie(self, profile: _Profile, db: Path, host: str, name: str, value: bytes) -> None:
        domain = host.lstrip(".")
        for suffix, cookie, provider in self._session_cookies:
            if name == cookie and (domain == suffix or domain.endswith("." + suffix)):
                self._facts.append(
                    Fact(
                        rule_id="browser-session-cookie",
                        provider=provider,
                        description=f"{provider} session cookie {name!r} in {profile.browser}",
                        path=f"{db} [{domain}]",
                        material=b"cookie\0" + domain.encode() + b"\0" + value,
                        shown=f"cookie {name} (value not read)",
                        detail=_detail(profile, "cookies", domain),
                    )
                )

    def _logins(self, profile: _Profile, db: Path, origin: str, count: int) -> None:
        self._facts.append(
            Fact(
                rule_id="browser-saved-logins",
                provider=profile.browser.capitalize(),
                description=f"{count} saved login(s) for {origin} in {profile.browser}",
                path=f"{db} [{origin}]",
                material=f"logins\0{profile.path}\0{origin}".encode(),
                shown=f"{count} saved login(s), passwords encrypted",
                detail=(*_detail(profile, "saved logins", origin), ("count", str(count))),
            )
        )


def _detail(profile: _Profile, store: str, origin: str) -> tuple[tuple[str, str], ...]:
    return (
        ("browser", profile.browser),
        ("profile", profile.name),
        ("store", store),
        ("origin", origin),
    )


def _local_storage(db: Path, warn: Warn) -> dict[str, list[str]]:
    """Chromium local storage: keys ``_<origin>\\0<encoded key>``, values encoded alike."""
    by_origin: dict[str, list[str]] = {}
    for key, value in _leveldb(db, warn):
        if not key.startswith(b"_") or b"\0" not in key:
            continue  # META, VERSION: bookkeeping
        origin, _, name = key[1:].partition(b"\0")
        by_origin.setdefault(origin.decode("utf-8", "replace"), []).append(
            f"{_chromium_string(name)}: {_chromium_string(value)}"
        )
    return by_origin


def _session(db: Path, warn: Warn) -> dict[str, list[str]]:
    """Chromium session storage: ``namespace-<id>-<origin>`` names a map, ``map-<n>-<key>``."""
    entries = _leveldb(db, warn)
    maps: dict[str, str] = {}
    for key, value in entries:
        if key.startswith(b"namespace-"):
            # namespace-<id>-<origin>: the id has no hyphen, the origin may.
            origin = key.decode("utf-8", "replace").split("-", 2)[-1]
            maps[value.decode("ascii", "replace")] = origin.rstrip("/")
    by_origin: dict[str, list[str]] = {}
    for key, value in entries:
        if key.startswith(b"map-"):
            _, number, name = key.decode("utf-8", "replace").split("-", 2)
            origin = maps.get(number, "unknown origin")
            by_origin.setdefault(origin, []).append(f"{name}: {_text(value)}")
    return by_origin


def _chromium_string(data: bytes) -> str:
    # Blink's storage prefix: 0 for UTF-16LE, 1 for Latin-1.
    if data[:1] == b"\x00":
        return data[1:].decode("utf-16-le", "replace")
    if data[:1] == b"\x01":
        return data[1:].decode("latin-1")
    return _text(data)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, bytes | bytearray):
        return str(value)
    data = bytes(value[:_MAX_VALUE])
    if len(data) >= 2 and data[1::2].count(0) > len(data) // 4:
        return data.decode("utf-16-le", "replace")
    return data.decode("utf-8", "replace")


def _strings(data: bytes) -> list[str]:
    """Readable runs of a binary value (V8-serialised IndexedDB records), both encodings."""
    data = data[:_MAX_VALUE]
    runs = [m.decode("ascii") for m in _PRINTABLE_RUN.findall(data)]
    runs += [m.decode("utf-16-le") for m in _UTF16_RUN.findall(data)]
    return runs


def _origin_from_folder(name: str) -> str:
    """``https_example.com_0`` (Chromium, Firefox) back to ``https://example.com``."""
    scheme, _, rest = name.partition("_")
    host, _, port = rest.rpartition("_")
    if not host or not port.isdigit():
        return name
    default = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in ("0", default) else f":{port}")


def _firefox_origin(scope: str) -> str:
    """``moc.elpmaxe.:https:443`` (reversed host, scheme, port) to ``https://example.com``."""
    parts = scope.split(":")
    if len(parts) < 3:
        return scope
    host = parts[0][::-1].lstrip(".")
    return _origin_from_folder(f"{parts[1]}_{host}_{parts[2]}")


def _leveldb(
    path: Path, warn: Warn, *, comparator: bytes | None = None
) -> list[tuple[bytes, bytes]]:
    try:
        import plyvel
    except ImportError:
        warn(f"{path}: skipped, reading browser storage needs plyvel (pip install plyvel)")
        return []
    with _copy(path, warn) as copy:
        if copy is None:
            return []
        options: dict[str, object] = {}
        if comparator is not None:
            # IndexedDB orders keys with Blink's own comparator; reading every entry in
            # order needs only a comparator of the same name.
            options = {"comparator": _bytewise, "comparator_name": comparator}
        try:
            db = plyvel.DB(str(copy), **options)
        except plyvel.Error as exc:
            warn(f"{path}: cannot read ({type(exc).__name__})")
            return []
        try:
            return list(db.iterator())
        except plyvel.Error as exc:
            warn(f"{path}: cannot read every entry ({type(exc).__name__})")
            return []
        finally:
            db.close()


def _bytewise(a: bytes, b: bytes) -> int:
    return (a > b) - (a < b)


def _query(db: Path, sql: str, warn: Warn) -> list[tuple]:
    with _copy(db, warn) as copy:
        if copy is None:
            return []
        try:
            connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            warn(f"{db}: cannot open ({_why(exc)})")
            return []
        try:
            return list(connection.execute(sql))
        except sqlite3.Error as exc:
            warn(f"{db}: cannot read ({_why(exc)})")
            return []
        finally:
            connection.close()


@contextmanager
def _copy(path: Path, warn: Warn) -> Iterator[Path | None]:
    """A private copy of a database file or folder (with its journal), removed afterwards.

    The browser may be running and holding locks, and opening its files could write to
    them (LevelDB recovers its log on open); a copy is never the browser's.
    """
    workspace = tempfile.mkdtemp(prefix="limen-browser-")
    try:
        target = Path(workspace) / path.name
        try:
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("LOCK"))
            else:
                shutil.copy2(path, target)
                for suffix in ("-wal", "-journal"):
                    side = path.with_name(path.name + suffix)
                    if side.exists():
                        shutil.copy2(side, target.with_name(target.name + suffix))
        except OSError as exc:
            warn(f"{path}: cannot read ({_why(exc)})")
            yield None
            return
        yield target
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
