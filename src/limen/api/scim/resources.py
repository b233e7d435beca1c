"""SCIM resources (RFC 7643): User (with the enterprise extension) and Group, and the
discovery documents ``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas``.

https://www.rfc-editor.org/rfc/rfc7643
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from limen.errors import InvalidInput
from limen.lifecycle import GroupDraft, GroupRecord, UserDraft, UserRecord

__all__ = [
    "ENTERPRISE",
    "ERROR_SCHEMA",
    "GROUP_SCHEMA",
    "LIST_SCHEMA",
    "USER_SCHEMA",
    "group_draft",
    "render_group",
    "render_user",
    "resource_types",
    "schemas",
    "service_provider_config",
    "user_draft",
]

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_RESULTS = 1000
MAX_BULK_OPERATIONS = 1000
MAX_BULK_PAYLOAD = 1_048_576

# Enterprise attributes copied into the identity's attributes (Cedar, access review).
_ENTERPRISE_ATTRIBUTES = ("employeeNumber", "costCenter", "organization", "division", "department")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def etag(version: int) -> str:
    return f'W/"{version}"'


def render_user(user: UserRecord, base: str) -> dict[str, Any]:
    document = {k: v for k, v in user.document.items() if k not in ("id", "meta", "password")}
    schemas = [USER_SCHEMA]
    if isinstance(document.get(ENTERPRISE), dict):
        schemas.append(ENTERPRISE)
    resource: dict[str, Any] = {**document, "schemas": schemas, "id": user.id}
    resource["userName"] = user.user_name
    if user.external_id is not None:
        resource["externalId"] = user.external_id
    else:
        resource.pop("externalId", None)
    if any(k.lower() == "active" for k in document) or not user.active:
        resource["active"] = user.active
    else:
        resource.pop("active", None)  # never set, or removed by a PATCH: unassigned
    if user.display_name and not resource.get("displayName"):
        resource["displayName"] = user.display_name
    if user.email and not resource.get("emails"):
        resource["emails"] = [{"value": user.email, "type": "work", "primary": True}]
    resource["groups"] = [
        {"value": gid, "display": name, "$ref": f"{base}/Groups/{gid}", "type": "direct"}
        for gid, name in user.groups
    ]
    if not resource["groups"]:
        del resource["groups"]
    resource["meta"] = {
        "resourceType": "User",
        "created": _when(user.created_at),
        "lastModified": _when(user.updated_at),
        "location": f"{base}/Users/{user.id}",
        "version": etag(user.version),
    }
    return resource


def render_group(group: GroupRecord, base: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.display_name,
        "members": [
            {"value": uid, "$ref": f"{base}/Users/{uid}", **group.member_details.get(uid, {})}
            for uid, _ in group.members
        ],
        "meta": {
            "resourceType": "Group",
            "created": _when(group.created_at),
            "lastModified": _when(group.updated_at),
            "location": f"{base}/Groups/{group.id}",
            "version": etag(group.version),
        },
    }
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    return resource


def _get(document: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    for key, value in document.items():
        if key.lower() == lowered:
            return value
    return None


def _key(document: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    return next((k for k in document if k.lower() == lowered), None)


def _boolean(value: Any) -> bool:
    """SCIM booleans; Entra ID sends ``"True"``/``"False"`` strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInput("active must be a boolean")


def _text(value: Any, name: str, limit: int = 320) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise InvalidInput(f"{name} must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"{name} is limited to {limit} characters")
    return text or None


def user_draft(document: Any) -> UserDraft:
    """A User resource as sent (POST, PUT, or after a PATCH) → what Limen keeps."""
    if not isinstance(document, dict):
        raise InvalidInput("a User is a JSON object")
    user_name = _text(_get(document, "userName"), "userName")
    if not user_name:
        raise InvalidInput("userName is required")
    active = _get(document, "active")
    name = _get(document, "name") if isinstance(_get(document, "name"), dict) else {}
    display = _text(_get(document, "displayName"), "displayName", 200) or _text(
        _get(name, "formatted"), "name.formatted", 200
    )
    if not display and (_get(name, "givenName") or _get(name, "familyName")):
        parts = [_get(name, "givenName"), _get(name, "familyName")]
        display = " ".join(str(p) for p in parts if p)[:200] or None
    email = _primary_email(_get(document, "emails"))
    if email is None and "@" in user_name:
        email = user_name
    extension = _get(document, ENTERPRISE)
    attributes: dict[str, Any] = {}
    manager_id = None
    if isinstance(extension, dict):
        for key in _ENTERPRISE_ATTRIBUTES:
            value = _get(extension, key)
            if isinstance(value, str | int) and str(value).strip():
                attributes[key] = str(value)[:200]
        manager = _get(extension, "manager")
        if isinstance(manager, list):  # Entra ID adds the manager as a one-value list
            manager = manager[0] if manager else None
            extension[_key(extension, "manager") or "manager"] = manager
        ref = _get(manager, "value") if isinstance(manager, dict) else manager
        manager_id = str(ref) if isinstance(ref, str | int) and str(ref).strip() else None
    for key in ("title", "userType"):
        value = _get(document, key)
        if isinstance(value, str) and value.strip():
            attributes[key] = value.strip()[:200]
    kept = {
        k: v
        for k, v in document.items()
        if k.lower() not in ("id", "meta", "password", "groups", "schemas")
    }
    return UserDraft(
        user_name=user_name,
        external_id=_text(_get(document, "externalId"), "externalId", 200),
        display_name=display,
        email=email,
        active=True if active is None else _boolean(active),
        manager_id=manager_id,
        attributes=attributes,
        document=kept,
    )


def _primary_email(emails: Any) -> str | None:
    if not isinstance(emails, list):
        return None
    candidates = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]
    candidates.sort(key=lambda e: (not e.get("primary"), e.get("type") != "work"))
    for entry in candidates:
        value = entry["value"].strip().lower()
        if "@" in value and len(value) <= 320:
            return value
    return None


def group_draft(document: Any) -> GroupDraft:
    if not isinstance(document, dict):
        raise InvalidInput("a Group is a JSON object")
    name = _text(_get(document, "displayName"), "displayName", 200)
    if not name:
        raise InvalidInput("displayName is required")
    members = _get(document, "members") or []
    if not isinstance(members, list):
        raise InvalidInput("members must be a list")
    ids = []
    details: dict[str, dict[str, Any]] = {}
    for member in members:
        ref = _get(member, "value") if isinstance(member, dict) else None
        if not isinstance(ref, str):
            raise InvalidInput("each member needs a value (a User's id)")
        ref = ref.strip().lower()
        ids.append(ref)
        extra = {
            key: str(value)[:200]
            for key in ("display", "type")
            if isinstance(value := _get(member, key), str)
        }
        if extra:
            details[ref] = extra
    return GroupDraft(
        display_name=name,
        external_id=_text(_get(document, "externalId"), "externalId", 200),
        members=ids,
        member_details=details,
    )


# -- discovery (RFC 7644 §4) ------------------------------------------------------------


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://limen.dev/docs/scim",
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": MAX_BULK_OPERATIONS,
            "maxPayloadSize": MAX_BULK_PAYLOAD,
        },
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A token with the scim:write scope (limen scim token create).",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person: a human identity in Limen.",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group; it may grant Limen roles to its members.",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def _attr(
    name: str,
    type_: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    case_exact: bool = False,
    sub: list[dict[str, Any]] | None = None,
    description: str = "",
    reference_types: list[str] | None = None,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub is not None:
        attribute["subAttributes"] = sub
    if reference_types is not None:
        attribute["referenceTypes"] = reference_types
    return attribute


def _multi(name: str, *, types: list[str] | None = None) -> dict[str, Any]:
    return _attr(
        name,
        "complex",
        multi=True,
        sub=[
            _attr("value"),
            _attr("display"),
            _attr("type"),
            _attr("primary", "boolean"),
        ],
    )


def schemas(base: str) -> list[dict[str, Any]]:
    user_attributes = [
        _attr("userName", required=True, uniqueness="server"),
        _attr(
            "name",
            "complex",
            sub=[
                _attr("formatted"),
                _attr("familyName"),
                _attr("givenName"),
                _attr("middleName"),
                _attr("honorificPrefix"),
                _attr("honorificSuffix"),
            ],
        ),
        _attr("displayName"),
        _attr("nickName"),
        _attr("profileUrl", "reference", reference_types=["external"]),
        _attr("title"),
        _attr("userType"),
        _attr("preferredLanguage"),
        _attr("locale"),
        _attr("timezone"),
        _attr("active", "boolean"),
        _multi("emails"),
        _multi("phoneNumbers"),
        _multi("ims"),
        _multi("photos"),
        _attr(
            "addresses",
            "complex",
            multi=True,
            sub=[
                _attr("formatted"),
                _attr("streetAddress"),
                _attr("locality"),
                _attr("region"),
                _attr("postalCode"),
                _attr("country"),
                _attr("type"),
                _attr("primary", "boolean"),
            ],
        ),
        _attr(
            "groups",
            "complex",
            multi=True,
            mutability="readOnly",
            sub=[
                _attr("value", mutability="readOnly"),
                _attr("$ref", "reference", mutability="readOnly", reference_types=["Group"]),
                _attr("display", mutability="readOnly"),
                _attr("type", mutability="readOnly"),
            ],
        ),
        _multi("entitlements"),
        _multi("roles"),
        _multi("x509Certificates"),
    ]
    group_attributes = [
        _attr("displayName", required=True),
        _attr(
            "members",
            "complex",
            multi=True,
            sub=[
                _attr("value", mutability="immutable"),
                _attr("$ref", "reference", mutability="immutable", reference_types=["User"]),
                _attr("display", mutability="readOnly"),
                _attr("type", mutability="immutable"),
            ],
        ),
    ]
    enterprise_attributes = [
        _attr("employeeNumber"),
        _attr("costCenter"),
        _attr("organization"),
        _attr("division"),
        _attr("department"),
        _attr(
            "manager",
            "complex",
            sub=[
                _attr("value"),
                _attr("$ref", "reference", reference_types=["User"]),
                _attr("displayName", mutability="readOnly"),
            ],
        ),
    ]

    def schema(uri: str, name: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": uri,
            "name": name,
            "description": name,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{uri}"},
        }

    return [
        schema(USER_SCHEMA, "User", user_attributes),
        schema(GROUP_SCHEMA, "Group", group_attributes),
        schema(ENTERPRISE, "EnterpriseUser", enterprise_attributes),
    ]
