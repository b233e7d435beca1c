"""The vault's small parts: references, masking, templates, generator, TOTP, scope grammar."""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime

import pytest

from limen.audit import Actor
from limen.vault import (
    MASK,
    InvalidItem,
    InvalidReference,
    Masker,
    Recipe,
    Reference,
    can,
    generate,
    parse_reference,
    references_in,
    render,
    totp_code,
)


def test_references_parse_with_and_without_section_and_round_trip() -> None:
    assert parse_reference("limen://payments/stripe/credential") == Reference(
        "payments", "stripe", "credential"
    )
    ref = parse_reference("limen://payments/db%2Fprimary/Connection/host")
    assert ref == Reference("payments", "db/primary", "host", section="Connection")
    assert parse_reference(str(ref)) == ref
    for bad in ("op://a/b/c", "limen://a/b", "limen://a//c", "limen://a/b/c/d/e", ""):
        with pytest.raises(InvalidReference):
            parse_reference(bad)


def test_masking_catches_values_split_across_reads() -> None:
    masker = Masker(["s3cret-value", "tok"])
    stream = [b"before s3cr", b"et-val", b"ue middle to", b"k after", b" s3cret-valu"]
    out = b"".join(masker.feed(chunk) for chunk in stream) + masker.flush()
    assert out == b"before " + MASK + b" middle " + MASK + b" after s3cret-valu"
    assert Masker([]).feed(b"untouched") == b"untouched"


def test_masking_holds_for_any_split_of_the_stream() -> None:
    secrets = ["abcabd", "bca", "zz-top-secret"]
    text = b"xxabcabdyy bca zz-top-secret abcab abcabcabd end"
    expected = re.sub(b"abcabd|zz-top-secret|bca", MASK, text)
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, 12)))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        masker = Masker(secrets)
        assert b"".join(masker.feed(c) for c in chunks) + masker.flush() == expected


def test_templates_render_each_placeholder() -> None:
    template = "a: {{ limen://v/i/f }}\nb: {{limen://v/i/g}}\nc: {{ limen://v/i/f }}\n"
    assert references_in(template) == ["limen://v/i/f", "limen://v/i/g", "limen://v/i/f"]
    seen: list[str] = []

    def resolve(ref: str) -> str:
        seen.append(ref)
        return ref[-1].upper()

    assert render(template, resolve) == "a: F\nb: G\nc: F\n"
    assert seen == ["limen://v/i/f", "limen://v/i/g"]  # each reference resolved once


def test_generator_follows_the_recipe() -> None:
    digits = generate(Recipe(length=12, character_sets=("DIGITS",)))
    assert len(digits.value) == 12 and digits.value.isdigit()
    assert digits.entropy == pytest.approx(12 * 3.32, abs=0.1)
    mixed = generate(Recipe(length=64, exclude_characters="aeiouAEIOU0O"))
    assert not set(mixed.value) & set("aeiouAEIOU0O")
    assert set(mixed.value) & set(string.digits) and set(mixed.value) & set(string.ascii_letters)
    for bad in (Recipe(length=0), Recipe(length=65), Recipe(character_sets=("EMOJI",))):
        with pytest.raises(InvalidItem):
            generate(bad)


def test_totp_matches_the_rfc_6238_test_vector() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    at = datetime.fromtimestamp(59, UTC)
    assert totp_code(f"otpauth://totp/x?secret={secret}&digits=8", now=at) == "94287082"
    assert totp_code(secret, now=at) == "287082"
    assert totp_code("not base32 !!", now=at) is None


def test_scope_grammar() -> None:
    def actor(*scopes: str) -> Actor:
        return Actor(kind="service", name="t", scopes=frozenset(scopes))

    assert can(actor("vault:v1:read"), "v1", "read")
    assert not can(actor("vault:v1:read"), "v1", "write")
    assert not can(actor("vault:v1:read"), "v2", "read")
    assert can(actor("vault:v1:write"), "v1", "read")
    assert can(actor("vault:*:read"), "v9", "read") and not can(
        actor("vault:*:read"), "v9", "write"
    )
    assert can(actor("vault:*"), "v9", "write") and can(actor("*"), "v9", "write")
    assert not can(actor("identities:read"), "v1", "read")
