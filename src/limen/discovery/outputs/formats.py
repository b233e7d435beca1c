"""Render a scan for machines: JSON, JSON Lines, SARIF 2.1.0 and CSV.

Every format redacts secrets unless ``show_secrets`` is set; the human table lives in
``limen.cli.scan`` because it is a terminal concern.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final, Literal

from limen import __version__
from limen.discovery.findings import Finding
from limen.discovery.inventory import DiscoveredIdentity
from limen.discovery.ruleset import Rule
from limen.discovery.scanner import ScanResult

__all__ = ["FORMATS", "OutputFormat", "finding_dict", "printable", "render"]

OutputFormat = Literal["json", "jsonl", "sarif", "csv"]
FORMATS: Final = ("json", "jsonl", "sarif", "csv")

_SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_CSV_FIELDS: Final = (
    "rule_id",
    "provider",
    "path",
    "line",
    "column",
    "source",
    "commit",
    "author",
    "owner",
    "seen_at",
    "fingerprint",
    "secret",
)


def printable(text: str) -> str:
    """``text`` with everything a terminal or a UTF-8 file cannot take shown as escapes.

    File names come from whoever wrote the tree: control characters (ANSI escape
    sequences, bidi overrides) must not reach a terminal, and bytes that are not UTF-8,
    which Python carries as surrogate escapes, must not crash a UTF-8 writer. Newlines are
    kept so that multi-line text (a diff) stays readable; each line is escaped.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable() or ch == "\n":
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def finding_dict(finding: Finding, *, show_secrets: bool) -> dict[str, Any]:
    """A JSON-ready mapping for one finding, the secret redacted unless asked."""
    return {
        "rule_id": finding.rule_id,
        "provider": finding.provider,
        "description": finding.description,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "source": finding.source,
        "commit": finding.commit,
        "author": finding.author,
        "owner": finding.owner,
        "seen_at": finding.seen_at,
        "fingerprint": finding.fingerprint,
        "secret": finding.secret if show_secrets else finding.redacted,
        **({"detail": dict(finding.detail)} if finding.detail else {}),
    }


def render(
    fmt: OutputFormat,
    *,
    result: ScanResult,
    findings: Sequence[Finding],
    identities: Sequence[DiscoveredIdentity],
    rules: Sequence[Rule],
    show_secrets: bool,
) -> str:
    """Render ``findings`` (already baseline-filtered) in ``fmt``."""
    rows = [finding_dict(f, show_secrets=show_secrets) for f in findings]
    if fmt == "json":
        document = {
            "tool": {"name": "limen", "version": __version__},
            "findings": rows,
            "identities": [i.to_dict() for i in identities],
            "warnings": list(result.warnings),
            "stats": {
                "blobs": result.stats.blobs,
                "bytes": result.stats.bytes,
                "skipped_binary": result.stats.skipped_binary,
                "skipped_large": result.stats.skipped_large,
                "unreadable": result.stats.unreadable,
            },
        }
        return json.dumps(document, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        # CSV is read by people and spreadsheets: names that are not text become escapes.
        writer.writerows(
            {k: printable(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows
        )
        return buffer.getvalue()
    if fmt == "sarif":
        return json.dumps(_sarif(findings, rules, show_secrets=show_secrets), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def _sarif(findings: Sequence[Finding], rules: Sequence[Rule], *, show_secrets: bool) -> dict:
    """SARIF 2.1.0 (OASIS): one run, the rules that fired, one result per finding.

    https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
    """
    fired = sorted({f.rule_id for f in findings})
    by_id = {r.id: r for r in rules}
    index = {rule_id: i for i, rule_id in enumerate(fired)}
    sarif_rules = []
    for rule_id in fired:
        rule = by_id.get(rule_id)
        description = rule.description if rule else rule_id
        sarif_rules.append(
            {
                "id": rule_id,
                "name": rule_id,
                "shortDescription": {"text": description},
                "properties": {"provider": rule.provider if rule else "", "tags": ["secret"]},
            }
        )
    results = []
    for finding in findings:
        shown = finding.secret if show_secrets else finding.redacted
        results.append(
            {
                "ruleId": finding.rule_id,
                "ruleIndex": index[finding.rule_id],
                "level": "error",
                "message": {"text": f"{finding.description} ({shown})"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": finding.path},
                            "region": {
                                "startLine": finding.line,
                                "startColumn": finding.column,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"limen/secret/v1": finding.fingerprint},
                "properties": {"commit": finding.commit, "author": finding.author},
            }
        )
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "limen",
                        "version": __version__,
                        "rules": sarif_rules,
                    }
                },
                "results": results,
            }
        ],
    }
