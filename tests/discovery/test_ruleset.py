"""Rules as data: every rule's own examples, and the loader's checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from random import Random

import pytest

from limen.discovery import Engine, Rule, RuleError, expand_example, load_rules

_RULES = load_rules()


def test_at_least_150_credential_types_across_families() -> None:
    assert len(_RULES) >= 150
    families = Counter(rule.family for rule in _RULES)
    for family in ("ai", "cloud", "scm", "ci", "chat", "payment", "database", "keys", "generic"):
        assert families[family] > 0, family
    providers = {rule.provider for rule in _RULES}
    for provider in (
        "OpenAI",
        "Anthropic",
        "Hugging Face",
        "Google",
        "Mistral AI",
        "Cohere",
        "Groq",
        "Replicate",
        "AWS",
        "Google Cloud",
        "Microsoft",
        "GitHub",
        "GitLab",
        "Bitbucket",
        "Slack",
        "Discord",
        "Telegram",
        "Stripe",
    ):
        assert provider in providers, provider


@pytest.mark.parametrize("rule", _RULES, ids=lambda r: r.id)
def test_rule_examples(rule: Rule, engine: Engine) -> None:
    rng = Random(rule.id)
    for template in rule.examples:
        text = expand_example(template, rng)
        found = [m.rule.id for m in engine.scan(text.encode())]
        assert rule.id in found, f"positive example not found: {template!r} -> {found}"
    for template in rule.negative_examples:
        text = expand_example(template, rng)
        found = [m.rule.id for m in engine.scan(text.encode())]
        assert rule.id not in found, f"negative example matched: {template!r}"


def test_examples_are_templates_not_literal_secrets() -> None:
    # A positive example must get its entropy from a generator, never from the file.
    for rule in _RULES:
        for template in rule.examples:
            assert "$[" in template, rule.id


def test_every_rule_has_a_keyword_and_a_description() -> None:
    for rule in _RULES:
        assert rule.keywords and rule.description and rule.provider


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[rule]]
id = "acme-key"
provider = "Acme"
description = "Acme API key"
pattern = '''(?P<secret>acme_[a-z0-9]{20})'''
keywords = ["acme_"]
examples = ['ACME=acme_$[lower:20]']
"""


def test_custom_rule_file_loads_and_matches(tmp_path: Path, rng: Random) -> None:
    (rule,) = load_rules([_write(tmp_path, GOOD)])
    assert rule.family == "custom"
    match = Engine([rule]).scan(expand_example(rule.examples[0], rng).encode())
    assert [m.rule.id for m in match] == ["acme-key"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('keywords = ["acme_"]', "keywords = []"), "keywords"),
        (lambda t: t.replace("[a-z0-9]{20})", "[a-z0-9]{20}"), "does not compile"),
        (lambda t: t + 'validator = "nope"\n', "unknown validator"),
        (lambda t: t.replace("$[lower:20]", "$[nope:20]"), "unknown example generator"),
        (lambda t: t + t, "defined twice"),
        (lambda t: t.replace('id = "acme-key"', 'id = "Acme Key"'), "id must be"),
        (lambda t: t.replace("examples = ", "exemples = "), "unknown keys"),
        (lambda t: t.replace("(?P<secret>", "("), "non-capturing"),
        (lambda t: t + "[[[", "not valid TOML"),
    ],
)
def test_malformed_rule_files_raise_rule_error(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        load_rules([_write(tmp_path, change(GOOD))])


def test_missing_rule_file_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        load_rules([tmp_path / "absent.toml"])
