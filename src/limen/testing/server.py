"""A free loopback port, and a ``limen server`` child process on one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "server_process"]


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server_process(
    env: Mapping[str, str],
    *,
    output: Path | None = None,
    start_timeout: float = 60.0,
    port: int | None = None,
    launcher: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``limen server`` in a child process, with exactly ``env``, on a loopback port
    (``port``, or a free one); ``launcher`` (a Python script and its arguments) runs
    ``limen`` instead of ``python -m limen``, its arguments passed on.

    Yields its base URL and the process once ``/health`` answers 200, and stops it on exit.
    Its output goes to ``output`` if given, else nowhere; a server that does not start
    raises :class:`RuntimeError` with that output.
    """
    port = port or free_port()
    limen = [sys.executable, *launcher] if launcher else [sys.executable, "-m", "limen"]
    command = [*limen, "server", "--host", "127.0.0.1", "--port", str(port)]
    if output is None:
        process = subprocess.Popen(
            command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    else:
        with output.open("wb") as sink:
            process = subprocess.Popen(
                command, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
            )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                printed = output.read_text() if output is not None else "(output discarded)"
                raise RuntimeError(f"limen server did not start:\n{printed}")
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
