"""Browser profiles made by a real browser: the distribution's Chromium, headless, writes
local storage, session storage, IndexedDB and a cookie for a page served from 127.0.0.1,
and ``limen scan --endpoint`` reports each token with its browser, profile, store and
origin, never its value unless asked."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from limen.discovery import Engine, Scanner
from limen.discovery.sources.browsers import BrowserSource

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!doctype html><html><body><script>
localStorage.setItem("localConfig_v2", JSON.stringify({teams: {T1: {token: "%(slack)s"}}}));
sessionStorage.setItem("gitlab", "%(gitlab)s");
document.cookie = "user_session=%(cookie)s; max-age=3600; path=/";
const open = indexedDB.open("app", 1);
open.onupgradeneeded = (e) => e.target.result.createObjectStore("kv");
open.onsuccess = (e) => {
  const tx = e.target.result.transaction("kv", "readwrite");
  tx.objectStore("kv").put({auth: {token: "%(github)s"}}, "session");
  tx.oncomplete = () => fetch("/done");
};
</script>stored</body></html>"""


@pytest.fixture
def browser_home(tmp_path: Path, secret: Any) -> Iterator[tuple[Path, dict[str, str], str]]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    values = {
        "slack": secret("xoxc-$[digits:12]-$[digits:12]-$[digits:13]-$[hex:64]"),
        "gitlab": secret("glpat-$[base62:20]"),
        "github": secret("ghp_$[github-token]"),
        "cookie": secret("$[base62:40]"),
    }
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/done":
                done.set()
            body = (PAGE % values).encode() if self.path == "/" else b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    home = tmp_path / "home"
    profile_root = home / ".config" / "chromium"
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile_root}",
            "--remote-debugging-port=0",  # keeps headless Chromium running after the load
            origin + "/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert done.wait(60), "Chromium never stored the values"
        _close(profile_root)
        browser.wait(timeout=30)
    finally:
        if browser.poll() is None:
            browser.send_signal(signal.SIGTERM)
            try:
                browser.wait(timeout=30)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait()
        server.shutdown()
        server.server_close()
    yield home, values, origin


def _close(profile_root: Path) -> None:
    """Close Chromium the way its window's close button would: it flushes every store.

    A signal does not wait for the cookie store's batched write; the DevTools protocol's
    ``Browser.close`` does. Chromium names its DevTools endpoint in DevToolsActivePort.
    """
    from websockets.sync.client import connect

    port, path = (profile_root / "DevToolsActivePort").read_text().split()[:2]
    with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=30) as devtools:
        devtools.send(json.dumps({"id": 1, "method": "Browser.close"}))
        # The browser may close the socket before it answers.
        with contextlib.suppress(Exception):
            devtools.recv(timeout=30)


def test_endpoint_scan_reports_tokens_in_browser_storage(
    browser_home: tuple[Path, dict[str, str], str], scan_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, values, origin = browser_home
    monkeypatch.setenv("HOME", str(home))
    code, out, err = scan_cli("--endpoint", home / "projects-none", "--json")
    assert code == 1, err
    findings = json.loads(out)["findings"]
    stores = {f["rule_id"]: f["detail"] for f in findings if f["source"] == "browser"}
    assert stores["slack-client-token"]["store"] == "local storage"
    assert stores["gitlab-pat"]["store"] == "session storage"
    assert stores["github-pat-classic"]["store"] == "indexeddb"
    for detail in stores.values():
        assert detail["browser"] == "chromium" and detail["profile"] == "Default"
        assert detail["origin"] == origin
    assert all(v not in out + err for v in values.values())

    _, shown, _ = scan_cli("--endpoint", home / "projects-none", "--json", "--show-secrets")
    revealed = {f["secret"] for f in json.loads(shown)["findings"]}
    assert {values["slack"], values["gitlab"], values["github"]} <= revealed

    code, out, _ = scan_cli("--endpoint", home / "projects-none", "--json", "--no-browsers")
    assert [f for f in json.loads(out)["findings"] if f["source"] == "browser"] == []


def test_session_cookies_are_reported_without_their_value(
    browser_home: tuple[Path, dict[str, str], str], engine: Engine
) -> None:
    home, values, _ = browser_home
    source = BrowserSource(home, session_cookies=[("127.0.0.1", "user_session", "Test app")])
    result = Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([source])
    (cookie,) = [f for f in result.findings if f.rule_id == "browser-session-cookie"]
    assert cookie.provider == "Test app"
    assert dict(cookie.detail)["store"] == "cookies"
    # Chromium encrypts cookie values; they are fingerprinted, never decrypted or shown.
    assert values["cookie"] not in repr(result.findings) + cookie.secret
    again = Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([source])
    assert [f.fingerprint for f in again.findings if f.rule_id == cookie.rule_id] == [
        cookie.fingerprint
    ]


def test_firefox_profiles_local_storage_cookies_and_saved_logins(
    tmp_path: Path, engine: Engine, secret: Any
) -> None:
    """Firefox's own file formats (not made by Firefox here: no Firefox on this machine)."""
    import sqlite3

    profile = tmp_path / "home" / ".mozilla" / "firefox" / "abcd1234.default-release"
    profile.mkdir(parents=True)
    (profile / "prefs.js").write_text("// prefs\n")
    token = secret("ghp_$[github-token]")
    slack = secret("xoxd-$[base64url:120]")
    with sqlite3.connect(profile / "webappsstore.sqlite") as db:
        db.execute("CREATE TABLE webappsstore2 (originAttributes, originKey, scope, key, value)")
        db.execute(
            "INSERT INTO webappsstore2 VALUES ('', 'moc.buhtig.:https:443', '', 'auth', ?)",
            (token,),
        )
    with sqlite3.connect(profile / "cookies.sqlite") as db:
        db.execute("CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, name, value, host)")
        db.execute(
            "INSERT INTO moz_cookies (name, value, host) VALUES ('d', ?, '.slack.com')", (slack,)
        )
    (profile / "logins.json").write_text(
        json.dumps(
            {
                "logins": [
                    {"hostname": "https://console.example.org", "encryptedPassword": "MEI…"},
                    {"hostname": "https://console.example.org", "encryptedPassword": "MEI…"},
                ]
            }
        )
    )
    source = BrowserSource(tmp_path / "home")
    result = Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([source])
    by_rule = {f.rule_id: f for f in result.findings}
    assert dict(by_rule["github-pat-classic"].detail)["origin"] == "https://github.com"
    assert by_rule["slack-session-cookie"].secret == slack  # Firefox stores cookies in clear
    assert by_rule["browser-session-cookie"].provider == "Slack"
    logins = by_rule["browser-saved-logins"]
    assert dict(logins.detail)["count"] == "2" and "console.example.org" in logins.path


def test_the_browser_example_in_the_docs(browser_home: tuple[Path, dict[str, str], str]) -> None:
    import os

    from .test_docs import DOCS, block, run

    home, _, origin = browser_home
    (home / "src").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMEN_")}
    env.update(HOME=str(home), LIMEN_DATA_DIR=str(home / "data"))
    done = run(block(DOCS, "## Browser caches"), cwd=home, env=env)
    assert done.returncode == 0, done.stderr
    assert f"chromium Default local storage {origin} slack-client-token" in done.stdout
