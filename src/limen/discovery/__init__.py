"""Discovery: find exposed credentials and the shadow identities behind them.

The first step of Limen's flow. Rules (TOML data, one file per provider family) are
compiled into one Hyperscan database; sources (files, git history, staged changes, this
machine's credential and agent files) feed blobs to it on every core; findings become a
shadow-identity inventory keyed by fingerprints, never by secrets.

Public door for ``cli/``, ``api/`` and other packages; the rest is internal.
"""

from __future__ import annotations

from limen.discovery.baseline import Baseline
from limen.discovery.engine import ALLOW_MARKER, Engine, Match
from limen.discovery.errors import BaselineError, RemediationError, RuleError, ScanError
from limen.discovery.findings import DiscoveredAgent, Finding, fingerprint, redact
from limen.discovery.intake import IntakeResult, ReportedFinding, ReportedIdentity, ingest
from limen.discovery.inventory import DiscoveredIdentity, build_inventory
from limen.discovery.outputs import FORMATS, OutputFormat, render
from limen.discovery.remediation import (
    FilePatch,
    Remediator,
    Reporter,
    apply_patch,
    file_format,
    plan_patch,
)
from limen.discovery.reporting import HttpReporter
from limen.discovery.ruleset import Rule, expand_example, load_rules
from limen.discovery.scanner import Scanner, ScanResult, ScanStats
from limen.discovery.sources import Blob, ScanSource
from limen.discovery.sources.endpoint import EndpointSource
from limen.discovery.sources.files import FileSource
from limen.discovery.sources.git_history import GitHistorySource, StagedSource

__all__ = [
    "ALLOW_MARKER",
    "FORMATS",
    "Baseline",
    "BaselineError",
    "Blob",
    "DiscoveredAgent",
    "DiscoveredIdentity",
    "EndpointSource",
    "Engine",
    "FilePatch",
    "FileSource",
    "Finding",
    "GitHistorySource",
    "HttpReporter",
    "IntakeResult",
    "Match",
    "OutputFormat",
    "RemediationError",
    "Remediator",
    "ReportedFinding",
    "ReportedIdentity",
    "Reporter",
    "Rule",
    "RuleError",
    "ScanError",
    "ScanResult",
    "ScanSource",
    "ScanStats",
    "Scanner",
    "StagedSource",
    "apply_patch",
    "build_inventory",
    "expand_example",
    "file_format",
    "fingerprint",
    "ingest",
    "load_rules",
    "plan_patch",
    "redact",
    "render",
]
