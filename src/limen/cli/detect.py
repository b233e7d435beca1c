"""``limen detect …``: backtest the detector on a file of events, or on a simulated company."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from limen.audit import Actor
from limen.cli._context import emit_json, err_console, open_database, out_console, remote, state
from limen.cli._errors import fail
from limen.cli._remote import Remote, server_host_only
from limen.detect import DetectConfig, Registry, read_events, replay
from limen.detect.simulation import register, simulate, small
from limen.errors import InvalidInput

__all__ = ["DetectorProcess", "app"]

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Behavioural detection: run it live, or backtest it on events.", no_args_is_help=True
)

_DEFAULTS = DetectConfig()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.command("run")
def run_(
    ctx: typer.Context,
    exit_with_parent: Annotated[
        bool, typer.Option("--exit-with-parent", hidden=True, help="Stop when the parent does.")
    ] = False,
    parent_pid: Annotated[
        int | None,
        typer.Option("--parent-pid", hidden=True, help="The parent --exit-with-parent means."),
    ] = None,
) -> None:
    """Run the live detector and the response playbooks in this process, until stopped.

    Scores every event committed to the configured database, raises alerts and runs the
    playbooks, as `limen server` does on a thread; with several of these (or servers),
    the identities are shared among them. `limen server` starts one itself where
    LIMEN_DETECT_PROCESS says so (by default on PostgreSQL).
    """
    from limen.audit import AuditKeys
    from limen.cli._context import services
    from limen.logs import configure_logging

    if remote(ctx) is not None:
        why = "it scores the events of the database as they are committed; `limen server` runs one"
        raise fail(server_host_only(ctx.command_path, why), 2)
    settings = state(ctx).settings
    AuditKeys.from_key_file(settings.resolved_key_file)  # what it records must be sealed
    configure_logging(settings.log_level, settings.log_format)
    detector = services(ctx).live_detector
    stop = threading.Event()
    # Named by the server itself: by the time this process has started up, a short-lived
    # server may be gone already, and the parent seen now would be init.
    parent = parent_pid if parent_pid is not None else os.getppid()

    def _stop(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    detector.start()
    # A log line, not a print: as a server's child its stderr is the server's log.
    log.info("limen detect: scoring the events of %s", open_database(ctx).dialect.name)
    try:
        while not stop.wait(1.0):
            if exit_with_parent and os.getppid() != parent:
                break  # the server that started this one is gone
    finally:
        detector.stop()


class DetectorProcess:
    """``limen detect run`` as a child of ``limen server``, started again if it exits.

    The child stops with the server (``--exit-with-parent``), even one that was killed.
    """

    def __init__(self, env: dict[str, str] | None = None, *, restart_after: float = 1.0) -> None:
        self._command = [
            *(sys.executable, "-m", "limen", "detect", "run"),
            *("--exit-with-parent", "--parent-pid", str(os.getpid())),
        ]
        self._env = env
        self._restart_after = restart_after
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, *, once: Callable[[], bool] | None = None) -> None:
        """Start the child, once ``once()`` is true if given (the server answers)."""
        self._thread = threading.Thread(
            target=self._watch, args=(once,), name="limen-detect-child", daemon=True
        )
        self._thread.start()

    def _watch(self, once: Callable[[], bool] | None) -> None:
        while once is not None and not once():
            if self._stop.wait(0.1):
                return
        self._process = subprocess.Popen(self._command, env=self._env)
        while not self._stop.is_set():
            process = self._process
            if process is not None and process.poll() is not None:
                log.warning(
                    "the detector process exited (%s); starting it again", process.returncode
                )
                if self._stop.wait(self._restart_after):
                    return
                self._process = subprocess.Popen(self._command, env=self._env)
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@app.command("replay")
def replay_(
    ctx: typer.Context,
    events: Annotated[Path, typer.Argument(help="Event documents, one JSON object per line.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the scores.")],
    alert_threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Score from which an event raises an alert.")
    ] = _DEFAULTS.alert_threshold,
    as_json: JsonFlag = False,
) -> None:
    """Run the detector from an empty baseline over EVENTS in time order.

    Uses the identity registry of the configured data dir (kinds, owners, attributes);
    identity.suspend events in the file change status as they would live. Writes one
    line per event ({"event", "score"}) and one per alert ({"alert", "identity", "from",
    "to", "raised_at", "score", "severity", "reasons"}).
    """
    if not events.is_file():
        raise InvalidInput(f"no such file: {events}")
    if (server := remote(ctx)) is not None:
        registry = Registry.of(SimpleNamespace(**doc) for doc in _identities(server))
    else:
        with open_database(ctx).unit_of_work(readonly=True) as uow:
            registry = Registry.load(uow.session)
    started = time.perf_counter()
    with events.open("rb") as handle:
        observations = read_events(handle)
    config = DetectConfig(
        alert_threshold=alert_threshold,
        join_threshold=min(_DEFAULTS.join_threshold, alert_threshold),
        learn_threshold=min(_DEFAULTS.learn_threshold, alert_threshold / 2),
    )
    with output.open("wb") as sink, _progress(len(observations)) as advance:
        summary = replay(
            observations, registry=registry, write=sink.write, config=config, progress=advance
        )
    elapsed = time.perf_counter() - started
    document = {**summary.to_document(), "output": str(output), "seconds": round(elapsed, 2)}
    if as_json:
        emit_json(document)
        return
    out_console.print(
        f"scored {summary.events:,} events of {summary.identities:,} identities in "
        f"{elapsed:.1f} s; {summary.alerts:,} alerts → {output}"
    )


def _identities(server: Remote) -> Iterator[dict[str, Any]]:
    """Every identity the server holds, a page at a time (``GET /v1/identities``)."""
    cursor = None
    while True:
        page = server.get("/v1/identities", cursor=cursor, limit=1000)
        yield from page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


@app.command("simulate")
def simulate_(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the events.")],
    labels: Annotated[
        Path | None, typer.Option(help="Also write the episodes (attacks and benign) here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same company.")] = 1,
    small_org: Annotated[
        bool, typer.Option("--small", help="A small company: one episode of each kind.")
    ] = False,
    register_identities: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Create the company's identities (in the data dir, or on the server).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a simulated company's events (two clean weeks, then attacks and benign surprises)."""
    trace = simulate(seed, small() if small_org else None)
    created = 0
    if register_identities:
        if (server := remote(ctx)) is not None:
            specs = [dataclasses.asdict(spec) for spec in trace.identities]
            answer = server.post("/v1/detect/simulation/identities", {"identities": specs})
            created = answer["registered"]
        else:
            with open_database(ctx).unit_of_work() as uow:
                created = register(uow, Actor.operator(), identities=trace.identities)
    with output.open("wb") as sink:
        for document in trace.events:
            sink.write(json.dumps(document, separators=(",", ":")).encode() + b"\n")
    if labels is not None:
        with labels.open("w", encoding="utf-8") as sink:
            for episode in trace.episodes:
                sink.write(
                    json.dumps(
                        {
                            "episode": episode.id,
                            "kind": episode.kind,
                            "malicious": episode.malicious,
                            "identities": episode.identities,
                            "events": episode.event_ids,
                        }
                    )
                    + "\n"
                )
    document: dict[str, Any] = {
        "events": len(trace.events),
        "identities": len(trace.identities),
        "registered": created,
        "attacks": len(trace.attacks),
        "benign": len(trace.benign),
        "output": str(output),
    }
    if as_json:
        emit_json(document)
        return
    out_console.print(
        f"wrote {len(trace.events):,} events of {len(trace.identities)} identities "
        f"({len(trace.attacks)} attack and {len(trace.benign)} benign episodes) → {output}"
        + (f"; registered {created} identities" if register_identities else "")
    )


class _progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not (err_console.is_terminal and sys.stderr.isatty()) or self.total < 50_000:
            return None
        from rich.progress import Progress

        self.bar = Progress(console=err_console, transient=True)
        self.bar.start()
        task = self.bar.add_task("scoring", total=self.total)
        return lambda done: self.bar.update(task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
