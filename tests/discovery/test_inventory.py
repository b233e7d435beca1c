"""One credential in several places is one discovered identity, keyed without the secret."""

from __future__ import annotations

from pathlib import Path

from limen.discovery import DiscoveredAgent, Engine, FileSource, Scanner, build_inventory


def test_same_secret_in_two_places_is_one_identity(tmp_path: Path, engine: Engine, secret) -> None:
    token = secret("ghp_$[github-token]")
    other = secret("glpat-$[base62:20]")
    (tmp_path / "a.env").write_text(f"GH={token}\n")
    (tmp_path / "b.py").write_text(f"x = 1\ngh = '{token}'\n")
    (tmp_path / "c.env").write_text(f"GL={other}\n")
    result = Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([FileSource([tmp_path])])
    identities = build_inventory(result.findings)
    assert len(identities) == 2
    github = next(i for i in identities if i.provider == "GitHub")
    assert [Path(p).name for p in github.places] == ["a.env:1", "b.py:2"]
    assert github.likely_owner  # the files' owner
    assert github.first_seen and github.last_seen
    assert token not in repr(github) and token not in str(github.to_dict())


def test_fingerprints_depend_on_the_key(tmp_path: Path, engine: Engine, secret) -> None:
    (tmp_path / "a.env").write_text(secret("GH=ghp_$[github-token]\n"))
    one = Scanner(engine, fingerprint_key=b"1" * 32, jobs=1).scan([FileSource([tmp_path])])
    two = Scanner(engine, fingerprint_key=b"2" * 32, jobs=1).scan([FileSource([tmp_path])])
    assert one.findings[0].fingerprint != two.findings[0].fingerprint


def test_agents_are_identities_even_without_secrets() -> None:
    agent = DiscoveredAgent(
        name="filesystem",
        tool="cursor",
        path="/h/.cursor/mcp.json",
        command="npx server-filesystem",
    )
    (identity,) = build_inventory([], [agent])
    assert identity.kind == "agent" and identity.name == "filesystem"
    assert identity.provider == "cursor" and identity.credentials == ()
