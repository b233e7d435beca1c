"""A scan never gives up on a tree: it finishes, reports what it found, and names what it
skipped and why, whatever the tree holds."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest


def test_a_file_with_tens_of_thousands_of_candidates_is_scanned_not_fatal(
    scan_cli, tmp_path: Path, secret
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    lines = [f'password="{secret("$[password:18]")}"' for _ in range(21_000)]
    (tree / "dump.txt").write_text("\n".join(lines) + "\n")
    token = secret("ghp_$[github-token]")
    (tree / "app.env").write_text(f"GITHUB_TOKEN={token}\n")
    code, out, err = scan_cli(tree, "--json")
    assert code == 1, err
    document = json.loads(out)
    rules = [f["rule_id"] for f in document["findings"]]
    assert "github-pat-classic" in rules  # the rest of the tree was still scanned
    assert rules.count("generic-password") > 20_000  # a few random ones look like placeholders
    assert "Traceback" not in err


def test_deeply_nested_folders_do_not_overflow(scan_cli, tmp_path: Path, secret) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    deep = tree
    for _ in range(1000):  # one level at a time: pathlib's mkdir(parents=True) recurses too
        deep = deep / "d"
        deep.mkdir()
    (deep / ".env").write_text(secret("GITHUB_TOKEN=ghp_$[github-token]\n"))
    try:
        code, out, err = scan_cli(tree, "--json")
        assert code == 1, err
        (finding,) = json.loads(out)["findings"]
        assert finding["path"].endswith("/d/d/.env")
    finally:
        # pytest removes old temporary folders recursively, and a thousand levels
        # overflow that: take the tree down here, deepest first.
        (deep / ".env").unlink()
        while deep != tree:
            deep.rmdir()
            deep = deep.parent


def _hostile_names(tree: Path, secret) -> list[str]:
    """Files named with bytes that are not UTF-8 and with terminal escape sequences."""
    values = [secret("ghp_$[github-token]"), secret("glpat-$[base62:20]")]
    raw = os.fsencode(tree) + b"/caf\xe9-\xff.env"
    with open(raw, "wb") as handle:
        handle.write(f"TOKEN={values[0]}\n".encode())
    (tree / "\x1b[2J\x1b]0;pwned\x07evil.env").write_text(f"TOKEN={values[1]}\n")
    return values


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "jsonl", "sarif"])
def test_hostile_file_names_neither_crash_reports_nor_reach_the_terminal(
    scan_cli, tmp_path: Path, secret, fmt: str
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    values = _hostile_names(tree, secret)
    code, out, err = scan_cli(tree, "--format", fmt)
    assert code == 1, err
    assert "\x1b" not in out and "\x1b" not in err and "\x07" not in out
    assert "caf\\xe9-\\xff.env" in out or "caf\\\\xe9" in out or "\\udce9" in out
    report = tmp_path / f"report.{fmt}"
    code, _, err = scan_cli(tree, "--format", fmt, "-o", report, "-q")
    assert code == 1, err
    text = report.read_text(encoding="utf-8")
    assert all(v not in text for v in values)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 2 and all("\x1b" not in r["path"] for r in rows)


def test_unreadable_files_are_named_as_skipped(scan_cli, tmp_path: Path, secret) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    tree = tmp_path / "tree"
    tree.mkdir()
    locked = tree / "locked.env"
    locked.write_text(secret("TOKEN=ghp_$[github-token]\n"))
    locked.chmod(0)
    code, _, err = scan_cli(tree)
    assert code == 0
    assert "locked.env: cannot read" in err
