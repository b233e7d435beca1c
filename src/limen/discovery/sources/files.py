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

import pathspec

from limen.discovery.sources.base import Blob, Warn

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
                yield Blob(path=str(path), source="file", fs_path=path)

    def _files(self, root: Path, warn: Warn) -> Iterator[Path]:
        if not root.exists() and not root.is_symlink():
            warn(f"{root}: no such file or directory")
            return
        if not root.is_dir():
            yield root
            return
        if not self.no_ignore:
            listed = _git_listed(root)
            if listed is not None:
                yield from listed
                return
        yield from _walk(root, respect_ignore=not self.no_ignore, warn=warn)


def _git_listed(root: Path) -> list[Path] | None:
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
    # ls-files lists deleted-but-tracked files too; the reader warns only for real errors.
    return [root / name for name in names if (root / name).exists() or (root / name).is_symlink()]


def _walk(root: Path, *, respect_ignore: bool, warn: Warn) -> Iterator[Path]:
    specs: list[tuple[Path, pathspec.PathSpec]] = []

    def on_error(exc: OSError) -> None:
        warn(f"{exc.filename}: cannot list ({exc.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(dirpath)
        if ".git" in dirnames:
            dirnames.remove(".git")
        if respect_ignore:
            ignore_file = here / ".gitignore"
            if ignore_file.is_file():
                try:
                    lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
                    specs.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
                except OSError as exc:
                    warn(f"{ignore_file}: cannot read ({exc.strerror})")
            dirnames[:] = [d for d in dirnames if not _ignored(here / d, specs, is_dir=True)]
            filenames = [f for f in filenames if not _ignored(here / f, specs, is_dir=False)]
        dirnames.sort()
        for name in sorted(filenames):
            yield here / name


def _ignored(path: Path, specs: list[tuple[Path, pathspec.PathSpec]], *, is_dir: bool) -> bool:
    for base, spec in specs:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False
