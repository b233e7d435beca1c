"""Sources on real files and real git repositories, including malformed input."""

from __future__ import annotations

import json
import os
from pathlib import Path

from limen.discovery import (
    EndpointSource,
    Engine,
    FileSource,
    GitHistorySource,
    Scanner,
    StagedSource,
)

from .conftest import git

KEY = b"k" * 32


def run(engine: Engine, *sources, jobs: int = 1, max_size: int = 1 << 20):
    return Scanner(engine, fingerprint_key=KEY, jobs=jobs, max_size=max_size).scan(list(sources))


def paths_of(result) -> set[str]:
    return {Path(f.path).name for f in result.findings}


def test_folder_respects_gitignore_outside_git(tmp_path: Path, engine: Engine, secret) -> None:
    (tmp_path / ".gitignore").write_text("ignored.env\nbuild/\n")
    (tmp_path / "kept.env").write_text(secret("GITHUB_TOKEN=ghp_$[github-token]\n"))
    (tmp_path / "ignored.env").write_text(secret("GITHUB_TOKEN=ghp_$[github-token]\n"))
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.txt").write_text(secret("GITHUB_TOKEN=ghp_$[github-token]\n"))
    assert paths_of(run(engine, FileSource([tmp_path]))) == {"kept.env"}
    assert paths_of(run(engine, FileSource([tmp_path], no_ignore=True))) == {
        "kept.env",
        "ignored.env",
        "out.txt",
    }


def test_folder_in_git_repo_uses_git_ignore_rules(repo: Path, engine: Engine, secret) -> None:
    (repo / ".git" / "info" / "exclude").write_text("excluded.txt\n")
    (repo / ".gitignore").write_text("*.log\n")
    for name in ("tracked.py", "untracked.py", "excluded.txt", "debug.log"):
        (repo / name).write_text(secret("token = 'glpat-$[base62:20]'\n"))
    git(repo, "add", "tracked.py", ".gitignore")
    git(repo, "commit", "-q", "-m", "init")
    assert paths_of(run(engine, FileSource([repo]))) == {"tracked.py", "untracked.py"}


def test_binary_large_and_unreadable_files_warn_and_continue(
    tmp_path: Path, engine: Engine, secret
) -> None:
    token = secret("ghp_$[github-token]")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" + token.encode())
    (tmp_path / "big.txt").write_text("x" * 5000 + token)
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "dirloop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "ok.txt").write_text(token)
    result = run(engine, FileSource([tmp_path], no_ignore=True), max_size=1000)
    assert paths_of(result) == {"ok.txt"}
    assert result.stats.skipped_binary == 1
    assert result.stats.skipped_large == 1
    assert result.stats.unreadable >= 2
    assert any("loop1" in w for w in result.warnings)
    assert all(token not in w for w in result.warnings)


def test_missing_path_is_a_warning(tmp_path: Path, engine: Engine) -> None:
    result = run(engine, FileSource([tmp_path / "absent"]))
    assert result.findings == [] and "no such file" in result.warnings[0]


def test_many_files_on_two_processes(tmp_path: Path, engine: Engine, secret) -> None:
    planted = set()
    for i in range(260):
        text = f"line {i}\n"
        if i % 20 == 0:
            text += secret("SLACK=xoxb-$[digits:12]-$[digits:12]-$[base62:24]\n")
            planted.add(f"f{i}.txt")
        (tmp_path / f"f{i}.txt").write_text(text)
    result = run(engine, FileSource([tmp_path]), jobs=2)
    assert paths_of(result) == planted
    assert result.stats.blobs == 260


def test_git_history_finds_deleted_secrets_once_with_author(
    repo: Path, engine: Engine, secret
) -> None:
    token = secret("ghp_$[github-token]")
    (repo / "config.py").write_text(f"TOKEN = '{token}'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "add config")
    (repo / "copy.py").write_text(f"TOKEN = '{token}'\n")  # same blob content: one scan
    (repo / "config.py").write_text("TOKEN = os.environ['TOKEN']\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "move secret to env")
    result = run(engine, GitHistorySource(repo, max_size=1 << 20))
    (finding,) = result.findings
    assert finding.rule_id == "github-pat-classic"
    assert finding.source == "git"
    assert finding.commit and len(finding.commit) == 40
    assert finding.author == "Ada Lovelace <ada@example.org>"
    assert finding.seen_at


def test_staged_scans_the_index_not_the_worktree(repo: Path, engine: Engine, secret) -> None:
    (repo / "a.env").write_text(secret("GITLAB=glpat-$[base62:20]\n"))
    git(repo, "add", "a.env")
    (repo / "a.env").write_text("clean now\n")
    (repo / "b.env").write_text(secret("GITLAB=glpat-$[base62:20]\n"))  # not staged
    result = run(engine, StagedSource(repo))
    assert [(f.path, f.source) for f in result.findings] == [("a.env", "staged")]


def test_broken_git_repo_is_a_warning(tmp_path: Path, engine: Engine) -> None:
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)
    (broken / ".git" / "HEAD").write_text("garbage")
    result = run(engine, GitHistorySource(broken, max_size=1 << 20))
    assert result.findings == [] and result.warnings
    result = run(engine, StagedSource(tmp_path / "not-a-repo"))
    assert result.warnings


def test_endpoint_scans_credentials_and_lists_agents(
    tmp_path: Path, engine: Engine, secret
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        secret(
            "[default]\naws_access_key_id = AKIA$[base32:16]\n"
            "aws_secret_access_key = $[base64:40]\n"
        )
    )
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ecdsa").write_text(secret("$[pem]"))
    (home / ".ssh" / "id_ecdsa.pub").write_text("ecdsa-sha2-nistp256 AAAA test")
    claude = home / ".config" / "Claude"
    claude.mkdir(parents=True)
    (claude / "claude_desktop_config.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "github": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github"],
                        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": secret("ghp_$[github-token]")},
                    },
                    "filesystem": {"command": "npx", "args": ["server-filesystem", "/tmp"]},
                }
            }
        )
    )
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(
        '[mcp_servers.docs]\nurl = "https://mcp.example.org/sse"\n'
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env.local").write_text(secret("STRIPE_SECRET_KEY=sk_live_$[base62:30]\n"))
    (project / ".env.example").write_text(secret("STRIPE_SECRET_KEY=sk_live_$[base62:30]\n"))
    (project / ".mcp.json").write_text("{not json")
    result = run(engine, EndpointSource(home, roots=[project]))
    rules = sorted(f.rule_id for f in result.findings)
    assert rules == [
        "aws-access-key-id",
        "aws-secret-access-key",
        "github-pat-classic",
        "private-key",
        "stripe-secret-key",
    ]
    names = {(a.tool, a.name) for a in result.agents}
    assert names == {
        ("claude-desktop", "github"),
        ("claude-desktop", "filesystem"),
        ("codex-cli", "docs"),
    }
    github = next(a for a in result.agents if a.name == "github")
    assert github.env_names == ("GITHUB_PERSONAL_ACCESS_TOKEN",)
    assert any(".mcp.json" in w for w in result.warnings)
    assert os.path.basename(result.findings[0].path)


def test_risky_files_are_findings_whatever_their_content(tmp_path: Path, engine) -> None:
    from limen.discovery import FileSource, Scanner

    (tmp_path / "release.jks").write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + bytes(64))
    (tmp_path / "deploy.ppk").write_text("PuTTY-User-Key-File-3: ssh-ed25519\n")
    (tmp_path / ".bash_history").write_text("ls\ncd src\n")
    (tmp_path / "prod.tfstate").write_text('{"version": 4}\n')
    (tmp_path / "nightly-dump.sql").write_text("-- PostgreSQL database dump\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE t (id int);\n")  # not a dump
    (tmp_path / "empty.p12").write_bytes(b"")  # nothing in it, nothing to report
    result = Scanner(engine, fingerprint_key=b"k" * 32, jobs=1).scan([FileSource([tmp_path])])
    found = {Path(f.path).name: f.rule_id for f in result.findings}
    assert found == {
        "release.jks": "risky-java-keystore",
        "deploy.ppk": "risky-putty-key",
        ".bash_history": "risky-shell-history",
        "prod.tfstate": "risky-terraform-state",
        "nightly-dump.sql": "risky-database-dump",
    }
    assert all(f.secret.startswith("sha256:") for f in result.findings)


def test_more_agent_and_developer_places(tmp_path: Path, secret) -> None:
    from limen.discovery import EndpointSource

    home = tmp_path / "home"
    (home / ".aws/sso/cache").mkdir(parents=True)
    (home / ".aws/sso/cache/abc.json").write_text('{"accessToken": "x"}')
    (home / ".config/github-copilot").mkdir(parents=True)
    (home / ".config/github-copilot/apps.json").write_text("{}")
    (home / ".config/opencode").mkdir(parents=True)
    (home / ".config/opencode/opencode.json").write_text(
        '{"mcp": {"linear": {"type": "remote", "url": "https://mcp.linear.app/sse",'
        ' "headers": {"Authorization": "Bearer x"}}}}'
    )
    (home / ".config/goose").mkdir(parents=True)
    (home / ".config/goose/config.yaml").write_text(
        "extensions:\n  github:\n    cmd: npx\n    args: [-y, '@mcp/github']\n"
        "    envs: {GITHUB_TOKEN: x}\n"
    )
    source = EndpointSource(home, roots=[tmp_path / "none"])
    paths = {Path(b.path).relative_to(home).as_posix() for b in source.blobs(lambda _: None)}
    assert {".aws/sso/cache/abc.json", ".config/github-copilot/apps.json"} <= paths
    agents = {(a.tool, a.name): a for a in source.agents(lambda _: None)}
    assert agents[("opencode", "linear")].env_names == ("Authorization",)
    assert agents[("goose", "github")].command == "npx -y @mcp/github"
    assert agents[("goose", "github")].env_names == ("GITHUB_TOKEN",)
