"""The composition root: everything a Limen process needs, built once from its Settings.

The API builds one :class:`Services` in its lifespan (:meth:`Services.start` builds every
part there, before the first request) and hands it to routers through one dependency;
the CLI builds one per command, and only the parts that command touches are made (a
command run by the operator never builds the status view, the token service or the
PDP). Nothing else keeps process-wide objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from limen import access, identity
from limen.audit import AuditKeys, EventReader, link_pending
from limen.audit.durable import EventWriter
from limen.config import Settings
from limen.errors import LimenError, Unavailable
from limen.keyfile import read_key_file
from limen.store import Database
from limen.vault import KeyFileSource, Keyring, PassphraseSource, VaultService

# A command builds only the parts it touches, and imports only what those need: `limen
# read` never loads tokens, Shared Signals, detection or lifecycle (benchmarks/startup.py).
if TYPE_CHECKING:
    from limen import lifecycle, respond, tokens
    from limen.audit import ChainAudit
    from limen.audit.feed_tokens import EventsTokens
    from limen.audit.sinks import Sinks
    from limen.detect.live import LiveDetector
    from limen.detect.triage import Alerts
    from limen.metrics import Metrics
    from limen.resources import ResourceTags
    from limen.respond import ssf
    from limen.respond.playbooks import Playbooks
    from limen.respond.threat import ThreatService, ThreatView
    from limen.vault.service_accounts import ServiceAccounts

__all__ = ["Services"]

log = logging.getLogger("limen")


@dataclass(eq=False)
class Services:
    """One installation's parts, wired together. Build with :meth:`open`."""

    settings: Settings
    db: Database
    owns_db: bool = True
    ssf_tuning: dict[str, Any] = field(default_factory=dict)
    """Shorter SSF intervals for tests and benchmarks."""
    schema_current: bool = True
    """Whether every migration this code knows has been applied (checked at start)."""

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        database: Database | None = None,
        ssf_tuning: dict[str, Any] | None = None,
    ) -> Services:
        db = database or Database(settings.resolved_database_url)
        services = cls(settings, db, owns_db=database is None, ssf_tuning=dict(ssf_tuning or {}))
        keys = services.audit_keys
        if keys is not None:
            keys.attach(db)  # every event this process writes is sealed
        return services

    # -- what every request may need ------------------------------------------------------

    @cached_property
    def events(self) -> EventWriter:
        """The group-committing writer of events that are a request's only write."""
        return EventWriter(self.db)

    @cached_property
    def account_id(self) -> str:
        """The installation's account id (Users and Events APIs); it never changes, so it
        is read once, on first use (from a thread: it reads the database)."""
        from limen import installation

        with self.db.unit_of_work(readonly=True) as uow:
            return installation.account_id(uow.session)

    @cached_property
    def status(self) -> identity.StatusView:
        """Who may act right now (starts the change feed)."""
        return identity.StatusView(self.db)

    @cached_property
    def guard(self) -> access.Guard:
        return access.Guard(
            self.db,
            status=lambda: self.status,
            events=self.events,
            threat_level=lambda: self.threat_view.level,
        )

    @cached_property
    def opaque_tokens(self) -> identity.OpaqueTokens:
        return identity.OpaqueTokens(self.status)

    @cached_property
    def threat_view(self) -> ThreatView:
        """The threat level in memory (kept current by the change feed)."""
        from limen.respond.threat import ThreatView

        return ThreatView(self.db)

    @cached_property
    def browser_sessions(self) -> identity.BrowserSessions:
        """Seals the console's session cookies under the root key (a per-process key
        without one)."""
        try:
            root: bytes | None = read_key_file(self.settings.resolved_key_file)
        except LimenError:
            root = None
        return identity.BrowserSessions(root, ttl=self.settings.console_session_ttl)

    @cached_property
    def signing_keys(self) -> tokens.SigningKeys:
        from limen import tokens

        settings = self.settings
        if settings.key_passphrase is not None and settings.key_file is None:
            raise Unavailable(
                "token signing needs the root key file; passphrase-only setups are "
                "not supported by the token service yet"
            )
        return tokens.SigningKeys(
            self.db,
            root_key=read_key_file(settings.resolved_key_file),
            max_token_ttl=settings.access_token_ttl,
        )

    @cached_property
    def tokens(self) -> tokens.TokenService:
        """OAuth access tokens for this installation (issuer ``LIMEN_PUBLIC_URL``)."""
        from limen import tokens

        return tokens.TokenService(
            self.db,
            keys=self.signing_keys,
            status=self.status,
            ttl=self.settings.access_token_ttl,
            issuer=self.settings.resolved_public_url,
            events=self.events,
            lifetime_scale=self.threat_view.token_scale,
            used_assertions=self.used_assertions,
        )

    @cached_property
    def partner_tokens(self) -> tokens.TokenService:
        """The same keys and status, with the partner API's longer lifetime."""
        from limen import respond, tokens

        return tokens.TokenService(
            self.db,
            keys=self.signing_keys,
            status=self.status,
            ttl=respond.PARTNER_TOKEN_TTL,
            issuer=self.settings.resolved_public_url,
            events=self.events,
            used_assertions=self.used_assertions,
        )

    @cached_property
    def used_assertions(self) -> tokens.UsedAssertions:
        """Client assertions already used (``private_key_jwt``), in the database, so a
        replay is refused on every node."""
        from limen import tokens

        return tokens.UsedAssertions(self.db)

    @cached_property
    def pdp(self) -> access.PolicyDecisionPoint:
        from limen import tokens

        def chain(raw: str) -> tuple[str, ...]:
            claims = self.tokens.verify(raw, audience=tokens.ANY_AUDIENCE)
            return (*claims.actors, claims.sub) if claims.act else (claims.sub,)

        return access.PolicyDecisionPoint(
            self.db,
            status=self.status,
            events=self.events,
            token_chain=chain,
            threat_level=lambda: self.threat_view.level,
        )

    # -- domain services: each asks the guard ---------------------------------------------

    @cached_property
    def keyring(self) -> Keyring:
        settings = self.settings
        if settings.key_passphrase is not None:
            return Keyring(self.db, PassphraseSource(settings.key_passphrase.get_secret_value()))
        return Keyring(self.db, KeyFileSource(settings.resolved_key_file))

    @cached_property
    def vault(self) -> VaultService:
        return VaultService(
            self.db,
            self.keyring,
            authorizer=self.guard,
            events=self.events,
            reuse_seconds=self.settings.vault_reuse_seconds,
        )

    @cached_property
    def directory(self) -> identity.Directory:
        return identity.Directory(self.db, self.guard)

    @cached_property
    def responder(self) -> respond.Responder:
        from limen import respond

        return respond.Responder(self.db, self.guard)

    @cached_property
    def threat(self) -> ThreatService:
        from limen.respond.threat import ThreatService

        return ThreatService(self.db, self.guard)

    @cached_property
    def playbooks(self) -> Playbooks:
        from limen.respond.playbooks import Playbooks

        return Playbooks(self.db, self.guard)

    @cached_property
    def resource_tags(self) -> ResourceTags:
        from limen.resources import ResourceTags

        return ResourceTags(self.db, self.guard)

    @cached_property
    def alerts(self) -> Alerts:
        from limen.detect.triage import Alerts

        return Alerts(self.db, self.guard)

    @cached_property
    def provisioning(self) -> lifecycle.Provisioning:
        from limen import lifecycle

        return lifecycle.Provisioning(self.db, self.guard, orphans=self.settings.orphans)

    @cached_property
    def access_review(self) -> lifecycle.AccessReview:
        from limen import lifecycle

        return lifecycle.AccessReview(self.db, self.guard, self.pdp)

    @cached_property
    def posture(self) -> lifecycle.Posture:
        from limen import lifecycle

        return lifecycle.Posture(self.db, self.guard, self.access_review)

    @cached_property
    def api_tokens(self) -> identity.ApiTokens:
        return identity.ApiTokens(self.db, self.guard)

    @cached_property
    def chain_audit(self) -> ChainAudit:
        from limen.audit import ChainAudit

        return ChainAudit(self.db, self.guard, self.audit_keys)

    @cached_property
    def sinks(self) -> Sinks:
        from limen.audit.sinks import Sinks

        return Sinks(
            self.db,
            self.guard,
            self.audit_keys,
            allowed_hosts=_hosts(self.settings.sink_allowed_hosts),
        )

    @cached_property
    def events_tokens(self) -> EventsTokens:
        from limen.audit.feed_tokens import EventsTokens

        return EventsTokens(self.db, self.guard)

    @cached_property
    def service_accounts(self) -> ServiceAccounts:
        from limen.vault.service_accounts import ServiceAccounts

        return ServiceAccounts(self.db, self.guard)

    @cached_property
    def clients(self) -> tokens.Clients:
        from limen import tokens

        return tokens.Clients(self.db, self.guard)

    @cached_property
    def policies(self) -> access.PolicyService:
        return access.PolicyService(self.db, self.guard)

    @cached_property
    def event_log(self) -> EventReader:
        return EventReader(self.db, self.guard)

    @cached_property
    def metrics(self) -> Metrics:
        """This node's Prometheus counters, in a registry of its own (``/metrics``)."""
        from limen.audit import audit_progress
        from limen.metrics import Metrics

        metrics = Metrics(
            events=lambda: self.__dict__.get("events"),
            progress=lambda: audit_progress(self.db),
        )
        # Counted from the status changes this node applies, whoever made them: another
        # node, a playbook, a `limen` command on the host.
        self.status.on_contained(metrics.contained)
        return metrics

    # -- background work (the server) -----------------------------------------------------

    @cached_property
    def audit_keys(self) -> AuditKeys | None:
        """The chain's keys from the key file; ``None`` if it cannot be read."""
        try:
            return AuditKeys.from_key_file(self.settings.resolved_key_file)
        except LimenError:
            return None

    @cached_property
    def ssf_sealer(self) -> ssf.HeaderSealer | None:
        """Seals receivers' push credentials under the root key; ``None`` without one."""
        from limen.respond import ssf

        path = self.settings.resolved_key_file
        if not path.exists():
            return None
        return ssf.HeaderSealer(read_key_file(path))

    @cached_property
    def transmitter(self) -> ssf.Transmitter:
        from limen.respond import ssf

        return ssf.Transmitter(
            self.db,
            signer=self.signing_keys,
            alg=self.settings.ssf_signing_alg,
            sealer=self.ssf_sealer,
            allowed_hosts=_hosts(self.settings.ssf_allowed_hosts),
            **self.ssf_tuning,
        )

    @cached_property
    def live_detector(self) -> LiveDetector:
        """Scores every committed event (the server starts it; see ``docs/respond.md``)."""
        from limen.detect.live import LiveDetector
        from limen.respond.playbooks import PlaybookRunner

        keys = self.audit_keys

        def link() -> None:
            if keys is not None:
                link_pending(self.db, keys.chain, wait=False)

        runner = PlaybookRunner(
            self.db, max_per_minute=self.settings.playbook_suspensions_per_minute
        )
        return LiveDetector(self.db, link=link, on_alerts=runner.act)

    def start(self) -> None:
        """Build every part a server uses, and start its background work."""
        from limen.audit.worker import AuditWorker

        try:
            self.schema_current = not self.db.pending_migrations()
        except Exception as exc:  # the database is down: readiness says so anyway
            log.warning("could not check the schema: %s", exc)
        if not self.schema_current:
            log.warning("the database schema is behind this version: run `limen db upgrade`")
        self.db.broadcaster.start()
        for part in (
            "status",
            "guard",
            "opaque_tokens",
            "vault",
            "directory",
            "responder",
            "threat_view",
            "metrics",
        ):
            getattr(self, part)
        for part in ("browser_sessions", "api_tokens", "event_log"):
            getattr(self, part)
        self.guard.warm()  # its policies are in memory before the first request
        try:
            self.tokens.keys.current_kid()
            for part in ("partner_tokens", "pdp"):
                getattr(self, part)
        except LimenError as exc:
            log.warning("the token service is not available: %s", exc.detail)
            self.__dict__.setdefault(
                "pdp", access.PolicyDecisionPoint(self.db, status=self.status, events=self.events)
            )
        try:
            self.transmitter.start()
        except LimenError as exc:
            log.warning("the Shared Signals transmitter is not running: %s", exc.detail)
        keys = self.audit_keys
        if keys is None:
            log.warning("the audit worker is not running: the key file cannot be read")
        else:
            self.__dict__["audit_worker"] = worker = AuditWorker(self.db, keys)
            worker.start()
        if self.settings.detect:
            self.live_detector.start()

    def close_background(self) -> None:
        """Stop background work (the server's shutdown, before the database goes)."""
        detector = self.__dict__.pop("live_detector", None)
        if detector is not None:
            detector.stop()
        worker = self.__dict__.pop("audit_worker", None)
        if worker is not None:
            worker.stop()
        sender = self.__dict__.pop("transmitter", None)
        if sender is not None:
            sender.stop()
        self.events.close()

    def close(self) -> None:
        """Stop everything and release the database (if these services own it)."""
        self.close_background()
        view = self.__dict__.get("status")
        if view is not None:
            view.close()
        threat = self.__dict__.get("threat_view")
        if threat is not None:
            threat.close()
        if self.owns_db:
            self.db.dispose()
        else:
            self.db.broadcaster.stop()


def _hosts(raw: str | None) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in (raw or "").split(",") if h.strip())
