"""``limen scan --report``: what a scan finds joins a running server's identity registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import cli_in


def _tree(root: Path, secret: Any) -> list[str]:
    root.mkdir()
    values = [secret("ghp_$[github-token]"), secret("sk-ant-api03-$[base64url:93]AA")]
    (root / ".env").write_text(f"GITHUB_TOKEN={values[0]}\nANTHROPIC_API_KEY={values[1]}\n")
    (root / "deploy.sh").write_text(f"export GH={values[0]}\n")
    return values


def test_report_registers_unmanaged_identities_once_and_records_findings(
    cli: Any, live_server: Any, installed: Any, tmp_path: Path, secret: Any
) -> None:
    values = _tree(tmp_path / "tree", secret)
    args = (
        "scan",
        str(tmp_path / "tree"),
        "--report",
        "--server",
        live_server.url,
        "--token",
        installed.admin_token,
        "--format",
        "json",
    )
    first = cli(*args)
    assert first.exit_code == 1, first.stderr
    assert "2 new and 0 known unmanaged identities, 3 findings" in first.stderr

    headers = {"Authorization": f"Bearer {installed.admin_token}"}
    listed = httpx.get(f"{live_server.url}/v1/identities", headers=headers).json()["items"]
    unmanaged = [i for i in listed if not i["managed"]]
    assert len(unmanaged) == 2
    github = next(i for i in unmanaged if i["attributes"]["provider"] == "GitHub")
    assert github["kind"] == "service"
    assert sorted(Path(p).name for p in github["attributes"]["places"]) == [".env:1", "deploy.sh:1"]
    assert github["name"].startswith("discovered-service-GitHub-")

    again = cli(*args)
    assert "0 new and 2 known unmanaged identities" in again.stderr
    relisted = httpx.get(f"{live_server.url}/v1/identities", headers=headers).json()["items"]
    assert len([i for i in relisted if not i["managed"]]) == 2

    events = httpx.get(
        f"{live_server.url}/v1/events", params={"action": "finding.report"}, headers=headers
    ).json()["items"]
    assert len(events) == 6
    assert {e["context"]["rule_id"] for e in events} >= {"github-pat-classic"}

    everything = json.dumps(
        httpx.get(f"{live_server.url}/v1/events?limit=1000", headers=headers).json()
    ) + json.dumps(relisted)
    for value in values:
        assert value not in everything


def test_report_refuses_payloads_that_could_carry_a_secret(
    client: Any, admin_headers: dict[str, str]
) -> None:
    body = {
        "findings": [
            {
                "rule_id": "x",
                "provider": "y",
                "location": "a:1",
                "fingerprint": "0123456789abcdef",
                "secret": "hunter2-hunter2",
            }
        ]
    }
    response = client.post("/v1/discovery/reports", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert "hunter2" not in response.text


def test_report_needs_a_token_with_the_discovery_scope(
    cli: Any, live_server: Any, installed: Any, tmp_path: Path, secret: Any
) -> None:
    _tree(tmp_path / "tree", secret)
    result = cli(
        "scan",
        str(tmp_path / "tree"),
        "--report",
        "--server",
        live_server.url,
        "--token",
        "limen_wrong",
        "-q",
    )
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("limen: the server refused the report: HTTP 401")
    missing = cli("scan", str(tmp_path / "tree"), "--report", "-q")
    assert missing.exit_code == 2
    assert "--server" in missing.stderr


def test_report_goes_to_limen_url_with_limen_token_in_remote_mode(
    settings: Any, live_server: Any, installed: Any, tmp_path: Path, secret: Any
) -> None:
    _tree(tmp_path / "tree", secret)
    remote = cli_in("remote", settings, installed, live_server, tmp_path)
    result = remote("scan", str(tmp_path / "tree"), "--report", "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert "2 new and 0 known unmanaged identities, 3 findings" in result.stderr
