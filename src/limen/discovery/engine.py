"""The matching engine: one Hyperscan pass per blob, Python ``re`` to confirm.

Every rule's pattern is compiled into one Hyperscan database in prefilter mode. Hyperscan
then answers, in a single pass over a blob at memory speed, which rules *might* match and
where each candidate ends; only there, in a window from just before that line to its end,
does Python's ``re`` run to extract exact spans and the ``secret`` group. Since most blobs match
nothing, the expensive step is almost never taken.

A candidate becomes a :class:`Match` only after the rule's entropy floor, the placeholder
filters (:mod:`._placeholders`), the rule's validator and the inline ``limen:allow``
marker have all let it through. Overlapping candidates keep the most specific rule, so a
GitHub token assigned to ``token = …`` is reported once, as a GitHub token.

Hyperscan errors never leave this module: they become :class:`ScanError`.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import hyperscan

from limen.discovery._placeholders import entropy, is_placeholder, looks_like_code
from limen.discovery.errors import ScanError
from limen.discovery.ruleset import Rule, rules_digest
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
# Match callbacks per blob before falling back to confirming whole blobs: pathological
# input (megabytes of base64) must not turn into millions of Python calls.
_MAX_CALLBACKS: Final = 20000


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

    @classmethod
    def cached(cls, rules: Sequence[Rule], *, cache_dir: Path | None) -> Engine:
        """An engine whose compiled database is cached in ``cache_dir`` between runs.

        Compiling two hundred patterns takes about a second; loading takes milliseconds,
        which matters for pre-commit hooks. Any cache problem falls back to compiling.
        """
        if cache_dir is None:
            return cls(rules)
        name = f"rules-{rules_digest(rules)}-hs{hyperscan.__version__}.db"
        path = Path(cache_dir) / name
        try:
            return cls(rules, database=path.read_bytes())
        except OSError:
            pass
        engine = cls(rules)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(engine.serialize())
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
        return engine

    def serialize(self) -> bytes:
        """The compiled database as bytes, to cache it or ship it to worker processes."""
        if self._database_bytes is None:
            self._database_bytes = hyperscan.dumpb(self._db)
        return self._database_bytes

    def _compile(self) -> hyperscan.Database:
        flags = hyperscan.HS_FLAG_PREFILTER
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
        reported: list[tuple[int, int]] = []
        try:
            self._db.scan(data, match_event_handler=_on_match, context=reported)
        except hyperscan.ScanTerminated:
            pass  # _on_match stopped it past the cap: the overflow path below takes over
        except hyperscan.error as exc:
            raise ScanError(f"the matching engine failed: {exc}") from None
        if not reported:
            return []
        ends: dict[int, list[int]] = {}
        for rule_index, end in reported:
            bucket = ends.get(rule_index)
            if bucket is None:
                ends[rule_index] = [end]
            elif end > bucket[-1]:
                bucket.append(end)
        overflow = len(reported) > _MAX_CALLBACKS
        if overflow:
            # Hyperscan stopped early; rules it had not reached yet are confirmed by
            # Python over the whole blob so nothing is missed.
            for index in range(len(self.rules)):
                ends.setdefault(index, [len(data)])
        candidates: list[Match] = []
        # Spans a specific rule recognised and then rejected (bad checksum, placeholder):
        # a generic rule must not report them either, since the specific rule knows the
        # format better.
        vetoed: list[tuple[int, int]] = []
        lines = _LineIndex(data)
        size = len(data)
        for rule_index, rule_ends in ends.items():
            rule = self.rules[rule_index]
            backoff = _BACKOFF_MULTILINE if self._multiline[rule_index] else _BACKOFF
            pattern = rule.compiled
            seen: set[int] = set()
            covered = -1
            for end in rule_ends:
                if end <= covered:
                    continue
                # Confirm only in a window around the reported end: from a little
                # before its line to the end of that line (or the blob on overflow).
                pos = data.rfind(b"\n", 0, max(0, end - backoff)) + 1
                stop = size if overflow else data.find(b"\n", end)
                stop = size if stop < 0 else stop
                covered = stop
                for found in pattern.finditer(data, pos, stop):
                    if found.start() in seen:
                        continue
                    seen.add(found.start())
                    match = self._confirm(rule, found, data, lines)
                    if match is not None:
                        candidates.append(match)
                    elif not rule.generic:
                        vetoed.append(found.span("secret" if "secret" in pattern.groupindex else 0))
        if vetoed:
            candidates = [
                m
                for m in candidates
                if not m.rule.generic or all(m.end <= s or m.start >= e for s, e in vetoed)
            ]
        return _most_specific(candidates)

    def _confirm(
        self, rule: Rule, found: re.Match[bytes], data: bytes, lines: _LineIndex
    ) -> Match | None:
        group = "secret" if "secret" in found.re.groupindex else 0
        start, end = found.span(group)
        if start < 0:
            return None
        secret = data[start:end].decode("utf-8", "replace")
        if len(secret) < 4:
            return None
        # Cheapest and most selective checks first: generic candidates are mostly code.
        if rule.generic and looks_like_code(secret):
            return None
        if entropy(secret) < rule.entropy or is_placeholder(secret, generic=rule.generic):
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


def _on_match(rule_index: int, start: int, end: int, flags: int, reported: list) -> bool:
    reported.append((rule_index, end))
    # Returning True stops the scan; past the cap the blob is confirmed whole instead.
    return len(reported) > _MAX_CALLBACKS


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
    # Kept spans never overlap, so sorted by start they are sorted by end too: a new
    # candidate only needs checking against its two neighbours (a file of tens of
    # thousands of candidates must not cost a comparison with every kept one).
    starts: list[int] = []
    kept: list[Match] = []
    for match in ordered:
        index = bisect.bisect_right(starts, match.start)
        if index > 0 and kept[index - 1].end > match.start:
            continue
        if index < len(kept) and kept[index].start < match.end:
            continue
        starts.insert(index, match.start)
        kept.insert(index, match)
    return kept  # in order of position, as the spans do not overlap


class _LineIndex:
    """Line numbers and allow markers for offsets in one blob, computed lazily."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._last = (0, 1)  # (offset, its line): lookups mostly move forward

    def position(self, offset: int) -> tuple[int, int]:
        # bytes.count and rfind run at memory speed; findings are rare enough per blob
        # that an index of every line start would cost more than it saves. Counting on
        # from the previous lookup keeps a blob with thousands of findings linear.
        since, line = self._last
        if offset < since:
            since, line = 0, 1
        line += self._data.count(b"\n", since, offset)
        self._last = (offset, line)
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
