"""A fleet: machines report with an enrolment token; the inventory shows which machine
holds which exposed credential, and a rescan that no longer finds one resolves it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx


def _report(cli: Any, tree: Path, server: str, token: str, machine: str) -> Any:
    return cli(
        "scan", str(tree), "--report", "--server", server, "--token", token,
        "--machine", machine, "--json",
    )  # fmt: skip


def test_machines_report_and_rescans_resolve(
    cli: Any, live_server: Any, installed: Any, tmp_path: Path, secret: Any
) -> None:
    enrolled = cli("fleet", "token", "create", "laptops", "--json")
    assert enrolled.exit_code == 0, enrolled.stderr
    token = json.loads(enrolled.stdout)["token"]
    tree = tmp_path / "home"
    tree.mkdir()
    github, gitlab = secret("ghp_$[github-token]"), secret("glpat-$[base62:20]")
    (tree / ".env").write_text(f"GITHUB_TOKEN={github}\n")
    (tree / "deploy.env").write_text(f"GITLAB_TOKEN={gitlab}\n")

    first = _report(cli, tree, live_server.url, token, "ada-laptop")
    assert first.exit_code == 1, first.stderr
    other = tmp_path / "runner"
    other.mkdir()
    (other / "ci.env").write_text(f"GITHUB_TOKEN={github}\n")
    assert _report(cli, other, live_server.url, token, "ci-runner-7").exit_code == 1

    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    machines = httpx.get(f"{live_server.url}/v1/discovery/machines", headers=admin).json()
    by_name = {m["name"]: m for m in machines["items"]}
    assert by_name["ada-laptop"]["fleet"] == "laptops"
    assert by_name["ada-laptop"]["open_exposures"] == 2
    assert by_name["ada-laptop"]["owner"]  # the reporting user
    assert by_name["ci-runner-7"]["open_exposures"] == 1
    # The same GitHub token on two machines: one fingerprint, two exposures.
    listed = json.loads(cli("fleet", "exposures", "--json").stdout)["items"]
    github_fp = {e["fingerprint"] for e in listed if e["rule_id"] == "github-pat-classic"}
    assert len(github_fp) == 1
    assert sorted(e["machine"] for e in listed if e["fingerprint"] in github_fp) == [
        "ada-laptop",
        "ci-runner-7",
    ]

    (tree / "deploy.env").write_text("GITLAB_TOKEN=${GITLAB_TOKEN}\n")
    again = _report(cli, tree, live_server.url, token, "ada-laptop")
    assert "1 resolved" in again.stderr
    still = json.loads(cli("fleet", "exposures", "--machine", "ada-laptop", "--json").stdout)
    assert [e["rule_id"] for e in still["items"]] == ["github-pat-classic"]
    everything = json.loads(
        cli("fleet", "exposures", "--machine", "ada-laptop", "--all", "--json").stdout
    )["items"]
    assert {e["rule_id"]: e["status"] for e in everything} == {
        "github-pat-classic": "open",
        "gitlab-pat": "resolved",
    }
    events = httpx.get(
        f"{live_server.url}/v1/events", params={"action": "finding.resolve"}, headers=admin
    ).json()["items"]
    assert len(events) == 1

    # An enrolment token reports and reads nothing back; no value ever reaches the server.
    enrolment = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.get(f"{live_server.url}/v1/discovery/machines", headers=enrolment).status_code == 403
    )
    dumped = json.dumps(machines) + json.dumps(everything)
    assert github not in dumped and gitlab not in dumped
