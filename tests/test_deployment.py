"""docs/deployment.md: the documented nginx configuration, as written, in front of a real
``limen server`` with ``LIMEN_FORWARDED_ALLOW_IPS``.

Only what cannot be the same on a test machine is replaced: the listening address (a free
port instead of 443), the certificate paths (a certificate made here) and Limen's port.
The client connects from 127.0.0.2, so the address Limen records can only have come from
what nginx forwarded.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from limen.testing import free_port, server_process
from tests.respond._waiting import wait_for

DOC = Path(__file__).resolve().parents[1] / "docs" / "deployment.md"
CLIENT_ADDRESS = "127.0.0.2"  # Linux routes all of 127/8 to the loopback interface

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None, reason="needs nginx (Debian: apt-get install nginx-light)"
)


def _documented_server_block() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "docs/deployment.md should show one nginx configuration"
    return blocks[0]


def _certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it: (CA, chain, key) files."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, *, ca: bool,
              signer: ec.EllipticCurvePrivateKey) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = build("test CA", ca_key, ca_name, ca=True, signer=ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = build("127.0.0.1", key, ca_name, ca=False, signer=ca_key)
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "fullchain.pem", directory / "privkey.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@contextmanager
def _nginx(block: str, directory: Path) -> Iterator[None]:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / name).mkdir()
    # The documented block goes into a minimal http context of its own.
    (directory / "nginx.conf").write_text(
        f"""pid {directory}/nginx.pid;
events {{}}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{block}
}}
"""
    )
    log = directory / "nginx.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["nginx", "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr",
             "-g", "daemon off;"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert "[emerg]" not in log.read_text(), log.read_text()


def test_the_documented_nginx_configuration_in_front_of_limen(tmp_path: Path) -> None:
    ca, chain, key = _certificate(tmp_path)
    limen_port, public_port = free_port(), free_port()
    block = _documented_server_block()
    for documented, here in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{public_port} ssl;"),
        ("/etc/ssl/limen/fullchain.pem", str(chain)),
        ("/etc/ssl/limen/privkey.pem", str(key)),
        ("http://127.0.0.1:8270", f"http://127.0.0.1:{limen_port}"),
    ):
        assert documented in block, documented
        block = block.replace(documented, here)

    data = tmp_path / "data"
    env = {**os.environ, "LIMEN_DATA_DIR": str(data)}
    init = [sys.executable, "-m", "limen", "init", "--json"]
    token = json.loads(subprocess.run(init, env=env, check=True, capture_output=True).stdout)
    env["LIMEN_FORWARDED_ALLOW_IPS"] = "127.0.0.1"
    public = f"https://127.0.0.1:{public_port}"
    env["LIMEN_PUBLIC_URL"] = public  # as the documented command sets it
    trust = ssl.create_default_context(cafile=str(ca))
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=trust)
    with (
        server_process(env, output=tmp_path / "limen.log", port=limen_port),
        _nginx(block, tmp_path),
        httpx.Client(base_url=public, transport=transport, timeout=10) as client,
    ):
        wait_for(lambda: _answers(client))
        metadata = client.get("/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == public
        assert metadata["token_endpoint"] == f"{public}/oauth2/token"

        # A client that claims another address in X-Forwarded-For gets its own recorded.
        headers = {
            "Authorization": f"Bearer {token['admin_token']}",
            "X-Forwarded-For": "203.0.113.66",
        }
        created = client.post(
            "/v1/identities", json={"kind": "service", "name": "via-proxy"}, headers=headers
        )
        assert created.status_code == 201, created.text
        events = client.get(
            "/v1/events", params={"action": "identity.create"}, headers=headers
        ).json()["items"]
        recorded = next(e for e in events if e["resource"]["name"] == "via-proxy")
        assert recorded["context"]["ip"] == CLIENT_ADDRESS


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False
