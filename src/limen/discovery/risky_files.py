"""Files that are credentials by what they are, whatever their content looks like.

A keystore, a PuTTY key, a Terraform state, a shell history or a ``.git-credentials``
file in a repository or on a laptop is a finding even when no pattern matches inside it
(keystores are binary; histories hold tokens in shapes no rule knows). Each is reported
once per file, fingerprinted by a digest of its content, never shown.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from limen.discovery.ruleset import Rule

__all__ = ["RISKY_FILES", "risky_rule", "risky_rules", "risky_secret"]

RISKY_FILES: Final = (
    (
        "risky-shell-history",
        "Shell",
        "Shell history",
        r"^\.(bash|zsh|sh|ksh)_history$|^fish_history$",
    ),
    ("risky-git-credentials", "Git", "Git credential store", r"^\.git-credentials$"),
    ("risky-netrc", "netrc", "netrc credentials file", r"^[._]netrc$"),
    ("risky-pgpass", "PostgreSQL", "PostgreSQL password file", r"^\.pgpass$"),
    ("risky-mysql-config", "MySQL", "MySQL client config with a password", r"^\.my\.cnf$"),
    ("risky-htpasswd", "Apache", "htpasswd password file", r"^\.htpasswd$"),
    ("risky-putty-key", "SSH", "PuTTY private key file", r"\.ppk$"),
    ("risky-java-keystore", "Java", "Java keystore", r"\.(jks|keystore|jceks|bks)$"),
    ("risky-pkcs12", "PKI", "PKCS#12 bundle (private key and certificate)", r"\.(p12|pfx)$"),
    ("risky-keepass", "KeePass", "KeePass password database", r"\.kdbx?$"),
    (
        "risky-terraform-state",
        "Terraform",
        "Terraform state (resource secrets in clear)",
        r"\.tfstate(\.backup)?$",
    ),
    (
        "risky-database-dump",
        "Database",
        "Database dump",
        r"(dump|backup).*\.sql(\.gz)?$|\.(dump|pgdump)$",
    ),
)
"""(rule id, provider, description, file-name pattern)."""

_MATCHERS: Final = tuple(
    (rule_id, re.compile(pattern, re.I)) for rule_id, _, _, pattern in RISKY_FILES
)


def risky_rule(name: str) -> str | None:
    """The risky-file rule a file name matches (its last path component), or None."""
    for rule_id, matcher in _MATCHERS:
        if matcher.search(name):
            return rule_id
    return None


def risky_rules() -> list[Rule]:
    """The risky-file kinds as rules, so reports describe them like every other finding."""
    return [
        Rule(
            id=rule_id,
            provider=provider,
            description=description,
            pattern="(?!)",
            keywords=(),
            family="risky-files",
        )
        for rule_id, provider, description, _ in RISKY_FILES
    ]


def risky_secret(data: bytes) -> str:
    """What stands for the file's content: a digest, so the fingerprint follows the content."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
