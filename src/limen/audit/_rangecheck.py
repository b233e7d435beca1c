"""Checking a range of the hash chain: the verifier's hot loop, in or out of process.

:func:`check_links` only hashes and compares; the verifier names what went wrong. This
module imports nothing from Limen or SQLAlchemy, so that verification can run it as a
script (``python -P _rangecheck.py``, a job pickled on stdin, the result pickled on
stdout) in a process that starts in tens of milliseconds instead of the second that
importing Limen takes: that is what lets a chain of a few hundred thousand events be
split across CPUs with a gain.
"""

from __future__ import annotations

import hashlib
import pickle
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing slows the start
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from typing import Any

__all__ = ["END", "MISMATCH", "SIGNED_OTHER", "ChainMac", "check_links"]

END = 0
"""The rows ran out and every one checked out."""
MISMATCH = 1
"""The row after the last good one is missing, out of place, unlinked or does not match."""
SIGNED_OTHER = 2
"""The row after the last good one checks out but a checkpoint signed another link there."""

_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class ChainMac:
    """HMAC-SHA256 under the chain key, for hashing many links in a row.

    The same function as ``hmac.digest(key, message, "sha256")`` (RFC 2104), but the
    key's inner and outer padded blocks are hashed once, here, and each link starts from
    copies of those states. ``hmac.digest`` derives them again on every call, which for a
    message of a few hundred bytes is more than half of its cost.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def link(self, previous: bytes, tail: bytes) -> bytes:
        """The HMAC of ``previous ‖ tail`` (tail: ``b"<position>|<prev id>|<canonical>"``)."""
        inner = self._inner.copy()
        inner.update(previous)
        inner.update(tail)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def states(self) -> tuple[Any, Any]:
        """The two starting states, for a loop that inlines :meth:`link`."""
        return self._inner, self._outer

    def __repr__(self) -> str:  # never show key material
        return "ChainMac()"


def check_links(
    chunks: Iterable[Sequence[tuple[int, bytes | None, str]]],
    key: bytes,
    *,
    after: int,
    previous: bytes,
    signed: Mapping[int, bytes],
) -> tuple[int, int]:
    """Check ``(position, link, message tail)`` rows that should follow position
    ``after``, whose link is ``previous``; ``signed`` maps positions to the link a
    checkpoint signed there.

    Returns ``(last position that checked out, END | MISMATCH | SIGNED_OTHER)``: each
    row's link is recomputed from the *stored* link before it, so ranges of one chain
    can be checked independently.
    """
    inner, outer = ChainMac(key).states()
    new_inner, new_outer = inner.copy, outer.copy
    expected = after + 1
    for rows in chunks:
        for position, link, tail in rows:
            if position != expected or link is None:
                return expected - 1, MISMATCH
            # Not a secret comparison: the verifier holds the key, nobody times it.
            h = new_inner()
            h.update(previous)
            h.update(tail.encode())
            o = new_outer()
            o.update(h.digest())
            if o.digest() != link:
                return expected - 1, MISMATCH
            if signed and position in signed and signed[position] != link:
                return expected - 1, SIGNED_OTHER
            previous = link
            expected += 1
    return expected - 1, END


FETCH = 10_000
"""Rows per ``fetchmany``."""


def _chunks(cursor: Any) -> Iterator[Sequence[tuple[int, bytes | None, str]]]:
    while rows := cursor.fetchmany(FETCH):
        yield rows


def _run(job: dict[str, Any]) -> tuple[int, int]:
    """Open the database with the bare driver and check one range."""
    if job["driver"] == "sqlite3":
        import sqlite3

        connection: Any = sqlite3.connect(job["database"], timeout=30)
        cursor = connection.cursor()
    else:
        import psycopg

        connection = psycopg.connect(job["database"])
        cursor = connection.cursor(name="limen_audit_verify_range")
        cursor.itersize = FETCH
    try:
        cursor.execute(job["sql"], job["params"])
        return check_links(
            _chunks(cursor),
            job["key"],
            after=job["after"],
            previous=job["previous"],
            signed=job["signed"],
        )
    finally:
        connection.close()


def main() -> None:
    job = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by our own parent process
    try:
        result: tuple[str, object] = ("ok", _run(job))
    except Exception as exc:  # reported by the parent; never the job (it holds the key)
        first = (str(exc).strip().splitlines() or [""])[0]
        result = ("error", f"{type(exc).__name__}: {first}")
    pickle.dump(result, sys.stdout.buffer)


if __name__ == "__main__":
    main()
