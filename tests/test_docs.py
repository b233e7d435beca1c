"""The README and every page of docs/ run as one story, pasted in order by a new user.

The story is the README, then each page of ``docs/`` in the order the README links them,
then any page it does not link (by name): a page added later joins without a change here.
Every shell block runs, in that order, in one ``bash`` session started in an empty
directory, with a fresh ``HOME`` (so a fresh default data directory) and a live
``limen server`` started by the story itself. Nothing is skipped silently:

- ``console`` blocks: each ``$ `` line is a command (continued while a line ends in ``\\``
  or a quote is open). The lines after it, up to the next ``$ ``, are its documented
  output and must match what it printed (stdout and stderr together): whitespace does
  not count (wrapping, column widths and line breaks are layout), and ``…`` stands
  for any text. A
  command shown without output is not compared. A command may fail only if the next
  one is ``$ echo $?`` showing its exit code; ``echo $?`` is answered from that code.
- ``bash`` (also ``sh``, ``shell``) blocks run as they are: every command must succeed.
- A block whose first line is ``# not run by the docs test: <why>`` is left out, and the
  reader sees why. A block that truly cannot run here (it needs a peer tool, another
  host, a long benchmark) says so that way.
- A block with ``file=NAME`` in its info string (````cedar file=agents.cedar``) is what the
  text asks the reader to save: it is written to ``NAME`` in the current directory.
- ``limen server`` keeps running, so the docs start it in a second terminal; here it
  starts in the background and the story goes on once it answers ``/health``. It listens
  on ``LIMEN_PORT``, a free port set for the story (the docs read ``${LIMEN_PORT:-8270}``).

Like a person's own shell, the environment has ``git`` author settings; unlike it, it has
no ``LIMEN_*`` variable of the developer's, and unset variables and failing pipes are
errors (``set -u -o pipefail``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from limen.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
SHELLS = ("bash", "sh", "shell", "console")
NOT_RUN = re.compile(r"^(?:\$ )?# not run by the docs test: *(?P<why>.*)$")
UNIT_SECONDS = 240
"""How long one command or block may take before the story is declared stuck."""


# -- reading the story --------------------------------------------------------------------


def pages() -> list[Path]:
    """README.md, then docs/ pages in the order the README links them, then the rest."""
    readme = ROOT / "README.md"
    linked = re.findall(r"\]\((docs/[\w.-]+\.md)(?:#[\w-]*)?\)", readme.read_text("utf-8"))
    ordered: list[Path] = [readme]
    for name in linked:
        if (path := ROOT / name) not in ordered and path.exists():
            ordered.append(path)
    ordered += [p for p in sorted((ROOT / "docs").glob("*.md")) if p not in ordered]
    return ordered


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    text: str
    file: str | None


def blocks(page: Path) -> Iterator[Block]:
    """Every fenced block of a page, with the line its fence opens on."""
    lines = page.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(\s*)(`{3,}|~{3,})(.*)$", lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening.groups()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        words = info.split()
        file = next((w.split("=", 1)[1] for w in words if w.startswith("file=")), None)
        language = words[0] if words else ""
        yield Block(page.name, start + 1, language, "\n".join(body) + "\n", file)


@dataclass(frozen=True)
class Command:
    """One command of a console block and the output shown after it (``None``: none)."""

    text: str
    output: str | None


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(
                f"{block.page}:{block.line}: console output before any command: {lines[i]!r}"
            )
        text = lines[i][2:]
        i += 1
        while _incomplete(text) and i < len(lines):
            text += "\n" + lines[i]
            i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        found.append(Command(text, "\n".join(output) if output else None))
    return found


def _incomplete(text: str) -> bool:
    if text.endswith("\\"):
        return True
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return True
    return False


def matches(documented: str, printed: str) -> bool:
    """Whether ``printed`` is what ``documented`` shows, ``…`` standing for any text."""
    # Whitespace is layout: where a table wraps, how wide a column is, where the docs
    # break a long JSON line. Compared without it, only the text has to agree.
    shown = "".join(documented.split())
    got = "".join(printed.split())
    pattern = ".*?".join(re.escape(part) for part in shown.split("…"))
    return re.fullmatch(pattern, got, re.DOTALL) is not None


SECRET_LOOKING = re.compile(r"limen_(?:cs_)?[\w-]{8,}|eyJ[\w-]+\.[\w-]+\.[\w-]*")


def _redacted(text: str) -> str:
    """Failure messages show what a command printed, without the tokens it printed."""
    return SECRET_LOOKING.sub("<redacted>", text)


# -- running it ---------------------------------------------------------------------------


class Session:
    """One ``bash`` that the story is pasted into, unit by unit."""

    def __init__(self, workdir: Path, scratch: Path, env: dict[str, str]) -> None:
        self.scratch = scratch
        self.count = 0
        self.last_code = 0
        self.shell = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the story and all it starts are one process group
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send(
            "set -u -o pipefail -E\n"
            'trap \'echo "exit $? from: $BASH_COMMAND" >> "$__story_failures"\' ERR\n'
        )

    def _send(self, text: str) -> None:
        assert self.shell.stdin is not None
        self.shell.stdin.write(text)
        self.shell.stdin.flush()

    def run(self, script: str, *, background: bool = False) -> tuple[int, str, str]:
        """Run ``script`` in the session; (exit code, what it printed, failed commands)."""
        self.count += 1
        unit = self.scratch / f"unit-{self.count}.sh"
        out = self.scratch / f"out-{self.count}.txt"
        failures = self.scratch / f"failures-{self.count}.txt"
        unit.write_text(script)
        out.write_text("")
        failures.write_text("")
        done = f"::story-unit-{self.count}-done"
        if background:
            line = f"source {unit} > {out} 2>&1 < /dev/null &\n"
        else:
            line = f"source {unit} > {out} 2>&1 < /dev/null\n"
        self._send(f"__story_failures={failures}\n{line}echo {done} $?\n")
        code = self._wait_for(done, out)
        return code, out.read_text(errors="replace"), failures.read_text()

    def _wait_for(self, marker: str, out: Path) -> int:
        while True:
            try:
                line = self.lines.get(timeout=UNIT_SECONDS)
            except queue.Empty:
                raise AssertionError(f"still running after {UNIT_SECONDS} s") from None
            if line is None:
                printed = out.read_text(errors="replace") if out.exists() else ""
                raise AssertionError(f"the shell ended (set -u?); it printed:\n{printed}")
            if line.startswith(marker):
                return int(line.split()[-1])

    def _read(self) -> None:
        assert self.shell.stdout is not None
        for line in self.shell.stdout:
            self.lines.put(line)
        self.lines.put(None)  # the shell ended

    def close(self) -> None:
        """Stop the shell and everything the story started (the server, too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.shell.pid, signal.SIGTERM)
        try:
            self.shell.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.shell.pid, signal.SIGKILL)
            self.shell.wait()


def _starts_the_server(script: str) -> bool:
    return bool(re.fullmatch(r"limen server\b[^\n;&|]*\n?", script.strip() + "\n"))


@dataclass
class Story:
    session: Session
    port: int
    skipped: list[str]

    def play(self, block: Block) -> None:
        where = f"{block.page}:{block.line}"
        first = block.text.splitlines()[0] if block.text.strip() else ""
        if (not_run := NOT_RUN.match(first)) is not None:
            assert not_run.group("why").strip(), f"{where}: say why the block is not run"
            self.skipped.append(f"{where}: {not_run.group('why').strip()}")
            return
        if block.file:
            # Saved where the reader is, as they would save it.
            marker = "__LIMEN_STORY_FILE__"
            assert marker not in block.text
            save = f"cat > {shlex.quote(block.file)} <<'{marker}'\n{block.text}{marker}\n"
            code, printed, failed = self.session.run(save)
            assert code == 0 and not failed, f"{where}: cannot save {block.file}: {printed}"
            return
        if block.language not in SHELLS:
            return
        if block.language == "console":
            for command in commands(block):
                self._command(where, command)
        else:
            self._script(where, block.text)

    def _script(self, where: str, script: str) -> None:
        if _starts_the_server(script):
            self._server(where, script)
            return
        code, printed, failed = self.session.run(script)
        assert not failed and code == 0, f"{where}: failed\n{failed}\n{_redacted(printed)}"

    def _command(self, where: str, command: Command) -> None:
        if command.text.strip() == "echo $?":
            shown = str(self.session.last_code)
            assert command.output is not None and matches(command.output, shown), (
                f"{where}: the command before exited {shown}, the docs say {command.output}"
            )
            self.session.last_code = 0
            return
        assert self.session.last_code == 0, f"{where}: a failing command needs `$ echo $?`"
        if _starts_the_server(command.text):
            self._server(where, command.text)
            return
        code, printed, _ = self.session.run(command.text + "\n")
        self.session.last_code = code
        context = f"{where}: $ {command.text}\nprinted:\n{_redacted(printed)}"
        if command.output is not None:
            assert matches(command.output, printed), f"{context}\ndocumented:\n{command.output}"

    def _server(self, where: str, script: str) -> None:
        self.session.run(script, background=True)
        url = f"http://127.0.0.1:{self.port}/health"
        deadline = time.monotonic() + UNIT_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        printed = (self.session.scratch / f"out-{self.session.count}.txt").read_text()
        raise AssertionError(f"{where}: the server did not start:\n{_redacted(printed)}")


def _environment(home: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIMEN_", "XDG_", "OP_CONNECT_", "PYTEST_"))
    }
    bin_dir = str(Path(sys.executable).parent)  # the `limen` installed with this Python
    env.update(
        HOME=str(home),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        LIMEN_PORT=str(port),
        COLUMNS="120",
        PYTHONUNBUFFERED="1",
        GIT_AUTHOR_NAME="Ada Example",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada Example",
        GIT_COMMITTER_EMAIL="ada@example.com",
    )
    return env


@pytest.mark.long
@pytest.mark.timeout(1800)
def test_the_readme_and_the_docs_run_as_one_story(tmp_path: Path) -> None:
    home, workdir, scratch = tmp_path / "home", tmp_path / "work", tmp_path / "story"
    for directory in (home, workdir, scratch):
        directory.mkdir()
    port = free_port()
    session = Session(workdir, scratch, _environment(home, port))
    story = Story(session, port, [])
    try:
        for page in pages():
            for block in blocks(page):
                story.play(block)
        assert session.last_code == 0, "the story ends with a failed command"
    finally:
        session.close()
    print("not run by the docs test:", *story.skipped, sep="\n  ")


def test_every_block_that_is_not_run_says_why() -> None:
    unexplained = []
    for page in pages():
        for block in blocks(page):
            first = block.text.splitlines()[0] if block.text.strip() else ""
            if (not_run := NOT_RUN.match(first)) and not not_run.group("why").strip():
                unexplained.append(f"{block.page}:{block.line}")
    assert unexplained == []


def test_documented_output_matches_as_a_reader_would_compare_it() -> None:
    printed = "kill switch 2xq7 engaged\nfor agents: 2 suspended now\n"
    assert matches("kill switch … engaged for agents: 2 suspended now", printed)
    assert not matches("kill switch … engaged for agents: 3 suspended now", printed)
    assert not matches("kill switch … engaged", printed)  # all of it, not a prefix
    assert matches("…", "anything at all\n")
    assert matches("│ Stripe │ … │", "│ Stripe   │       │")
