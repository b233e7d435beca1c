"""How Limen calls Cedar: the answers are cedarpy's own, and the resource's entity is left
out of a call only when no statement can see it."""

from __future__ import annotations

import json

import cedarpy
import pytest

from limen.access import DEFAULT_POLICIES
from limen.access._cedar import authorize
from limen.access.policies import compile_policies

POLICIES = """permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "agent" };
forbid (principal, action, resource) when { context has ip && context.ip == "203.0.113.9" };
forbid (principal, action, resource) when { context has risk && context.risk > 50 };
"""
ENTITIES = [
    {
        "uid": {"type": "Limen::Identity", "id": kind},
        "attrs": {"kind": kind, "name": kind, "status": "active", "risk": 0, "roles": []},
        "parents": [],
    }
    for kind in ("agent", "human")
]


def test_answers_are_the_ones_cedarpy_gives() -> None:
    policy_set = compile_policies([("tools", POLICIES)]).policy_set
    entities = cedarpy.Entities.from_json_str(json.dumps(ENTITIES))
    contexts = [
        {},  # the agent is permitted, the human has no policy
        {"ip": "203.0.113.9"},  # one forbid
        {"ip": "203.0.113.9", "risk": 90},  # two forbids: both named, in order
        {"risk": 10**30},  # not a 64-bit integer: Cedar cannot evaluate the request
    ]
    requests = [
        {
            "principal": {"type": "Limen::Identity", "id": who},
            "action": {"type": "Limen::Action", "id": "call"},
            "resource": {"type": "Limen::Tool", "id": "deploy"},
            "context": json.dumps(context),
        }
        for context in contexts
        for who in ("agent", "human")
    ]
    ours = authorize(requests, policy_set, entities)
    theirs = cedarpy.is_authorized_batch(requests, policy_set, entities)
    assert [a.allowed for a in ours] == [t.allowed for t in theirs]
    assert [a.reasons for a in ours] == [tuple(sorted(t.diagnostics.reasons)) for t in theirs]
    assert [a.failed for a in ours] == [t.decision == cedarpy.Decision.NoDecision for t in theirs]
    assert [a.allowed for a in ours] == [True, False, False, False, False, False, False, False]
    assert ours[4].reasons == ("tools#2", "tools#3")
    assert [a.failed for a in ours[-2:]] == [True, True]


WHEN = "permit (principal, action, resource) when "


@pytest.mark.parametrize(
    "statement",
    [
        "permit (principal, action, resource);",
        "permit (principal, action, resource is Limen::Tool);",
        'permit (principal, action, resource == Limen::Tool::"deploy");',
        WHEN + '{ resource != Limen::Tool::"shell" };',
        WHEN + "{ !(resource is Limen::Item) };",
        WHEN + "{ principal has owner && resource == principal.owner };",
        WHEN + '{ context has ip && principal.kind == "human" };',
    ],
)
def test_a_statement_that_compares_only_type_and_id_does_not_read_the_resource(
    statement: str,
) -> None:
    assert not compile_policies([*DEFAULT_POLICIES.items(), ("p", statement)]).reads_resource


@pytest.mark.parametrize(
    "statement",
    [
        'permit (principal, action, resource in Limen::Vault::"prod");',
        'permit (principal, action, resource is Limen::Item in Limen::Vault::"prod");',
        WHEN + '{ resource.type == "database" };',
        WHEN + "{ resource has properties };",
        WHEN + '{ resource in Limen::Vault::"prod" };',
        WHEN + '{ resource is Limen::Item in Limen::Vault::"prod" };',
        WHEN + "{ principal in resource };",
        WHEN + '{ [resource].contains(Limen::Tool::"x") };',
        WHEN + '{ (if context has ip then resource else principal).name == "x" };',
        WHEN + "{ resource == resource.owner };",
    ],
)
def test_a_statement_that_can_see_more_than_type_and_id_reads_the_resource(
    statement: str,
) -> None:
    quiet = ("quiet", "permit (principal, action, resource);")
    assert compile_policies([quiet, ("p", statement)]).reads_resource


def test_cedar_is_given_the_context_only_when_a_statement_names_it() -> None:
    assert not compile_policies([*DEFAULT_POLICIES.items()]).reads_context
    named = (
        "p",
        'forbid (principal, action, resource) when { context has ip && principal.kind == "x" };',
    )
    assert compile_policies([*DEFAULT_POLICIES.items(), named]).reads_context
    nested = ("p", WHEN + "{ [context].contains(context) };")
    assert compile_policies([nested]).reads_context
