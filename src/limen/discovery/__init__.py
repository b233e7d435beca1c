"""Discovery: find exposed credentials and the shadow identities behind them.

The first step of Limen's flow. Rules (TOML data, one file per provider family) are
compiled into one Hyperscan database; sources (files, git history, staged changes, this
machine's credential and agent files) feed blobs to it on every core; findings become a
shadow-identity inventory keyed by fingerprints, never by secrets.

``run(ScanOptions) -> ScanOutcome`` is the whole scan; ``cli/scan.py`` only renders it.

Public door for ``cli/``, ``api/`` and other packages; the rest is internal. Names are
loaded on first use, so that a scan in a pre-commit hook imports neither the database
(the server side of ``--report``), an HTTP client, nor the fix and report formats.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.discovery.baseline import Baseline
    from limen.discovery.engine import ALLOW_MARKER, Engine, Match
    from limen.discovery.errors import BaselineError, RemediationError, RuleError, ScanError
    from limen.discovery.findings import DiscoveredAgent, Finding, fingerprint, redact
    from limen.discovery.fleet import (
        ENROLMENT_SCOPES,
        Enrolment,
        MachineReport,
        ReportedExposure,
        enrol,
        list_exposures,
        list_machines,
        record_report,
    )
    from limen.discovery.intake import IntakeResult, ReportedFinding, ReportedIdentity, ingest
    from limen.discovery.inventory import DiscoveredIdentity, build_inventory
    from limen.discovery.outputs import FORMATS, OutputFormat, printable, render
    from limen.discovery.remediation import (
        AppliedFix,
        FilePatch,
        Remediator,
        Reporter,
        VaultRemediator,
        apply_patch,
        file_format,
        plan_patch,
        undo_patch,
    )
    from limen.discovery.reporting import HttpReporter
    from limen.discovery.ruleset import Rule, expand_example, load_rules
    from limen.discovery.runner import (
        FixOptions,
        FixOutcome,
        ReportOptions,
        ScanOptions,
        ScanOutcome,
        default_cache_dir,
        default_data_dir,
        run,
        undo_fix,
    )
    from limen.discovery.scanner import Scanner, ScanResult, ScanStats
    from limen.discovery.sources import Blob, ScanSource
    from limen.discovery.sources.endpoint import EndpointSource
    from limen.discovery.sources.files import FileSource
    from limen.discovery.sources.git_history import GitHistorySource, StagedSource

# Every public name, and the module that defines it: each is imported on first use, so
# ``from limen.discovery import run`` loads the scanner and not the fix or report machinery.
_LAZY = {
    "ENROLMENT_SCOPES": "limen.discovery.fleet",
    "Enrolment": "limen.discovery.fleet",
    "MachineReport": "limen.discovery.fleet",
    "ReportedExposure": "limen.discovery.fleet",
    "enrol": "limen.discovery.fleet",
    "list_exposures": "limen.discovery.fleet",
    "list_machines": "limen.discovery.fleet",
    "record_report": "limen.discovery.fleet",
    "ALLOW_MARKER": "limen.discovery.engine",
    "AppliedFix": "limen.discovery.remediation",
    "apply_patch": "limen.discovery.remediation",
    "Baseline": "limen.discovery.baseline",
    "BaselineError": "limen.discovery.errors",
    "Blob": "limen.discovery.sources",
    "build_inventory": "limen.discovery.inventory",
    "default_cache_dir": "limen.discovery.runner",
    "default_data_dir": "limen.discovery.runner",
    "DiscoveredAgent": "limen.discovery.findings",
    "DiscoveredIdentity": "limen.discovery.inventory",
    "EndpointSource": "limen.discovery.sources.endpoint",
    "Engine": "limen.discovery.engine",
    "expand_example": "limen.discovery.ruleset",
    "file_format": "limen.discovery.remediation",
    "FilePatch": "limen.discovery.remediation",
    "FileSource": "limen.discovery.sources.files",
    "Finding": "limen.discovery.findings",
    "fingerprint": "limen.discovery.findings",
    "FixOptions": "limen.discovery.runner",
    "FixOutcome": "limen.discovery.runner",
    "FORMATS": "limen.discovery.outputs",
    "GitHistorySource": "limen.discovery.sources.git_history",
    "HttpReporter": "limen.discovery.reporting",
    "ingest": "limen.discovery.intake",
    "IntakeResult": "limen.discovery.intake",
    "load_rules": "limen.discovery.ruleset",
    "Match": "limen.discovery.engine",
    "OutputFormat": "limen.discovery.outputs",
    "plan_patch": "limen.discovery.remediation",
    "printable": "limen.discovery.outputs",
    "redact": "limen.discovery.findings",
    "RemediationError": "limen.discovery.errors",
    "Remediator": "limen.discovery.remediation",
    "render": "limen.discovery.outputs",
    "ReportedFinding": "limen.discovery.intake",
    "ReportedIdentity": "limen.discovery.intake",
    "Reporter": "limen.discovery.remediation",
    "ReportOptions": "limen.discovery.runner",
    "Rule": "limen.discovery.ruleset",
    "RuleError": "limen.discovery.errors",
    "run": "limen.discovery.runner",
    "ScanError": "limen.discovery.errors",
    "Scanner": "limen.discovery.scanner",
    "ScanOptions": "limen.discovery.runner",
    "ScanOutcome": "limen.discovery.runner",
    "ScanResult": "limen.discovery.scanner",
    "ScanSource": "limen.discovery.sources",
    "ScanStats": "limen.discovery.scanner",
    "StagedSource": "limen.discovery.sources.git_history",
    "undo_fix": "limen.discovery.runner",
    "undo_patch": "limen.discovery.remediation",
    "VaultRemediator": "limen.discovery.remediation",
}


__getattr__ = _door(__name__, _LAZY, globals())


__all__ = [
    "ALLOW_MARKER",
    "ENROLMENT_SCOPES",
    "FORMATS",
    "AppliedFix",
    "Baseline",
    "BaselineError",
    "Blob",
    "DiscoveredAgent",
    "DiscoveredIdentity",
    "EndpointSource",
    "Engine",
    "Enrolment",
    "FilePatch",
    "FileSource",
    "Finding",
    "FixOptions",
    "FixOutcome",
    "GitHistorySource",
    "HttpReporter",
    "IntakeResult",
    "MachineReport",
    "Match",
    "OutputFormat",
    "RemediationError",
    "Remediator",
    "ReportOptions",
    "ReportedExposure",
    "ReportedFinding",
    "ReportedIdentity",
    "Reporter",
    "Rule",
    "RuleError",
    "ScanError",
    "ScanOptions",
    "ScanOutcome",
    "ScanResult",
    "ScanSource",
    "ScanStats",
    "Scanner",
    "StagedSource",
    "VaultRemediator",
    "apply_patch",
    "build_inventory",
    "default_cache_dir",
    "default_data_dir",
    "enrol",
    "expand_example",
    "file_format",
    "fingerprint",
    "ingest",
    "list_exposures",
    "list_machines",
    "load_rules",
    "plan_patch",
    "printable",
    "record_report",
    "redact",
    "render",
    "run",
    "undo_fix",
    "undo_patch",
]
