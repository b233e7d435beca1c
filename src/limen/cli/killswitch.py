"""``limen killswitch …``: suspend every agent (or service) at once, and undo exactly that."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from limen import respond
from limen.audit import Actor
from limen.cli._confirm import ReasonOption, YesFlag, confirm, require_reason
from limen.cli._context import emit_json, open_database, out_console, remote, services
from limen.cli._remote import Remote, normalise_times
from limen.errors import InvalidInput

if TYPE_CHECKING:
    from limen.store import Database

__all__ = ["app"]

app = typer.Typer(
    help="Kill switch: suspend all agents (or services) at once; disengage undoes only that.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
KindOption = Annotated[str, typer.Option("--kind", help="agent or service.")]
_SHOWN = 10


def _kind(kind: str) -> str:
    if kind not in respond.KILL_SWITCH_KINDS:
        raise InvalidInput(f"--kind must be {' or '.join(sorted(respond.KILL_SWITCH_KINDS))}")
    return kind


def _would_suspend(db: Database, kind: str) -> list[str]:
    """Names of the identities engaging now would suspend (partners are spared)."""
    from limen import identity

    names: list[str] = []
    after = None
    with db.unit_of_work(readonly=True) as uow:
        while True:
            page = identity.list_identities(
                uow.session, kind=kind, status="active", after=after, limit=1000
            )
            names += [i.name for i in page.identities if not respond.is_partner(uow.session, i.id)]
            if page.next_cursor is None:
                return names
            after = page.next_cursor


def _would_suspend_remotely(server: Remote | None, kind: str) -> list[str]:
    """The same over ``/v1/identities`` (partners are marked by their attributes)."""
    assert server is not None
    names: list[str] = []
    cursor = None
    while True:
        page = server.get("/v1/identities", kind=kind, status="active", cursor=cursor, limit=1000)
        names += [i["name"] for i in page["items"] if not i["attributes"].get("partner")]
        if not (cursor := page["next_cursor"]):
            return names


def _listed(names: list[str]) -> list[str]:
    more = len(names) - _SHOWN
    return [*names[:_SHOWN], *([f"… and {more} more"] if more > 0 else [])]


@app.command()
def engage(
    ctx: typer.Context,
    kind: KindOption = "agent",
    reason: ReasonOption = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Suspend every active identity of KIND now (asks first; --yes without a terminal)."""
    kind = _kind(kind)
    server = remote(ctx)
    db = open_database(ctx) if server is None else None
    reason = require_reason(reason, yes=yes)
    names = _would_suspend(db, kind) if db is not None else _would_suspend_remotely(server, kind)
    confirm(
        f"engage the kill switch and suspend {len(names)} active {kind}(s)",
        yes=yes,
        details=[*_listed(names), "disengaging reactivates exactly these"],
    )
    if server is None:
        switch, suspended = services(ctx).responder.engage(
            Actor.operator(), kind=kind, reason=reason
        )
        switch_id, switch_kind = switch.id, switch.target_kind
    else:
        answer = server.post("/v1/killswitch/engage", {"kind": kind, "reason": reason})
        switch_id, switch_kind, suspended = answer["id"], answer["kind"], answer["suspended"]
    if as_json:
        emit_json({"id": switch_id, "kind": switch_kind, "suspended": suspended})
        return
    out_console.print(
        f"kill switch {switch_id} engaged for {switch_kind}s: {len(suspended)} suspended now"
    )


@app.command()
def disengage(
    ctx: typer.Context,
    kind: KindOption = "agent",
    reason: ReasonOption = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Reactivate what the kill switch suspended, unless someone changed it since."""
    kind = _kind(kind)
    server = remote(ctx)
    if server is None:
        with open_database(ctx).unit_of_work(readonly=True) as uow:
            held = next(
                (n for s, n in respond.engaged_kill_switches(uow.session) if s.target_kind == kind),
                None,
            )
    else:
        held = next((s["held"] for s in server.get("/v1/killswitch") if s["kind"] == kind), None)
    if held is None:
        raise respond.KillSwitchNotEngaged(f"no kill switch is engaged for {kind}s")
    reason = require_reason(reason, yes=yes)
    confirm(
        f"disengage the kill switch for {kind}s and reactivate up to {held} {kind}(s)",
        yes=yes,
        details=["those whose status someone changed since the switch are left as they are"],
    )
    if server is None:
        switch, back, left = services(ctx).responder.disengage(
            Actor.operator(), kind=kind, reason=reason
        )
        switch_id, switch_kind = switch.id, switch.target_kind
    else:
        answer = server.post("/v1/killswitch/disengage", {"kind": kind, "reason": reason})
        switch_id, switch_kind = answer["id"], answer["kind"]
        back, left = answer["reactivated"], answer["left_alone"]
    if as_json:
        emit_json({"id": switch_id, "kind": switch_kind, "reactivated": back, "left_alone": left})
        return
    out_console.print(
        f"kill switch {switch_id} disengaged: {len(back)} reactivated, "
        f"{len(left)} left as they are (changed since)"
    )


@app.command()
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the engaged kill switches."""
    server = remote(ctx)
    if server is None:
        documents = [
            {
                "id": switch.id,
                "kind": switch.target_kind,
                "reason": switch.reason,
                "engaged_at": switch.engaged_at.isoformat(),
                "engaged_by": switch.engaged_by,
                "held": held,
            }
            for switch, held in services(ctx).responder.kill_switches(Actor.operator())
        ]
    else:
        keys = ("id", "kind", "reason", "engaged_at", "engaged_by", "held")
        documents = [
            normalise_times({k: s[k] for k in keys}, "engaged_at")
            for s in server.get("/v1/killswitch")
        ]
    if as_json:
        emit_json(documents)
        return
    if not documents:
        out_console.print("no kill switch is engaged")
        return
    table = Table("id", "kind", "held", "engaged at", "by", "reason")
    for doc in documents:
        table.add_row(
            doc["id"],
            doc["kind"],
            str(doc["held"]),
            doc["engaged_at"],
            doc["engaged_by"],
            doc["reason"] or "",
        )
    out_console.print(table)
