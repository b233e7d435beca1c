"""Git history: every blob ever committed, scanned once, attributed to its first commit.

``git rev-list --objects --all`` names every reachable object with the path it was
first reached by; ``git cat-file --batch-check`` keeps the blobs and their sizes, and
``git cat-file --batch`` streams their content. A single ``git log --raw`` pass over all
refs records which commit (and author) first introduced each blob, which is who most
likely wrote the secret. A repository git cannot read becomes a warning, not a crash.

:class:`StagedSource` scans what ``git commit`` would record now: the staged version of
every added, copied, modified or renamed file (for pre-commit hooks).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from limen.discovery.sources.base import Blob, Warn

__all__ = ["GitHistorySource", "StagedSource"]


@dataclass(frozen=True, slots=True)
class _Origin:
    commit: str
    author: str
    date: str


class GitHistorySource:
    """Every blob in the history of one repository (all refs)."""

    def __init__(self, repo: Path, *, max_size: int) -> None:
        self.repo = Path(repo)
        self.max_size = max_size

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield each distinct blob once, with the commit that introduced it."""
        listing = _git(self.repo, ["rev-list", "--objects", "--all"], warn)
        if listing is None:
            return
        paths: dict[str, str] = {}
        for line in listing.decode("utf-8", "surrogateescape").splitlines():
            sha, _, path = line.partition(" ")
            if path and sha not in paths:
                paths[sha] = path
        if not paths:
            return
        check = _git(
            self.repo,
            ["cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize)"],
            warn,
            stdin="\n".join(paths).encode() + b"\n",
        )
        if check is None:
            return
        wanted: list[str] = []
        for line in check.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "blob" and int(parts[2]) <= self.max_size:
                wanted.append(parts[1])
        origins = _origins(self.repo, warn)
        for sha, data in _cat_blobs(self.repo, wanted, warn):
            origin = origins.get(sha)
            yield Blob(
                path=paths.get(sha, sha),
                source="git",
                data=data,
                commit=origin.commit if origin else None,
                author=origin.author if origin else None,
                seen_at=origin.date if origin else None,
            )


class StagedSource:
    """The staged content of every file about to be committed."""

    def __init__(self, repo: Path) -> None:
        self.repo = Path(repo)

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield the index version of each added, copied, modified or renamed file."""
        out = _git(
            self.repo,
            [
                "diff",
                "--cached",
                "--raw",
                "-z",
                "--no-abbrev",
                "--no-renames",
                "--diff-filter=ACMR",
            ],
            warn,
        )
        if out is None:
            return
        fields = out.decode("utf-8", "surrogateescape").split("\0")
        entries: dict[str, str] = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.split()
            if len(parts) >= 4 and path:
                entries[parts[3]] = path
        for sha, data in _cat_blobs(self.repo, list(entries), warn):
            yield Blob(path=entries[sha], source="staged", data=data)


def _git(repo: Path, args: list[str], warn: Warn, *, stdin: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False
        )
    except OSError as exc:
        warn(f"{repo}: cannot run git ({exc.strerror})")
        return None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        warn(f"{repo}: git {args[0]} failed: {message[-1] if message else 'unknown error'}")
        return None
    return done.stdout


def _origins(repo: Path, warn: Warn) -> dict[str, _Origin]:
    """Map blob id to the oldest commit that introduced it, from one ``git log`` pass."""
    out = _git(
        repo,
        [
            "log",
            "--all",
            "--reverse",
            "-m",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--format=%x00%H%x1f%an <%ae>%x1f%aI",
        ],
        warn,
    )
    origins: dict[str, _Origin] = {}
    if out is None:
        return origins
    current: _Origin | None = None
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("\0"):
            commit, author, date = [*line[1:].split("\x1f"), "", ""][:3]
            current = _Origin(commit=commit, author=author, date=date)
        elif line.startswith(":") and current is not None:
            parts = line.split("\t", 1)[0].split()
            if len(parts) >= 4 and parts[3] not in origins:
                origins[parts[3]] = current
    return origins


def _cat_blobs(repo: Path, shas: Iterable[str], warn: Warn) -> Iterator[tuple[str, bytes]]:
    """Stream blob contents through one ``git cat-file --batch`` process."""
    shas = list(shas)
    if not shas:
        return
    try:
        proc = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        warn(f"{repo}: cannot run git ({exc.strerror})")
        return
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        # Writing from a thread: git answers as we ask, and a full pipe on either side
        # would deadlock a single-threaded writer-then-reader.
        try:
            for sha in shas:
                proc.stdin.write(sha.encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in shas:
            header = proc.stdout.readline()
            if not header:
                warn(f"{repo}: git cat-file ended early")
                break
            parts = header.split()
            if len(parts) < 3 or parts[1] == b"missing":
                continue
            size = int(parts[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)  # the newline after each object
            yield parts[0].decode(), data
    finally:
        proc.stdout.close()
        proc.wait()
        writer.join(timeout=5)
