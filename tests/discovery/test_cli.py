"""``limen scan`` end to end: formats, exit codes, baseline, redaction."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from .conftest import git


@pytest.fixture
def tree(tmp_path: Path, secret) -> tuple[Path, list[str]]:
    root = tmp_path / "tree"
    root.mkdir()
    secrets = [
        secret("ghp_$[github-token]"),
        secret("sk-ant-api03-$[base64url:93]AA"),
        secret("$[password:16]"),
    ]
    (root / ".env").write_text(f"GITHUB_TOKEN={secrets[0]}\nANTHROPIC_API_KEY={secrets[1]}\n")
    (root / "settings.py").write_text(f'DATABASE_PASSWORD = "{secrets[2]}"\n')
    (root / "clean.py").write_text("print('hello')\n")
    return root, secrets


def test_table_redacts_and_exits_1(scan_cli, tree) -> None:
    root, secrets = tree
    code, out, err = scan_cli(root)
    assert code == 1
    assert "github-pat-classic" in out and "generic-password" in out
    for value in secrets:
        assert value not in out and value not in err


def test_show_secrets_reveals(scan_cli, tree) -> None:
    root, secrets = tree
    code, out, _ = scan_cli(root, "--format", "json", "--show-secrets", "-q")
    assert code == 1
    shown = {f["secret"] for f in json.loads(out)["findings"]}
    assert set(secrets) == shown


def test_json_is_one_document_on_stdout(scan_cli, tree) -> None:
    root, secrets = tree
    code, out, _ = scan_cli(root, "--json")
    document = json.loads(out)
    assert code == 1
    assert {f["rule_id"] for f in document["findings"]} == {
        "github-pat-classic",
        "anthropic-api-key",
        "generic-password",
    }
    assert len(document["identities"]) == 3
    assert document["stats"]["blobs"] == 3
    assert all(s not in out for s in secrets)


def test_jsonl_csv_and_sarif(scan_cli, tree, tmp_path: Path) -> None:
    root, secrets = tree
    _, out, _ = scan_cli(root, "--format", "jsonl", "-q")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3
    _, out, _ = scan_cli(root, "--format", "csv", "-q")
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["rule_id"] for r in table} == {r["rule_id"] for r in rows}
    report = tmp_path / "scan.sarif"
    code, out, _ = scan_cli(root, "--format", "sarif", "--output", report, "-q")
    assert code == 1 and out == ""
    sarif = json.loads(report.read_text())
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    (run,) = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "limen"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    assert all(s not in report.read_text() for s in secrets)


def test_clean_tree_exits_0(scan_cli, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    code, out, _ = scan_cli(tmp_path, "-q")
    assert (code, out) == (0, "")


def test_exit_code_is_configurable(scan_cli, tree) -> None:
    root, _ = tree
    assert scan_cli(root, "--exit-code", "0", "-q")[0] == 0
    assert scan_cli(root, "--exit-code", "7", "-q")[0] == 7


def test_errors_exit_2_with_one_line(scan_cli, tree, tmp_path: Path) -> None:
    root, _ = tree
    for args in (
        ["--format", "xml"],
        ["--max-size", "lots"],
        ["--baseline", tmp_path / "absent.json"],
        ["--rules", tmp_path / "absent.toml"],
        ["--git", "--staged"],
        ["--report"],
    ):
        code, _, err = scan_cli(root, *args)
        assert code == 2, args
        assert err.startswith("limen: ") and len(err.strip().splitlines()) == 1, (args, err)
        assert "Traceback" not in err


def test_bad_baseline_file_exits_2(scan_cli, tree, tmp_path: Path) -> None:
    root, _ = tree
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    code, _, err = scan_cli(root, "--baseline", bad)
    assert code == 2 and "not a Limen baseline" in err


def test_baseline_accepts_known_findings(scan_cli, tree, tmp_path: Path, secret) -> None:
    root, secrets = tree
    baseline = tmp_path / "baseline.json"
    code, _, _ = scan_cli(root, "--write-baseline", baseline, "-q")
    assert code == 1
    assert all(s not in baseline.read_text() for s in secrets)
    assert scan_cli(root, "--baseline", baseline, "-q")[0] == 0
    # Shifting lines keeps the baseline valid; a new secret fails again.
    (root / "settings.py").write_text("\n\n" + (root / "settings.py").read_text())
    assert scan_cli(root, "--baseline", baseline, "-q")[0] == 0
    (root / "new.env").write_text(secret("SLACK=xoxb-$[digits:12]-$[digits:12]-$[base62:24]\n"))
    code, out, _ = scan_cli(root, "--baseline", baseline, "--json")
    assert code == 1
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["slack-bot-token"]


def test_staged_and_git_modes(scan_cli, repo: Path, secret) -> None:
    (repo / "app.env").write_text(secret("TOKEN=glpat-$[base62:20]\n"))
    git(repo, "add", ".")
    code, out, _ = scan_cli(repo, "--staged", "--json")
    assert code == 1 and json.loads(out)["findings"][0]["source"] == "staged"
    git(repo, "commit", "-q", "-m", "oops")
    (repo / "app.env").write_text("TOKEN=${GITLAB_TOKEN}\n")
    git(repo, "commit", "-q", "-am", "fix")
    assert scan_cli(repo, "-q")[0] == 0
    code, out, _ = scan_cli(repo, "--git", "--json")
    (finding,) = json.loads(out)["findings"]
    assert code == 1 and finding["author"] == "Ada Lovelace <ada@example.org>"


def test_rules_option_adds_custom_rules(scan_cli, tmp_path: Path) -> None:
    rules = tmp_path / "acme.toml"
    rules.write_text(
        '[[rule]]\nid = "acme-key"\nprovider = "Acme"\ndescription = "Acme key"\n'
        "pattern = '''(?P<secret>acme_[a-z0-9]{24})'''\nkeywords = [\"acme_\"]\n"
        "examples = ['acme_$[lower:24]']\n"
    )
    target = tmp_path / "src"
    target.mkdir()
    (target / "a.txt").write_text("key = acme_q8w7e6r5t4y3u2i1o9p8a7s6\n")
    code, out, _ = scan_cli(target, "--rules", rules, "--json")
    assert code == 1
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["acme-key"]


def test_fingerprint_key_is_created_once(scan_cli, tree, data_dir: Path) -> None:
    root, _ = tree
    _, first, _ = scan_cli(root, "--json")
    _, second, _ = scan_cli(root, "--json")
    key = data_dir / "scan-fingerprint.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    fps = lambda out: sorted(f["fingerprint"] for f in json.loads(out)["findings"])  # noqa: E731
    assert fps(first) == fps(second)


def test_standalone_entry_point(tree, data_dir: Path) -> None:
    import os
    import subprocess
    import sys

    root, secrets = tree
    env = {**os.environ, "LIMEN_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "limen.cli.scan", str(root), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert len(json.loads(done.stdout)["findings"]) == 3
    assert all(s not in done.stdout + done.stderr for s in secrets)
    refused = subprocess.run(
        [sys.executable, "-m", "limen.cli.scan", str(root), "--fix", "--yes", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == "limen: --fix needs the vault: run it as `limen scan --fix`"


def test_a_mistyped_path_is_an_error_not_a_clean_scan(scan_cli, tree, tmp_path: Path) -> None:
    root, _ = tree
    code, out, err = scan_cli(root, tmp_path / "no-such-dir")
    assert code == 2
    assert out == ""
    assert err.strip() == f"limen: no such file or directory: {tmp_path / 'no-such-dir'}"
