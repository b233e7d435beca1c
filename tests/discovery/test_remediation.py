"""Moving secrets out of config files: exact rewrites, re-parsed, atomic, undoable, no backups."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest
import yaml

from limen.discovery import (
    AppliedFix,
    Engine,
    FileSource,
    Finding,
    RemediationError,
    Scanner,
    apply_patch,
    plan_patch,
    undo_patch,
)


class MemoryVault:
    """A real Remediator that keeps secrets in a dict, for tests of the file side."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def store(self, finding: Finding) -> str:
        name = f"{finding.rule_id}-{finding.fingerprint[:8]}"
        self.items[name] = finding.secret
        return f"limen://test/{name}/credential"


def scan(engine: Engine, path: Path) -> list[Finding]:
    return Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([FileSource([path])]).findings


def fix(engine: Engine, path: Path) -> tuple[MemoryVault, AppliedFix]:
    vault = MemoryVault()
    findings = scan(engine, path)
    assert findings
    patch = plan_patch(path, [(f, vault.store(f)) for f in findings])
    return vault, apply_patch(patch)


def resolver(vault: MemoryVault):
    return lambda reference: vault.items[reference.split("/")[3]]


@pytest.mark.parametrize(
    ("name", "template", "load"),
    [
        (".env", "# app\nGITHUB_TOKEN={gh}\nDEBUG=1\n", None),
        ("config.json", '{{"github": {{"token": "{gh}"}}, "debug": true}}\n', json.loads),
        ("config.yaml", "github:\n  token: {gh}  # from ops\ndebug: true\n", yaml.safe_load),
        ("pyproject.toml", '[tool.app]\ntoken = "{gh}"\ndebug = true\n', tomllib.loads),
        ("app.ini", "[github]\ntoken = {gh}\n\n[app]\ndebug = 1\n", None),
    ],
)
def test_rewrites_each_format_and_keeps_the_rest(
    tmp_path: Path, engine: Engine, secret, name: str, template: str, load
) -> None:
    token = secret("ghp_$[github-token]")
    path = tmp_path / name
    original = template.format(gh=token)
    path.write_text(original)
    path.chmod(0o640)
    vault, applied = fix(engine, path)
    (reference,) = [f"limen://test/{k}/credential" for k in vault.items]
    assert list(vault.items.values()) == [token]
    written = Path(applied.target)
    after = written.read_text()
    if name == ".env":
        # .env files keep their name and hold the reference, for `limen run --env-file`.
        assert written == path
        assert after == original.replace(token, reference)  # nothing else moved
    else:
        # The application reads structured files itself: they become templates that
        # `limen inject` renders back into exactly the original, and the original is gone
        # and git-ignored.
        assert written == path.with_name(name + ".tpl") and not path.exists()
        assert after == original.replace(token, "{{ " + reference + " }}")
        assert (tmp_path / ".gitignore").read_text() == f"/{name}\n"
        assert stat.S_IMODE(written.stat().st_mode) == 0o640
    if load is not None:
        load(original.replace(token, reference))
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    # No plaintext copy anywhere: the vault holds the only one.
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and token in p.read_text()]
    assert leftovers == []
    assert scan(engine, tmp_path) == []
    restored = undo_patch(applied, resolver(vault))
    assert restored == path and path.read_text() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_undo_refuses_a_file_changed_since_the_fix(tmp_path: Path, engine: Engine, secret) -> None:
    path = tmp_path / ".env"
    path.write_text(secret("TOKEN=ghp_$[github-token]\n"))
    vault, applied = fix(engine, path)
    path.write_text(path.read_text() + "MORE=1\n")
    with pytest.raises(RemediationError, match="changed since the fix"):
        undo_patch(applied, resolver(vault))
    assert "MORE=1" in path.read_text()


def test_undo_accepts_a_copy_rendered_by_inject(tmp_path: Path, engine: Engine, secret) -> None:
    path = tmp_path / "config.yaml"
    original = secret("token: ghp_$[github-token]\n")
    path.write_text(original)
    vault, applied = fix(engine, path)
    path.write_text(original)  # what `limen inject -i config.yaml.tpl -o config.yaml` writes
    undo_patch(applied, resolver(vault))
    assert path.read_text() == original and not Path(applied.target).exists()
    assert not (tmp_path / ".gitignore").exists()


def test_two_secrets_on_one_line(tmp_path: Path, engine: Engine, secret) -> None:
    path = tmp_path / ".env"
    path.write_text(secret("PAIR=ghp_$[github-token],glpat-$[base62:20]\n"))
    vault, _ = fix(engine, path)
    assert len(vault.items) == 2
    assert path.read_text().count("limen://test/") == 2


def test_refuses_unsupported_files_and_stale_scans(tmp_path: Path, engine: Engine, secret) -> None:
    code = tmp_path / "app.py"
    code.write_text(secret("TOKEN = 'ghp_$[github-token]'\n"))
    (finding,) = scan(engine, code)
    with pytest.raises(RemediationError, match="cannot rewrite"):
        plan_patch(code, [(finding, "limen://v/i/f")])
    env = tmp_path / ".env"
    env.write_text(secret("TOKEN=ghp_$[github-token]\n"))
    (finding,) = scan(engine, env)
    env.write_text("\n" + env.read_text())
    with pytest.raises(RemediationError, match="changed since the scan"):
        plan_patch(env, [(finding, "limen://v/i/f")])


def test_refuses_a_rewrite_that_would_not_parse(tmp_path: Path, engine: Engine, secret) -> None:
    path = tmp_path / "config.json"
    token = secret("ghp_$[github-token]")
    path.write_text(json.dumps({"token": token}))
    (finding,) = scan(engine, path)
    with pytest.raises(RemediationError, match="would not parse"):
        plan_patch(path, [(finding, 'limen://v/i/"broken')])
    assert json.loads(path.read_text()) == {"token": token}


def test_diff_redacts_unless_asked(tmp_path: Path, engine: Engine, secret) -> None:
    path = tmp_path / ".env"
    token = secret("ghp_$[github-token]")
    path.write_text(f"TOKEN={token}\n")
    (finding,) = scan(engine, path)
    patch = plan_patch(path, [(finding, "limen://v/i/f")])
    assert token not in patch.diff() and "limen://v/i/f" in patch.diff()
    assert token in patch.diff(show_secrets=True)
    assert path.read_text() == f"TOKEN={token}\n"  # planning changes nothing
