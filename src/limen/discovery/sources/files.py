"""Files and folders, respecting ``.gitignore`` the way git does.

Inside a git work tree the file list comes from git itself
(``git ls-files --cached --others --exclude-standard``), so every ignore rule git knows
(nested ``.gitignore``, ``.git/info/exclude``, the global excludes file) applies exactly.
Outside one, ``.gitignore`` files are read with :mod:`pathspec`'s gitignore matcher.
``no_ignore`` scans everything except ``.git`` itself.

Directories are walked without following symlinks, so symlink loops cannot recurse;
a symlinked *file* is read, and an unreadable one becomes a warning.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from limen.discovery.sources.base import Blob, Warn

if TYPE_CHECKING:
    import pathspec

__all__ = ["FileSource"]


class FileSource:
    """Files named directly, and every file under the folders named."""

    def __init__(self, paths: Sequence[Path], *, no_ignore: bool = False) -> None:
        self.paths = [Path(p) for p in paths]
        self.no_ignore = no_ignore

    def blobs(self, warn: Warn) -> Iterator[Blob]:
        """Yield a lazily read blob for every file to scan."""
        seen: set[str] = set()
        for root in self.paths:
            for path in self._files(root, warn):
                key = os.path.normpath(path)
                if key in seen:
                    continue
                seen.add(key)
                yield Blob(path=path, source="file", fs_path=path)

    def _files(self, root: Path, warn: Warn) -> Iterator[str]:
        # Plain strings, not Path objects: on trees of tens of thousands of files the
        # object churn alone costs more than matching does.
        if not root.exists() and not root.is_symlink():
            warn(f"{root}: no such file or directory")
            return
        if not root.is_dir():
            yield str(root)
            return
        if not self.no_ignore:
            listed = _git_listed(root)
            if listed is not None:
                yield from listed
                return
        yield from _walk(str(root), respect_ignore=not self.no_ignore, warn=warn)


def _git_listed(root: Path) -> list[str] | None:
    """Files git would consider (tracked plus untracked-not-ignored), or None if no repo."""
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            check=False,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if listed.returncode != 0:
        return None
    names = [n for n in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    base = str(root)
    # ls-files lists deleted-but-tracked files too; those are not there to scan.
    paths = (os.path.join(base, name) for name in names)
    return [p for p in paths if os.path.lexists(p)]


def _walk(root: str, *, respect_ignore: bool, warn: Warn) -> Iterator[str]:
    """Every file under ``root``, depth first in name order, without recursion.

    ``os.walk`` recurses once per directory level (before Python 3.12), so a tree nested
    a thousand deep would stop the scan with ``RecursionError``; an explicit stack has no
    such limit. Symlinked directories are not followed, so links cannot loop.
    """
    specs: list[tuple[str, pathspec.PathSpec]] = []
    # (directory, number of ignore specs in force when it was reached)
    stack: list[tuple[str, int]] = [(root, 0)]
    while stack:
        here, depth = stack.pop()
        del specs[depth:]  # specs of folders we have left no longer apply
        try:
            with os.scandir(here) as entries:
                listing = list(entries)
        except OSError as exc:
            warn(f"{exc.filename or here}: cannot list ({exc.strerror})")
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        for entry in listing:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        if ".git" in dirnames:
            dirnames.remove(".git")
        if respect_ignore:
            if ".gitignore" in filenames:
                import pathspec  # only trees with .gitignore files outside git need it

                ignore_file = os.path.join(here, ".gitignore")
                try:
                    with open(ignore_file, encoding="utf-8", errors="replace") as handle:
                        specs.append((here, pathspec.GitIgnoreSpec.from_lines(handle)))
                except OSError as exc:
                    warn(f"{ignore_file}: cannot read ({exc.strerror})")
            if specs:
                dirnames = [d for d in dirnames if not _ignored(here, d, specs, is_dir=True)]
                filenames = [f for f in filenames if not _ignored(here, f, specs, is_dir=False)]
        for name in sorted(filenames):
            yield os.path.join(here, name)
        # Reversed onto the stack, so that folders come off it in name order.
        stack.extend((os.path.join(here, d), len(specs)) for d in sorted(dirnames, reverse=True))


def _ignored(
    here: str, name: str, specs: list[tuple[str, pathspec.PathSpec]], *, is_dir: bool
) -> bool:
    path = os.path.join(here, name)
    for base, spec in specs:
        if path != base and not path.startswith(base + os.sep):
            continue
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False
