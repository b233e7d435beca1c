"""The matching engine: one Hyperscan pass per blob, Python ``re`` to confirm.

Every rule's pattern is compiled into one Hyperscan database in prefilter, single-match
mode. Hyperscan then answers, in a single pass over a blob at memory speed, which rules
*might* match and roughly where; only for those rules does Python's ``re`` run, from just
before that point, to extract exact spans and the ``secret`` group. Since most blobs match
nothing, the expensive step is almost never taken.

A candidate becomes a :class:`Match` only after the rule's entropy floor, the placeholder
filters (:mod:`._placeholders`), the rule's validator and the inline ``limen:allow``
marker have all let it through. Overlapping candidates keep the most specific rule, so a
GitHub token assigned to ``token = …`` is reported once, as a GitHub token.

Hyperscan errors never leave this module: they become :class:`ScanError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import hyperscan

from limen.discovery._placeholders import entropy, is_placeholder, looks_like_code
from limen.discovery.errors import ScanError
from limen.discovery.ruleset import Rule
from limen.discovery.validators import VALIDATORS

__all__ = ["ALLOW_MARKER", "Engine", "Match"]

ALLOW_MARKER: Final = b"limen:allow"
"""A line carrying this marker (usually in a comment) is never reported."""

# How far before Hyperscan's first reported end the confirming regex starts. Prefilter
# mode reports an end at or before the real one, so starting a little earlier than the
# line it falls on covers patterns whose whitespace runs cross a newline.
_BACKOFF: Final = 256
# Multi-line rules (PEM blocks, JSON documents) can span several kilobytes.
_BACKOFF_MULTILINE: Final = 16384


@dataclass(frozen=True, slots=True)
class Match:
    """A confirmed credential inside one blob."""

    rule: Rule
    start: int
    end: int
    line: int
    column: int
    secret: str = field(repr=False)
    # Length of the whole pattern match, name included: among overlapping candidates the
    # rule that matched more context is the more specific one.
    context: int = field(default=0, repr=False, compare=False)

    def __repr__(self) -> str:
        # Never print the secret, even in a debugger or a log line.
        return f"Match(rule={self.rule.id!r}, line={self.line}, column={self.column})"


class Engine:
    """Compiled rules, ready to scan blobs; cheap to pickle (the database is rebuilt)."""

    def __init__(self, rules: Sequence[Rule], *, database: bytes | None = None) -> None:
        if not rules:
            raise ScanError("no rules to scan with")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._multiline = ["[\\s\\S]" in r.pattern or "(?s" in r.pattern for r in self.rules]
        self._database_bytes = database
        self._db = self._load(database) if database is not None else self._compile()

    def __getstate__(self) -> dict[str, object]:
        return {"rules": self.rules, "database": self.serialize()}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["rules"], database=state["database"])  # type: ignore[misc, arg-type]

    def serialize(self) -> bytes:
        """The compiled database as bytes, to cache it or ship it to worker processes."""
        if self._database_bytes is None:
            self._database_bytes = hyperscan.dumpb(self._db)
        return self._database_bytes

    def _compile(self) -> hyperscan.Database:
        flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            db.compile(
                expressions=[_for_hyperscan(r.pattern) for r in self.rules],
                ids=list(range(len(self.rules))),
                elements=len(self.rules),
                flags=[flags] * len(self.rules),
            )
        except hyperscan.error as exc:
            raise ScanError(f"the rule set does not compile for Hyperscan: {exc}") from None
        return db

    def _load(self, data: bytes) -> hyperscan.Database:
        try:
            db = hyperscan.loadb(data, mode=hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)
        except (hyperscan.error, TypeError, ValueError):
            # A stale or foreign cache entry: fall back to compiling.
            self._database_bytes = None
            return self._compile()
        return db

    def scan(self, data: bytes) -> list[Match]:
        """Return the confirmed credentials in ``data``, in order of position."""
        hits: list[tuple[int, int]] = []

        def on_match(rule_index: int, start: int, end: int, flags: int, ctx: object) -> None:
            hits.append((rule_index, end))

        try:
            self._db.scan(data, match_event_handler=on_match)
        except hyperscan.error as exc:
            raise ScanError(f"the matching engine failed: {exc}") from None
        if not hits:
            return []
        candidates: list[Match] = []
        lines = _LineIndex(data)
        for rule_index, end in hits:
            rule = self.rules[rule_index]
            backoff = _BACKOFF_MULTILINE if self._multiline[rule_index] else _BACKOFF
            pos = max(0, end - backoff)
            pos = data.rfind(b"\n", 0, pos) + 1
            for found in rule.compiled.finditer(data, pos):
                match = self._confirm(rule, found, data, lines)
                if match is not None:
                    candidates.append(match)
        return _most_specific(candidates)

    def _confirm(
        self, rule: Rule, found: re.Match[bytes], data: bytes, lines: _LineIndex
    ) -> Match | None:
        group = "secret" if "secret" in found.re.groupindex else 0
        start, end = found.span(group)
        if start < 0:
            return None
        secret = data[start:end].decode("utf-8", "replace")
        if len(secret) < 4 or entropy(secret) < rule.entropy:
            return None
        if is_placeholder(secret, generic=rule.generic):
            return None
        if rule.generic and looks_like_code(secret):
            return None
        if rule.validator is not None and not VALIDATORS[rule.validator](secret, data):
            return None
        if lines.allowed(found.start(), found.end()):
            return None
        line, column = lines.position(start)
        return Match(
            rule=rule,
            start=start,
            end=end,
            line=line,
            column=column,
            secret=secret,
            context=found.end() - found.start(),
        )


_LARGE_REPEAT: Final = re.compile(r"\{(\d+),(\d+)\}")


def _for_hyperscan(pattern: str) -> bytes:
    """Adapt a rule's pattern to Hyperscan's prefilter: same language or a superset."""

    def widen(match: re.Match[str]) -> str:
        # Large bounded repeats blow up Hyperscan's automata; an open upper bound
        # accepts a superset, and Python's re re-applies the real bound.
        low, high = int(match.group(1)), int(match.group(2))
        return f"{{{min(low, 64)},}}" if high > 128 else match.group(0)

    # Hyperscan has no named groups; it ignores groups anyway.
    text = pattern.replace("(?P<secret>", "(")
    return _LARGE_REPEAT.sub(widen, text).encode("utf-8")


def _most_specific(candidates: list[Match]) -> list[Match]:
    if len(candidates) < 2:
        return candidates
    # Specific rules before generic ones, then longer secrets first; a candidate whose
    # secret overlaps one already kept is the same credential seen by a weaker rule.
    ordered = sorted(
        candidates,
        key=lambda m: (
            m.rule.family == "generic",
            m.rule.generic,
            m.rule.validator is None,
            -m.context,
            m.start - m.end,
        ),
    )
    kept: list[Match] = []
    for match in ordered:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    kept.sort(key=lambda m: (m.start, m.rule.id))
    return kept


class _LineIndex:
    """Line numbers and allow markers for offsets in one blob, computed lazily."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def position(self, offset: int) -> tuple[int, int]:
        # bytes.count and rfind run at memory speed; findings are rare enough per blob
        # that an index of every line start would cost more than it saves.
        line = self._data.count(b"\n", 0, offset) + 1
        return line, offset - (self._data.rfind(b"\n", 0, offset) + 1) + 1

    def allowed(self, start: int, end: int) -> bool:
        data = self._data
        line_start = data.rfind(b"\n", 0, start) + 1
        first_end = data.find(b"\n", start)
        first_end = len(data) if first_end < 0 else first_end
        if ALLOW_MARKER in data[line_start:first_end]:
            return True
        last_start = data.rfind(b"\n", 0, end) + 1
        last_end = data.find(b"\n", end)
        last_end = len(data) if last_end < 0 else last_end
        return ALLOW_MARKER in data[last_start:last_end]
