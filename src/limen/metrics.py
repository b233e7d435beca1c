"""What a Limen node counts, in Prometheus' text format (``GET /metrics``).

One :class:`Metrics` per :class:`~limen.services.Services`, with its own
``CollectorRegistry`` (not prometheus-client's global one), so several apps in one
process never share or collide on a series. The shells count what passes through them
(requests, decisions, token grants, containments); what the node holds at scrape time
(the event writer's queue and commits, the chain head, each sink's lag) is read when
Prometheus asks, by :class:`_NodeCollector`. Scraping reads the database, so
:meth:`Metrics.render` is called off the event loop.

https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from limen.audit import AuditProgress
    from limen.audit.durable import EventWriter

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("limen")

# Decisions are answered from memory: most take well under a millisecond.
_DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class Metrics:
    """The counters of one node. Build with the parts it reads at scrape time."""

    def __init__(
        self,
        *,
        events: Callable[[], EventWriter | None],
        progress: Callable[[], AuditProgress],
    ) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "limen_http_requests",
            "HTTP requests answered, by route template and status code.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "limen_decision_seconds",
            "Time to decide one AuthZEN request (one evaluation or a batch), in seconds.",
            buckets=_DECISION_BUCKETS,
            registry=registry,
        )
        self.decisions = Counter(
            "limen_decisions",
            "AuthZEN decisions, by outcome (permit or deny).",
            ("outcome",),
            registry=registry,
        )
        self.token_grants = Counter(
            "limen_token_grants",
            "Access tokens issued, by grant type and surface (oauth or users-api).",
            ("grant_type", "surface"),
            registry=registry,
        )
        self.containments = Counter(
            "limen_containments",
            "Identities suspended (contained), by how: suspend, killswitch or playbook.",
            ("via",),
            registry=registry,
        )
        self._outcomes = {
            True: self.decisions.labels("permit"),
            False: self.decisions.labels("deny"),
        }
        registry.register(_NodeCollector(events, progress))
        # labels() takes a lock and builds a key: the request counter's children are
        # kept here, one per (method, route, status) seen.
        self._request_children: dict[tuple[str, str, int], Counter] = {}

    def count_request(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(method, route, str(status))
        child.inc()

    def decided(self, seconds: float, allowed: Iterable[bool]) -> None:
        """One AuthZEN request took ``seconds`` and answered ``allowed`` (one per decision)."""
        self.decision_seconds.observe(seconds)
        for outcome in allowed:
            self._outcomes[outcome].inc()

    def granted(self, grant_type: str, *, surface: str) -> None:
        self.token_grants.labels(grant_type, surface).inc()

    def contained(self, via: str, count: int = 1) -> None:
        if count:
            self.containments.labels(via).inc(count)

    def render(self) -> bytes:
        """The exposition text. Reads the database: call it off the event loop."""
        return generate_latest(self.registry)


class _NodeCollector(Collector):
    """What the node holds right now, read at each scrape."""

    def __init__(
        self,
        events: Callable[[], EventWriter | None],
        progress: Callable[[], AuditProgress],
    ) -> None:
        self._events = events
        self._progress = progress

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only (describing would read the database)

    def collect(self) -> Iterator[Metric]:
        writer = self._events()
        backlog = GaugeMetricFamily(
            "limen_event_writer_queue_depth",
            "Event writes queued for the group-committing writer, not yet committed.",
        )
        commits = SummaryMetricFamily(
            "limen_event_writer_commit_seconds",
            "Time to commit one batch of events, in seconds.",
        )
        batches, seconds = writer.commit_stats if writer is not None else (0, 0.0)
        backlog.add_metric([], writer.backlog if writer is not None else 0)
        commits.add_metric([], count_value=batches, sum_value=seconds)
        yield backlog
        yield commits
        try:
            progress = self._progress()
        except Exception as exc:  # the database is down: the rest of the scrape still counts
            log.warning("metrics: could not read the audit trail's progress: %s", exc)
            return
        head = GaugeMetricFamily(
            "limen_audit_chain_head_position",
            "Position of the last event linked into the hash chain.",
        )
        head.add_metric([], progress.head_position)
        yield head
        lag = GaugeMetricFamily(
            "limen_audit_sink_lag_events",
            "Linked events a push sink has not yet had delivered, by sink name.",
            labels=("sink",),
        )
        for name, behind in sorted(progress.sink_lag.items()):
            lag.add_metric([name], behind)
        yield lag
