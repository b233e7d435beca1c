"""The matching engine: positions, filters, allow markers, precedence, hostile input."""

from __future__ import annotations

from collections.abc import Callable

from limen.discovery import Engine


def ids(engine: Engine, text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [m.rule.id for m in engine.scan(data)]


def test_line_column_and_secret(engine: Engine, secret: Callable[[str], str]) -> None:
    token = secret("ghp_$[github-token]")
    (match,) = engine.scan(f"first line\n  token: {token}\n".encode())
    assert (match.rule.id, match.line, match.column, match.secret) == (
        "github-pat-classic",
        2,
        10,
        token,
    )
    assert token not in repr(match)


def test_allow_marker_suppresses_a_line(engine: Engine, secret) -> None:
    token = secret("ghp_$[github-token]")
    assert ids(engine, f"t = '{token}'  # limen:allow\n") == []
    assert ids(engine, f"t = '{token}'\n") == ["github-pat-classic"]


def test_documented_examples_and_placeholders_are_ignored(engine: Engine) -> None:
    assert ids(engine, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n") == []
    assert ids(engine, 'password = "${DB_PASSWORD}"\nAPI_KEY="<your-api-key>"\n') == []
    assert ids(engine, "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") == []


def test_specific_rule_wins_over_generic(engine: Engine, secret) -> None:
    token = secret("ghp_$[github-token]")
    assert ids(engine, f'api_token = "{token}"\n') == ["github-pat-classic"]


def test_generic_password_in_code_and_config(engine: Engine, secret) -> None:
    password = secret("$[password:18]")
    assert ids(engine, f'db_password = "{password}"\n') == ["generic-password"]
    assert ids(engine, f"DB_PASSWORD={password}\n") == ["generic-password-unquoted"]
    assert ids(engine, "password = getpass.getpass()\npassword = self.password\n") == []


def test_aws_key_id_and_secret_pair(engine: Engine, secret) -> None:
    text = secret(
        "[default]\naws_access_key_id = AKIA$[base32:16]\naws_secret_access_key = $[base64:40]\n"
    )
    assert sorted(ids(engine, text)) == ["aws-access-key-id", "aws-secret-access-key"]


def test_invalid_utf8_and_huge_lines_do_not_break_matching(engine: Engine, secret) -> None:
    token = secret("ghp_$[github-token]")
    data = b"\xff\xfe\xc3(" * 1000 + b"x" * 3_000_000 + b" " + token.encode() + b" \x80\x81"
    assert ids(engine, data) == ["github-pat-classic"]


def test_pathological_input_still_finds_secrets(engine: Engine, secret) -> None:
    # Many candidate ends for the same rule overflow the callback budget; the engine then
    # confirms whole blobs and must still find every real secret.
    noise = b"".join(b"password = 'x'\n" for _ in range(30_000))
    token = secret("ghp_$[github-token]")
    assert "github-pat-classic" in ids(engine, noise + token.encode() + b"\n")


def test_engine_survives_pickling(engine: Engine, secret) -> None:
    import pickle

    clone = pickle.loads(pickle.dumps(engine))  # noqa: S301 - our own object
    token = secret("glpat-$[base62:20]")
    assert ids(clone, token) == ["gitlab-pat"]


def test_cached_engine_loads_from_cache(tmp_path, rules, secret) -> None:
    first = Engine.cached(rules, cache_dir=tmp_path)
    assert list(tmp_path.iterdir())
    second = Engine.cached(rules, cache_dir=tmp_path)
    token = secret("xoxb-$[digits:12]-$[digits:12]-$[base62:24]")
    assert ids(first, token) == ids(second, token) == ["slack-bot-token"]
    # A corrupt cache entry falls back to compiling.
    for entry in tmp_path.iterdir():
        entry.write_bytes(b"garbage")
    assert ids(Engine.cached(rules, cache_dir=tmp_path), token) == ["slack-bot-token"]
