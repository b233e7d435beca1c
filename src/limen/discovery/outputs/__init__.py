"""Machine-readable scan reports: JSON, JSON Lines, SARIF 2.1.0 and CSV."""

from __future__ import annotations

from limen.discovery.outputs.formats import (
    FORMATS,
    OutputFormat,
    finding_dict,
    printable,
    render,
)

__all__ = ["FORMATS", "OutputFormat", "finding_dict", "printable", "render"]
