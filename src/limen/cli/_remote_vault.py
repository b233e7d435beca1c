"""The vault commands in remote mode: the server's vault API (1Password Connect shape).

:class:`RemoteVault` answers what the ``vault``, ``item``, ``read``, ``run`` and ``inject``
commands ask of :class:`limen.vault.VaultService`, over ``/v1/vaults``. Items come back as
the documents :func:`limen.cli.vault.item_document` writes for local items; what the Connect
shape does not carry (an item's rotation policy, when its secrets last changed, a vault's
maximum secret age) is ``null``. Secret references resolve as they do locally
(:func:`limen.vault.find_field` on the item the server returns): the server records the
read as ``vault.item.read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from limen import vault as vaults
from limen.cli._remote import Remote
from limen.vault import Field, ItemDraft, Recipe, ResolvedSecret, Section, Url

__all__ = ["RemoteVault"]


def _segment(ref: str) -> str:
    return quote(ref, safe="@")


def _iso(value: str | None) -> str | None:
    return datetime.fromisoformat(value).isoformat() if value else None


class RemoteVault:
    """Vaults and items on a Limen server, read and written with the CLI's token."""

    def __init__(self, server: Remote) -> None:
        self._server = server
        self._vault_names: dict[str, str] = {}

    # -- vaults ---------------------------------------------------------------------------

    def create_vault(
        self, name: str, *, description: str | None, max_secret_age_days: int | None
    ) -> dict[str, Any]:
        body = {"name": name, "description": description}
        if max_secret_age_days is not None:
            body["maxSecretAgeDays"] = max_secret_age_days
        return self._vault(self._server.post("/v1/vaults", body), max_secret_age_days)

    def list_vaults(self) -> list[dict[str, Any]]:
        return [self._vault(v) for v in self._server.get("/v1/vaults")]

    def get_vault(self, ref: str) -> dict[str, Any]:
        return self._vault(self._server.get(f"/v1/vaults/{_segment(ref)}"))

    def rename_vault(self, ref: str, name: str) -> dict[str, Any]:
        return self._vault(self._server.patch(f"/v1/vaults/{_segment(ref)}", {"name": name}))

    def set_policy(self, ref: str, max_secret_age_days: int | None) -> dict[str, Any]:
        """The answer does not carry the policy; what was set is what the server took."""
        body = {"maxSecretAgeDays": max_secret_age_days}
        wire = self._server.patch(f"/v1/vaults/{_segment(ref)}", body)
        return self._vault(wire, max_secret_age_days)

    def delete_vault(self, ref: str) -> int:
        """Delete an empty vault; how many trashed items went with it (counted first)."""
        vault_id = self.get_vault(ref)["id"]
        trashed = self._server.get(f"/v1/vaults/{vault_id}/items", trashed=True)
        self._server.delete(f"/v1/vaults/{vault_id}")
        return len(trashed)

    def _vault(self, wire: dict[str, Any], max_age: int | None = None) -> dict[str, Any]:
        self._vault_names[wire["id"]] = wire["name"]
        return {
            "id": wire["id"],
            "name": wire["name"],
            "description": wire.get("description") or None,
            "items": wire.get("items", 0),
            "max_secret_age_days": max_age,
            "created_at": _iso(wire.get("createdAt")),
            "updated_at": _iso(wire.get("updatedAt")),
        }

    def _vault_name(self, vault_id: str) -> str:
        if vault_id not in self._vault_names:
            self.get_vault(vault_id)
        return self._vault_names[vault_id]

    # -- items ----------------------------------------------------------------------------

    def create_item(self, vault: str, draft: ItemDraft, *, reveal: bool) -> dict[str, Any]:
        wire = self._server.post(f"/v1/vaults/{_segment(vault)}/items", _draft_wire(draft))
        return self._item(wire, reveal=reveal)

    def get_item(
        self, vault: str, item: str, *, reveal: bool, version: int | None = None
    ) -> dict[str, Any]:
        return self._item(self._get_item(vault, item, version=version), reveal=reveal)

    def list_items(self, vault: str) -> list[dict[str, Any]]:
        found = self._server.get(f"/v1/vaults/{_segment(vault)}/items")
        return [self._item(summary, reveal=False) for summary in found]

    def update_item(self, vault: str, item: str, change: Any, *, reveal: bool) -> dict[str, Any]:
        """Read the item, apply ``change`` to its draft, and replace it (a new version)."""
        current = self._get_item(vault, item)
        draft = change(_wire_draft(current))
        path = f"/v1/vaults/{current['vault']['id']}/items/{current['id']}"
        return self._item(self._server.put(path, _draft_wire(draft)), reveal=reveal)

    def delete_item(self, vault: str, item: str) -> dict[str, Any]:
        current = self._get_item(vault, item)
        self._server.delete(f"/v1/vaults/{current['vault']['id']}/items/{current['id']}")
        return current

    def attach_file(self, vault: str, item: str, *, name: str, content: bytes) -> dict[str, Any]:
        """The attached file as ``limen item attach`` shows it (id, name, size)."""
        path = f"/v1/vaults/{_segment(vault)}/items/{_segment(item)}/files"
        made = self._server.post_bytes(path, content, name=name)
        return {"id": made["id"], "name": made["name"], "size": made["size"]}

    def restore_item(self, vault: str, item: str) -> dict[str, Any]:
        wire = self._server.post(f"/v1/vaults/{_segment(vault)}/items/{_segment(item)}/restore")
        return self._item(wire, reveal=False)

    def item_versions(self, vault: str, item: str) -> list[dict[str, Any]]:
        """Every version's number, time and author, as ``limen item versions`` prints them."""
        path = f"/v1/vaults/{_segment(vault)}/items/{_segment(item)}/versions"
        return [
            {
                "version": v["version"],
                "created_at": _iso(v["createdAt"]),
                "created_by": v["createdBy"],
            }
            for v in self._server.get(path)
        ]

    def report(self) -> list[dict[str, Any]]:
        """Every item under a rotation policy, as ``limen vault report --all --json``."""
        entries: list[dict[str, Any]] = self._server.get("/v1/vault-report", all=True)
        return entries

    def versions(self, vault: str, item: str) -> int:
        return int(self._get_item(vault, item)["version"])

    def resolve(self, reference: str) -> ResolvedSecret:
        ref = vaults.parse_reference(reference)
        wire = self._get_item(ref.vault, ref.item)
        content = vaults.ItemContent(
            fields=tuple(_field(f) for f in wire.get("fields", [])),
            sections=tuple(Section(s["id"], s.get("label")) for s in wire.get("sections", [])),
        )
        found = vaults.find_field(content, ref)
        return ResolvedSecret(
            str(ref), found.value or "", wire["vault"]["id"], wire["id"], found.id
        )

    def _get_item(self, vault: str, item: str, *, version: int | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self._server.get(
            f"/v1/vaults/{_segment(vault)}/items/{_segment(item)}", version=version
        )
        return answer

    def _item(self, wire: dict[str, Any], *, reveal: bool) -> dict[str, Any]:
        """A Connect item as :func:`limen.cli.vault.item_document` writes a local one."""
        vault_id = wire["vault"]["id"]
        vault_name = self._vault_name(vault_id)
        document: dict[str, Any] = {
            "id": wire["id"],
            "vault": {"id": vault_id, "name": vault_name},
            "title": wire["title"],
            "category": wire["category"],
            "tags": list(wire.get("tags") or []),
            "version": wire["version"],
            "latest_version": wire["version"],
            "created_at": _iso(wire.get("createdAt")),
            "updated_at": _iso(wire.get("updatedAt")),
            "secrets_changed_at": None,
            "max_secret_age_days": None,
            "rotation_needed": _rotation_needed(wire.get("rotationNeeded")),
        }
        if "fields" in wire:
            sections = wire.get("sections") or []
            labels = {s["id"]: s.get("label") for s in sections}
            document["sections"] = [{"id": s["id"], "label": s.get("label")} for s in sections]
            document["fields"] = []
            for raw in wire["fields"]:
                f = _field(raw)
                section = labels.get(f.section_id, f.section_id) if f.section_id else None
                reference = vaults.Reference(vault_name, wire["title"], f.label or f.id)
                document["fields"].append(
                    {
                        "id": f.id,
                        "label": f.label,
                        "type": f.type,
                        "purpose": f.purpose or None,
                        "section": section,
                        "value": f.value if reveal or not f.is_concealed else None,
                        "reference": str(reference),
                    }
                )
            document["urls"] = [
                {"href": u["href"], "primary": bool(u.get("primary"))}
                for u in wire.get("urls") or []
            ]
        document["files"] = [
            {"id": f["id"], "name": f["name"], "size": f["size"]} for f in wire.get("files") or []
        ]
        return document


def _rotation_needed(wire: dict[str, Any] | None) -> dict[str, Any] | None:
    if not wire:
        return None
    return {"since": _iso(wire.get("since")), "reason": wire.get("reason")}


def _field(raw: dict[str, Any]) -> Field:
    return Field(
        id=raw.get("id") or "",
        type=raw.get("type") or "STRING",
        label=raw.get("label"),
        value=raw.get("value"),
        purpose=raw.get("purpose") or "",
        section_id=(raw.get("section") or {}).get("id"),
        entropy=raw.get("entropy"),
    )


def _wire_draft(wire: dict[str, Any]) -> ItemDraft:
    return ItemDraft(
        title=wire["title"],
        category=wire["category"],
        tags=list(wire.get("tags") or []),
        favorite=bool(wire.get("favorite")),
        fields=[_field(f) for f in wire.get("fields") or []],
        sections=[Section(s["id"], s.get("label")) for s in wire.get("sections") or []],
        urls=[
            Url(u["href"], u.get("label"), bool(u.get("primary"))) for u in wire.get("urls") or []
        ],
    )


def _draft_wire(draft: ItemDraft) -> dict[str, Any]:
    """An item draft as the Connect API's ``FullItem`` body."""
    body: dict[str, Any] = {
        "title": draft.title,
        "category": draft.category,
        "tags": list(draft.tags),
        "favorite": draft.favorite,
        "sections": [{"id": s.id, "label": s.label} for s in draft.sections],
        "fields": [_field_wire(f) for f in draft.fields],
        "urls": [{"href": u.href, "label": u.label, "primary": u.primary} for u in draft.urls],
    }
    if draft.max_secret_age_days is not None:
        body["maxSecretAgeDays"] = draft.max_secret_age_days
    return body


def _field_wire(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id or None, "type": f.type, "label": f.label}
    if f.value is not None:
        out["value"] = f.value
    if f.purpose:
        out["purpose"] = f.purpose
    if f.section_id:
        out["section"] = {"id": f.section_id}
    if f.generate:
        out["generate"] = True
        if f.recipe is not None:
            out["recipe"] = _recipe_wire(f.recipe)
    return out


def _recipe_wire(recipe: Recipe) -> dict[str, Any]:
    return {
        "length": recipe.length,
        "characterSets": list(recipe.character_sets),
        "excludeCharacters": recipe.exclude_characters,
    }
