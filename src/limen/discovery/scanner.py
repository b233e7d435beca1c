"""Run a scan: read blobs from sources, match them on every core, build findings.

The main process walks the sources and hands batches of blobs to a pool of worker
processes (one per core by default), each holding the compiled engine. Workers read
files themselves, so file contents never cross a pipe; only git blobs, which arrive as
bytes, do. Small scans skip the pool: starting processes would cost more than it saves.

Nothing here raises for bad input. Unreadable files, symlink loops, binaries and files
over the size limit are counted, and the unusual ones are reported as warnings.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Final

from limen.discovery.engine import Engine
from limen.discovery.errors import ScanError
from limen.discovery.findings import DiscoveredAgent, Finding, fingerprint
from limen.discovery.risky_files import risky_rule, risky_rules, risky_secret
from limen.discovery.sources.base import Blob, ScanSource

if TYPE_CHECKING:
    from limen.discovery.sources.browsers import Fact

__all__ = ["ScanResult", "ScanStats", "Scanner"]

_BATCH: Final = 128
# Most files per index range handed to a forked worker.
_RANGE: Final = 512
# Below this many blobs the whole scan runs in-process.
_POOL_THRESHOLD: Final = 200
_BINARY_SNIFF: Final = 8192
# Files up to this size are read in one call and sniffed afterwards.
_READ_WHOLE: Final = 256 * 1024

Progress = Callable[[int, int], None]
"""Called with (blobs done, bytes done) after each batch."""


@dataclass(slots=True)
class ScanStats:
    """Counts describing what a scan covered."""

    blobs: int = 0
    bytes: int = 0
    skipped_binary: int = 0
    skipped_large: int = 0
    unreadable: int = 0


@dataclass(slots=True)
class ScanResult:
    """Everything one scan found."""

    findings: list[Finding] = field(default_factory=list)
    agents: list[DiscoveredAgent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)


@dataclass(frozen=True, slots=True)
class _Hit:
    rule_id: str
    line: int
    column: int
    secret: str = field(repr=False)


@dataclass(slots=True)
class _BatchResult:
    """Counts for a whole batch, plus only the blobs worth sending back to the parent.

    Most blobs have nothing to report; returning one object per blob would make the
    parent process, which unpickles them, the bottleneck of a parallel scan.
    """

    blobs: int = 0
    size: int = 0
    binary: int = 0
    notable: list[_Outcome] = field(default_factory=list)


@dataclass(slots=True)
class _Outcome:
    blob: Blob
    size: int = 0
    status: str = "ok"  # ok, binary, large, unreadable
    detail: str = ""
    hits: list[_Hit] = field(default_factory=list)
    owner: str | None = None
    mtime: str | None = None


class Scanner:
    """Scans sources with one engine, on ``jobs`` processes."""

    def __init__(
        self,
        engine: Engine,
        *,
        fingerprint_key: bytes,
        max_size: int = 10 * 1024 * 1024,
        jobs: int | None = None,
    ) -> None:
        self.engine = engine
        self.fingerprint_key = fingerprint_key
        self.max_size = max_size
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self._rules = {r.id: r for r in (*engine.rules, *risky_rules())}

    def scan(
        self, sources: Sequence[ScanSource], *, progress: Progress | None = None
    ) -> ScanResult:
        """Scan every blob of every source and return findings, agents and warnings."""
        result = ScanResult()
        warn = result.warnings.append
        blobs = _chain(sources, warn)
        head = list(islice(blobs, _POOL_THRESHOLD))
        if self.jobs <= 1 or len(head) < _POOL_THRESHOLD:
            outcomes: Iterable[_BatchResult] = (
                _scan_batch(self.engine, batch, self.max_size)
                for batch in _batches(iter([*head, *blobs]))
            )
            self._collect(outcomes, result, progress)
        elif sys.platform == "linux" and all(b.data is None for b in head):
            self._scan_forked(head, blobs, result, progress)
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            with context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.engine, self.max_size)
            ) as pool:
                batches = _batches(iter([*head, *blobs]))
                self._collect(pool.imap_unordered(_worker_batch, batches), result, progress)
        for source in sources:
            agents = getattr(source, "agents", None)
            if callable(agents):
                result.agents.extend(agents(warn))
            # Credentials seen without reading a value (browser cookies, saved logins).
            facts = getattr(source, "facts", None)
            if callable(facts):
                result.findings.extend(self._fact(fact) for fact in facts(warn))
        result.findings.sort(key=lambda f: (f.path, f.commit or "", f.line, f.column, f.rule_id))
        return result

    def _scan_forked(
        self,
        head: list[Blob],
        rest: Iterator[Blob],
        result: ScanResult,
        progress: Progress | None,
    ) -> None:
        """Files only: list them all, fork, and hand workers index ranges into the list.

        Forked workers inherit the list, so no path is pickled on the way out and only
        counts and findings come back: the parent stays nearly idle, which matters when
        it shares two cores with two workers. Git blobs carry their bytes and take the
        streaming path instead.
        """
        import multiprocessing

        blobs = [*head, *rest]
        if any(b.data is not None for b in blobs):
            context = multiprocessing.get_context("fork")
            with context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.engine, self.max_size)
            ) as pool:
                batches = _batches(iter(blobs))
                self._collect(pool.imap_unordered(_worker_batch, batches), result, progress)
            return
        _WORKER["blobs"] = blobs
        try:
            size = max(32, min(_RANGE, len(blobs) // (self.jobs * 8) or 1))
            ranges = [(i, min(i + size, len(blobs))) for i in range(0, len(blobs), size)]
            context = multiprocessing.get_context("fork")
            with context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.engine, self.max_size)
            ) as pool:
                self._collect(pool.imap_unordered(_worker_range, ranges), result, progress)
        finally:
            _WORKER.pop("blobs", None)

    def _collect(
        self, outcomes: Iterable[_BatchResult], result: ScanResult, progress: Progress | None
    ) -> None:
        stats = result.stats
        for batch in outcomes:
            stats.blobs += batch.blobs
            stats.bytes += batch.size
            stats.skipped_binary += batch.binary
            for outcome in batch.notable:
                if outcome.status == "large":
                    stats.skipped_large += 1
                    result.warnings.append(f"{outcome.blob.path}: skipped, {outcome.detail}")
                elif outcome.status == "unreadable":
                    stats.unreadable += 1
                    result.warnings.append(f"{outcome.blob.path}: cannot read ({outcome.detail})")
                for hit in outcome.hits:
                    result.findings.append(self._finding(outcome, hit))
            if progress is not None:
                progress(stats.blobs, stats.bytes)

    def _fact(self, fact: Fact) -> Finding:
        return Finding(
            rule_id=fact.rule_id,
            provider=fact.provider,
            description=fact.description,
            path=fact.path,
            line=1,
            column=1,
            secret=fact.shown,
            fingerprint=fingerprint(fact.material.hex(), key=self.fingerprint_key),
            source="browser",
            detail=fact.detail,
        )

    def _finding(self, outcome: _Outcome, hit: _Hit) -> Finding:
        rule = self._rules[hit.rule_id]
        blob = outcome.blob
        return Finding(
            rule_id=rule.id,
            provider=rule.provider,
            description=rule.description,
            path=blob.path,
            line=hit.line,
            column=hit.column,
            secret=hit.secret,
            fingerprint=fingerprint(hit.secret, key=self.fingerprint_key),
            source=blob.source,
            commit=blob.commit,
            author=blob.author,
            owner=blob.author or outcome.owner,
            seen_at=blob.seen_at or outcome.mtime,
            detail=blob.detail,
        )


def _chain(sources: Sequence[ScanSource], warn: Callable[[str], None]) -> Iterator[Blob]:
    for source in sources:
        yield from source.blobs(warn)


def _batches(blobs: Iterator[Blob]) -> Iterator[list[Blob]]:
    while batch := list(islice(blobs, _BATCH)):
        yield batch


_WORKER: dict[str, object] = {}


def _init_worker(engine: Engine, max_size: int) -> None:
    _WORKER["engine"] = engine
    _WORKER["max_size"] = max_size


def _worker_range(bounds: tuple[int, int]) -> _BatchResult:
    blobs = _WORKER["blobs"]
    assert isinstance(blobs, list)
    start, stop = bounds
    return _worker_batch(blobs[start:stop])


def _worker_batch(batch: list[Blob]) -> _BatchResult:
    engine = _WORKER["engine"]
    assert isinstance(engine, Engine)
    return _scan_batch(engine, batch, int(_WORKER["max_size"]))  # type: ignore[call-overload]


def _scan_batch(engine: Engine, batch: list[Blob], max_size: int) -> _BatchResult:
    result = _BatchResult()
    for blob in batch:
        outcome = _scan_blob(engine, blob, max_size)
        result.blobs += 1
        result.size += outcome.size
        if outcome.status == "binary":
            result.binary += 1
        elif outcome.status != "ok" or outcome.hits:
            result.notable.append(outcome)
    return result


def _scan_blob(engine: Engine, blob: Blob, max_size: int) -> _Outcome:
    outcome = _Outcome(blob=blob if blob.data is None else replace(blob, data=None))
    data = blob.data
    st: os.stat_result | None = None
    if data is None:
        if blob.fs_path is None:
            return outcome
        try:
            # O_NONBLOCK so a FIFO in the tree cannot hang the scan; regular files ignore it.
            fd = os.open(blob.fs_path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            outcome.status, outcome.detail = "unreadable", exc.strerror or exc.__class__.__name__
            return outcome
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                outcome.status, outcome.detail = "unreadable", "not a regular file"
                return outcome
            if st.st_size > max_size:
                outcome.status = "large"
                outcome.detail = f"{st.st_size} bytes is over the {max_size}-byte limit"
                return outcome
            if st.st_size > _READ_WHOLE and risky_rule(os.path.basename(blob.path)) is None:
                # Sniff first: large binaries are common and reading them whole is waste.
                head = os.read(fd, _BINARY_SNIFF)
                if b"\0" in head:
                    outcome.status = "binary"
                    return outcome
                data = head + _read_all(fd, max_size + 1 - len(head), st.st_size)
            else:
                data = _read_all(fd, max_size + 1, st.st_size)
        except OSError as exc:
            outcome.status, outcome.detail = "unreadable", exc.strerror or exc.__class__.__name__
            return outcome
        finally:
            os.close(fd)
    if len(data) > max_size:
        outcome.status = "large"
        outcome.detail = f"over the {max_size}-byte limit"
        return outcome
    outcome.size = len(data)
    risky = risky_rule(os.path.basename(blob.path)) if data else None
    if risky is not None:
        # Reported whatever the content: keystores are binary, histories hold tokens in
        # shapes no rule knows.
        outcome.hits.append(_Hit(risky, 1, 1, risky_secret(data)))
    if data.find(b"\0", 0, _BINARY_SNIFF) >= 0:
        outcome.status = "binary"
        if outcome.hits:
            outcome.status = "ok"
            _stamp(outcome, st)
        return outcome
    try:
        matches = engine.scan(data)
    except ScanError as exc:
        # One blob the engine cannot take must not cost the rest of the tree.
        outcome.status, outcome.detail = "unreadable", exc.detail
        return outcome
    outcome.hits.extend(_Hit(m.rule.id, m.line, m.column, m.secret) for m in matches)
    if outcome.hits:
        _stamp(outcome, st)
    return outcome


def _stamp(outcome: _Outcome, st: os.stat_result | None) -> None:
    if st is not None:
        outcome.owner = _owner(st.st_uid)
        outcome.mtime = datetime.fromtimestamp(st.st_mtime, tz=UTC).isoformat(timespec="seconds")


def _read_all(fd: int, limit: int, expected: int) -> bytes:
    """Read up to ``limit`` bytes; one system call for a file of the ``expected`` size."""
    chunks = []
    want = min(limit, expected + 1)
    while limit > 0:
        chunk = os.read(fd, want)
        chunks.append(chunk)
        limit -= len(chunk)
        if len(chunk) < want:
            break  # short read on a regular file: end of file
        want = min(limit, 1 << 20)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _owner(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return None
