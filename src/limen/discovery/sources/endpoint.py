"""This machine: the well-known places credentials and AI-agent configurations live.

Scanned for secrets: shell histories, ``.env*`` files under the given roots, cloud CLI
credentials (AWS, gcloud, Azure), ``~/.kube/config``, ``~/.docker/config.json``,
``~/.npmrc``, ``~/.pypirc``, ``~/.netrc``, ``~/.git-credentials``, GitHub CLI hosts, and
private keys in ``~/.ssh``.

AI agents and MCP servers configured for Claude Desktop, Claude Code, Cursor, VS Code,
Windsurf, Codex CLI, Gemini CLI, Continue, Zed, Cline, Roo Code, opencode, Goose, Amazon Q,
LM Studio and Qwen Code are also *listed*, each as a
:class:`~limen.discovery.findings.DiscoveredAgent`, whether or not its entry holds a
secret: an MCP server acts with its user's credentials, so it is an identity to govern.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from limen.discovery.findings import DiscoveredAgent
from limen.discovery.sources.base import Blob, Warn

__all__ = ["AGENT_CONFIGS", "CREDENTIAL_FILES", "EndpointSource"]

CREDENTIAL_FILES: Final = (
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".local/share/fish/fish_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".aws/credentials",
    ".aws/config",
    ".config/gcloud/application_default_credentials.json",
    ".config/gcloud/access_tokens.db",
    ".azure/accessTokens.json",
    ".azure/msal_token_cache.json",
    ".azure/service_principal_entries.json",
    ".kube/config",
    ".docker/config.json",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    ".config/gh/hosts.yml",
    ".config/hub",
    ".terraform.d/credentials.tfrc.json",
    ".config/doctl/config.yaml",
    ".codex/auth.json",
    ".gemini/.env",
    ".gemini/oauth_creds.json",
    ".claude/.credentials.json",
    ".config/github-copilot/hosts.json",
    ".config/github-copilot/apps.json",
    ".aws/sso/cache/*.json",
    ".aws/cli/cache/*.json",
    ".config/gcloud/credentials.db",
    ".config/gcloud/legacy_credentials/*/adc.json",
    ".config/gcloud/legacy_credentials/*/.boto",
    ".azure/msal_token_cache.bin",
    ".oci/config",
    ".databrickscfg",
    ".vault-token",
    ".fly/config.yml",
    ".config/hcloud/cli.toml",
    ".config/stripe/config.toml",
    ".terraformrc",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".gem/credentials",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".config/composer/auth.json",
    ".yarnrc.yml",
    ".config/pip/pip.conf",
    ".pip/pip.conf",
    ".config/helm/repositories.yaml",
    ".aider.conf.yml",
    ".env.aider",
    ".config/goose/config.yaml",
    ".config/opencode/opencode.json",
    ".config/zed/settings.json",
    ".mem0/config.json",
    ".letta/settings.json",
)
"""Files under the home directory that commonly hold credentials (``*`` matches a name)."""

AGENT_CONFIGS: Final = (
    ("claude-desktop", ".config/Claude/claude_desktop_config.json"),
    ("claude-desktop", "Library/Application Support/Claude/claude_desktop_config.json"),
    ("claude-desktop", "AppData/Roaming/Claude/claude_desktop_config.json"),
    ("claude-code", ".claude.json"),
    ("claude-code", ".claude/settings.json"),
    ("claude-code", ".claude/settings.local.json"),
    ("cursor", ".cursor/mcp.json"),
    ("vscode", ".config/Code/User/settings.json"),
    ("vscode", ".config/Code/User/mcp.json"),
    ("vscode", "Library/Application Support/Code/User/settings.json"),
    ("vscode", "Library/Application Support/Code/User/mcp.json"),
    ("windsurf", ".codeium/windsurf/mcp_config.json"),
    ("codex-cli", ".codex/config.toml"),
    ("gemini-cli", ".gemini/settings.json"),
    ("continue", ".continue/config.json"),
    ("continue", ".continue/config.yaml"),
    ("zed", ".config/zed/settings.json"),
    (
        "cline",
        ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
    ),
    (
        "roo-code",
        ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
    ),
    ("opencode", ".config/opencode/opencode.json"),
    ("goose", ".config/goose/config.yaml"),
    ("amazon-q", ".aws/amazonq/mcp.json"),
    ("lm-studio", ".lmstudio/mcp.json"),
    ("qwen-code", ".qwen/settings.json"),
)
"""(tool, path under home) of agent and MCP configuration files."""

# Project-level MCP configuration found under the scanned roots.
_PROJECT_AGENT_FILES: Final = {
    ".mcp.json": "claude-code",
    "mcp.json": "mcp",
}
_SKIP_DIRS: Final = frozenset(
    {
        ".git",
        "node_modules",
        ".cache",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".npm",
        "site-packages",
        "Library",
        ".local",
        ".rustup",
        ".cargo",
        "go",
        ".m2",
        ".gradle",
    }
)
_MAX_DEPTH: Final = 6
_SSH_SKIP: Final = frozenset({"known_hosts", "known_hosts.old", "config", "authorized_keys"})


class EndpointSource:
    """Credential and agent-configuration files in a home directory and project roots."""

    def __init__(self, home: Path, *, roots: Sequence[Path] = ()) -> None:
        self.home = Path(home)
        self.roots = [Path(r) for r in roots] or [self.home]

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield every credential-bearing file that exists, each once."""
        seen: set[Path] = set()
        for path in self._candidates(warn):
            try:
                key = path.resolve()
            except (OSError, RuntimeError):
                key = path
            if key in seen:
                continue
            seen.add(key)
            yield Blob(path=str(path), source="endpoint", fs_path=path)

    def _candidates(self, warn: Warn) -> Iterator[Path]:
        for rel in CREDENTIAL_FILES:
            if "*" in rel:
                yield from (p for p in sorted(self.home.glob(rel)) if p.is_file())
                continue
            path = self.home / rel
            if path.is_file():
                yield path
        for _, rel in AGENT_CONFIGS:
            path = self.home / rel
            if path.is_file():
                yield path
        ssh = self.home / ".ssh"
        if ssh.is_dir():
            try:
                for entry in sorted(ssh.iterdir()):
                    if entry.is_file() and entry.suffix != ".pub" and entry.name not in _SSH_SKIP:
                        yield entry
            except OSError as exc:
                warn(f"{ssh}: cannot list ({exc.strerror})")
        for root in self.roots:
            yield from self._project_files(root, warn)

    def _project_files(self, root: Path, warn: Warn) -> Iterator[Path]:
        """``.env*`` files and project MCP configs under ``root``, a few levels deep."""
        base_depth = len(root.parts)

        def on_error(exc: OSError) -> None:
            warn(f"{exc.filename}: cannot list ({exc.strerror})")

        for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
            here = Path(dirpath)
            if len(here.parts) - base_depth >= _MAX_DEPTH:
                dirnames[:] = []
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in sorted(filenames):
                if _is_env_file(name) or name in _PROJECT_AGENT_FILES:
                    yield here / name

    def agents(self, warn: Warn) -> list[DiscoveredAgent]:
        """Every MCP server or agent entry in the known configuration files."""
        found: list[DiscoveredAgent] = []
        configs = [(tool, self.home / rel) for tool, rel in AGENT_CONFIGS]
        for root in self.roots:
            for path in self._project_files(root, warn):
                if path.name.endswith("mcp.json"):
                    tool = (
                        "cursor"
                        if path.parent.name == ".cursor"
                        else ("vscode" if path.parent.name == ".vscode" else "claude-code")
                    )
                    configs.append((tool, path))
        seen: set[tuple[str, str]] = set()
        for tool, path in configs:
            if not path.is_file():
                continue
            for agent in _parse_agent_config(tool, path, warn):
                if (agent.path, agent.name) not in seen:
                    seen.add((agent.path, agent.name))
                    found.append(agent)
        return found


def _parse_agent_config(tool: str, path: Path, warn: Warn) -> list[DiscoveredAgent]:
    import yaml  # only needed for Continue's YAML config; keeps `limen scan` start-up fast

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warn(f"{path}: cannot parse agent configuration ({exc.__class__.__name__})")
        return []
    if not isinstance(data, dict):
        return []
    owner = _owner(path)
    servers: list[tuple[str, Any]] = []
    # Claude and Cursor say mcpServers, VS Code servers, Codex mcp_servers, Zed
    # context_servers, Goose extensions; opencode keeps its servers straight under mcp.
    for key in ("mcpServers", "servers", "mcp_servers", "context_servers", "extensions"):
        servers.extend(_entries(data.get(key)))
    mcp = data.get("mcp")
    if isinstance(mcp, dict):
        servers.extend(_entries(mcp.get("servers", mcp)))
    projects = data.get("projects")
    if isinstance(projects, dict):  # Claude Code keeps per-project servers in ~/.claude.json
        for project in projects.values():
            if isinstance(project, dict):
                servers.extend(_entries(project.get("mcpServers")))
    agents = []
    for name, entry in servers:
        if not isinstance(entry, dict):
            continue
        command = entry.get("command") or entry.get("cmd")
        args = entry.get("args")
        if isinstance(command, str) and isinstance(args, list):
            command = " ".join([command, *(str(a) for a in args)])
        env = entry.get("env") or entry.get("envs") or entry.get("environment")
        headers = entry.get("headers")
        names = [
            *(env if isinstance(env, dict) else {}),
            *(headers if isinstance(headers, dict) else {}),
        ]
        url = entry.get("url") or entry.get("serverUrl") or entry.get("httpUrl")
        agents.append(
            DiscoveredAgent(
                name=str(name),
                tool=tool,
                path=str(path),
                command=command if isinstance(command, str) else None,
                url=url if isinstance(url, str) else None,
                env_names=tuple(sorted(str(n) for n in names)),
                owner=owner,
            )
        )
    return agents


def _is_env_file(name: str) -> bool:
    # Templates are committed on purpose and hold placeholders, not secrets.
    return name.startswith(".env") and not name.endswith((".example", ".sample", ".template"))


def _entries(value: object) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):  # Continue's YAML: a list of {name: ..., command: ...}
        entries = [v for v in value if isinstance(v, dict)]
        return [(str(v.get("name", f"server-{i}")), v) for i, v in enumerate(entries)]
    return []


def _owner(path: Path) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return None
