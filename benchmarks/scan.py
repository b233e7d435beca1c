"""Secret-scanning benchmark: Limen against Kingfisher, Betterleaks and detect-secrets.

Builds a labelled corpus from real source text on this machine (the Python standard
library and site-packages ``.py`` files, copied until ``--size-mb`` is reached), plants
credentials of every family at known lines (some inside existing source files, some in
new ``.env``/YAML/JSON/INI files), adds realistic decoys (documented example keys,
placeholders, hashes, UUIDs, base64 blobs, public keys, tokens with bad checksums), then
runs every tool on the same tree in one run and prints throughput, wall clock, peak
memory, precision and recall.

Scoring: a planted credential is *found* when a tool reports any line inside its span;
a reported (file, line) is a *true positive* when it falls inside a planted span, and a
*false positive* otherwise (decoys, and anything a tool flags in the untouched source).
The planted secrets are generated here from the providers' published formats, not from
Limen's rule files, so Limen gets no home advantage from its own examples.

Speed is the wall time of the whole command, start-up included, as a user or a
pre-commit hook feels it: every tool runs on the same tree in the same run, alternated,
at several sizes (``--sizes``: 0 means a folder holding one file), and each figure is the
median of ``--repeat`` runs. A last scenario times a ``--staged`` scan of one changed file
in a git repository. Targets: at least 2x the faster of Kingfisher and Betterleaks at
60 MB and above, 200 ms or less for one file and for ``--staged``.

detect-secrets runs at well under 1 MB/s, so when asked for (``--tools``) it scans only
the first ``--detect-secrets-mb`` of the largest corpus and is scored against the labels
in that part.

Usage::

    python benchmarks/scan.py                        # one file, 5, 60 and 200 MB, staged
    python benchmarks/scan.py --sizes 0,5,60         # quicker
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import string
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _table import print_table

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
B32 = string.ascii_uppercase + "234567"


@dataclass
class Planted:
    path: str
    first_line: int
    last_line: int
    family: str
    kind: str


# --- credential generators (formats from the providers' documentation) --------------------


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def github(self, prefix: str = "ghp_") -> str:
        body = self.s(B62, 30)
        value = zlib.crc32(body.encode())
        digits = ""
        while value:
            value, rem = divmod(value, 62)
            digits = B62[rem] + digits
        return prefix + body + digits.rjust(6, "0")

    def password(self) -> str:
        if self.rng.random() < 0.3:
            words = ["Harbor", "Maple", "Orbit", "Falcon", "Cobalt", "Juniper", "Quartz", "Velvet"]
            return (
                f"{self.rng.choice(words)}-{self.rng.choice(words)}-{self.rng.randrange(10, 99)}!"
            )
        core = self.s(string.ascii_letters + string.digits + "!*+-.=?^_~", self.rng.randint(11, 21))
        return core + self.rng.choice(string.ascii_uppercase) + self.rng.choice(string.digits)

    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        choice = self.rng.random()
        if choice < 0.15:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            fmt = serialization.PrivateFormat.TraditionalOpenSSL
        elif choice < 0.6:
            key = ec.generate_private_key(ec.SECP256R1())
            fmt = serialization.PrivateFormat.PKCS8
        else:
            key = ed25519.Ed25519PrivateKey.generate()
            fmt = serialization.PrivateFormat.OpenSSH
        return key.private_bytes(
            serialization.Encoding.PEM, fmt, serialization.NoEncryption()
        ).decode()

    def jwt(self) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "sub": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "role": "service_role",
            "iat": 1_700_000_000 + self.rng.randrange(10**7),
        }
        return f"{header}.{b64(json.dumps(claims).encode())}.{b64(self.rng.randbytes(32))}"


def credentials(g: Gen) -> list[tuple[str, str, Callable[[], list[str]]]]:
    """(family, kind, make lines) for every planted credential type."""
    r = g.rng
    return [
        (
            "ai",
            "openai",
            lambda: [f'OPENAI_API_KEY = "sk-proj-{g.s(B64URL, 74)}T3BlbkFJ{g.s(B64URL, 74)}"'],
        ),
        ("ai", "anthropic", lambda: [f"ANTHROPIC_API_KEY=sk-ant-api03-{g.s(B64URL, 93)}AA"]),
        ("ai", "huggingface", lambda: [f'hf_token = "hf_{g.s(string.ascii_letters, 34)}"']),
        ("ai", "google-ai", lambda: [f"GEMINI_API_KEY=AIza{g.s(B64URL, 35)}"]),
        ("ai", "groq", lambda: [f'client = Groq(api_key="gsk_{g.s(B62, 52)}")']),
        ("ai", "replicate", lambda: [f"REPLICATE_API_TOKEN=r8_{g.s(B62, 37)}"]),
        ("ai", "mistral", lambda: [f'MISTRAL_API_KEY = "{g.s(B62, 32)}"']),
        ("ai", "cohere", lambda: [f"COHERE_API_KEY={g.s(B62, 40)}"]),
        (
            "cloud",
            "aws-pair",
            lambda: [
                "[default]",
                f"aws_access_key_id = AKIA{g.s(B32, 16)}",
                f"aws_secret_access_key = {g.s(B64, 40)}",
            ],
        ),
        (
            "cloud",
            "gcp-service-account",
            lambda: json.dumps(
                {
                    "type": "service_account",
                    "project_id": f"prod-{g.s(string.ascii_lowercase, 6)}",
                    "private_key_id": g.s(HEX, 40),
                    "private_key": g.pem(),
                    "client_email": "deployer@prod.iam.gserviceaccount.com",
                },
                indent=2,
            ).splitlines(),
        ),
        (
            "cloud",
            "azure-storage",
            lambda: [
                "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acme"
                f"{g.s(string.ascii_lowercase, 5)};AccountKey={g.s(B64, 86)}=="
                ";EndpointSuffix=core.windows.net"
            ],
        ),
        ("scm", "github-classic", lambda: [f"GITHUB_TOKEN={g.github()}"]),
        (
            "scm",
            "github-fine-grained",
            lambda: [f'token = "github_pat_11{g.s(B32, 20)}_{g.s(B62, 59)}"'],
        ),
        ("scm", "gitlab", lambda: [f"GITLAB_TOKEN=glpat-{g.s(B62, 20)}"]),
        ("ci", "npm", lambda: [f"//registry.npmjs.org/:_authToken=npm_{g.s(B62, 36)}"]),
        ("ci", "pypi", lambda: [f"password = pypi-AgEIcHlwaS5vcmc{g.s(B64URL, 140)}"]),
        ("ci", "docker", lambda: [f"DOCKERHUB_TOKEN=dckr_pat_{g.s(B64URL, 27)}"]),
        (
            "chat",
            "slack-bot",
            lambda: [
                f'SLACK_BOT_TOKEN = "xoxb-{g.s(string.digits, 12)}-{g.s(string.digits, 13)}-'
                f'{g.s(B62, 24)}"'
            ],
        ),
        (
            "chat",
            "slack-webhook",
            lambda: [
                f"url = 'https://hooks.slack.com/services/T{g.s(B32, 10)}/B{g.s(B32, 10)}/"
                f"{g.s(B62, 24)}'"
            ],
        ),
        (
            "chat",
            "discord-webhook",
            lambda: [
                "DISCORD_WEBHOOK=https://discord.com/api/webhooks/"
                f"{g.s(string.digits, 18)}/{g.s(B64URL, 68)}"
            ],
        ),
        (
            "chat",
            "telegram",
            lambda: [f'bot = telebot.TeleBot("{r.randrange(10**8, 10**9)}:AA{g.s(B64URL, 33)}")'],
        ),
        ("payment", "stripe", lambda: [f'stripe.api_key = "sk_live_{g.s(B62, 99)}"']),
        ("chat", "sendgrid", lambda: [f"SENDGRID_API_KEY=SG.{g.s(B64URL, 22)}.{g.s(B64URL, 43)}"]),
        (
            "database",
            "postgres-uri",
            lambda: [f'DATABASE_URL = "postgresql://app:{g.password()}@db.internal:5432/app"'],
        ),
        (
            "database",
            "mongodb-uri",
            lambda: [
                f"MONGO_URI=mongodb+srv://svc:{g.s(B62, 20)}@cluster0."
                f"{g.s(string.ascii_lowercase, 5)}.mongodb.net/prod"
            ],
        ),
        ("keys", "private-key", lambda: g.pem().strip().splitlines()),
        ("keys", "jwt", lambda: [f'SUPABASE_SERVICE_ROLE_KEY = "{g.jwt()}"']),
        ("generic", "password-code", lambda: [f'    db_password = "{g.password()}"']),
        ("generic", "password-config", lambda: [f"DB_PASSWORD={g.password()}"]),
        ("generic", "password-yaml", lambda: [f"  password: {g.password()}"]),
        ("generic", "secret-key", lambda: [f'SECRET_KEY = "{g.s(B64, 48)}"']),
        ("generic", "api-key", lambda: [f'    api_key = "{g.s(B62, 32)}"']),
    ]


def decoys(g: Gen) -> list[Callable[[], list[str]]]:
    """Lines that look like credentials and are not."""
    return [
        lambda: ["aws_access_key_id = AKIAIOSFODNN7EXAMPLE"],
        lambda: ["aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
        lambda: ['OPENAI_API_KEY = "sk-your-openai-api-key-here"'],
        lambda: ['API_KEY = "<your-api-key>"'],
        lambda: ['password = "changeme"'],
        lambda: ["DB_PASSWORD=${DB_PASSWORD}"],
        lambda: ['password = os.environ["DB_PASSWORD"]'],
        lambda: ["GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        lambda: [f"GITHUB_TOKEN=ghp_{g.s(B62, 36)}"],  # right shape, wrong checksum
        lambda: [f'sha256 = "{g.s(HEX, 64)}"'],
        lambda: [f'commit_sha = "{g.s(HEX, 40)}"'],
        lambda: [f'etag = "{g.s(HEX, 32)}"'],
        lambda: [f'request_id = "{uuid.UUID(int=g.rng.getrandbits(128))}"'],
        lambda: [f'tenant_id = "{uuid.UUID(int=g.rng.getrandbits(128))}"'],
        lambda: [f'ICON_PNG = "iVBORw0KGgo{g.s(B64, g.rng.randrange(200, 600))}"'],
        lambda: [f'blob = base64.b64decode("{g.s(B64, 120)}==")'],
        lambda: [
            "-----BEGIN PUBLIC KEY-----",
            *(g.s(B64, 64) for _ in range(3)),
            "-----END PUBLIC KEY-----",
        ],
        lambda: [f'token_type = "Bearer"  # see {g.s(string.ascii_lowercase, 8)}'],
        lambda: ['DATABASE_URL = "postgresql://user:password@localhost:5432/app"'],
    ]


# --- corpus -------------------------------------------------------------------------------


def source_files() -> list[tuple[Path, Path]]:
    """(file, path to copy it to) for every source file, with no hidden directories."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    purelib = Path(sysconfig.get_paths()["purelib"])
    files: set[tuple[Path, Path]] = set()
    for root, label in ((stdlib, "stdlib"), (purelib, "site-packages")):
        for path in root.rglob("*.py"):
            if root == stdlib and purelib in path.parents:
                continue
            parts = set(path.parts)
            # Test suites are full of real-looking test keys: counting them as "false
            # positives" would punish every tool for being right, so they stay out.
            if parts & {"test", "tests", "testing"} or not path.is_file():
                continue
            files.add((path, Path(label) / path.relative_to(root)))
    return sorted(files)


def build_corpus(out: Path, size: int, rng: random.Random) -> tuple[list[Planted], int, int]:
    g = Gen(rng)
    files = source_files()
    written = 0
    copies: list[Path] = []
    round_ = 0
    while written < size:
        for src, rel in files:
            dest = out / f"copy{round_}" / rel
            try:
                data = src.read_bytes()
            except OSError:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            copies.append(dest)
            written += len(data)
            if written >= size:
                break
        round_ += 1
    kinds = credentials(g)
    fakes = decoys(g)
    n_secrets = max(len(kinds) * 2, size // 100_000)
    planted: list[Planted] = []
    inserts: dict[Path, list[list[str]]] = {}
    labels: dict[Path, list[tuple[int, str, str]]] = {}
    n_config = 0
    for i in range(n_secrets):
        family, kind, make = kinds[i % len(kinds)]
        lines = make()
        if rng.random() < 0.5:
            target = rng.choice(copies)
        else:
            n_config += 1
            suffix = rng.choice([".env", "settings.yaml", "config.json", "app.ini", "secrets.toml"])
            target = rng.choice(copies).parent / f"planted{n_config}{suffix}"
        inserts.setdefault(target, []).append(lines)
        labels.setdefault(target, []).append((len(inserts[target]) - 1, family, kind))
    decoy_targets: dict[Path, list[list[str]]] = {}
    for _ in range(n_secrets // 2):
        decoy_targets.setdefault(rng.choice(copies), []).append(rng.choice(fakes)())
    for target in set(inserts) | set(decoy_targets):
        original = (
            target.read_text(encoding="utf-8", errors="replace").splitlines()
            if target.exists()
            else []
        )
        blocks = [(lines, True, idx) for idx, lines in enumerate(inserts.get(target, []))]
        blocks += [(lines, False, -1) for lines in decoy_targets.get(target, [])]
        rng.shuffle(blocks)
        # Insert each block at a random line boundary; track final positions.
        positions = sorted(rng.randrange(len(original) + 1) for _ in blocks)
        result: list[str] = []
        cursor = 0
        meta = {idx: (fam, kind) for idx, fam, kind in labels.get(target, [])}
        for (lines, is_secret, idx), pos in zip(blocks, positions, strict=True):
            result.extend(original[cursor:pos])
            cursor = pos
            start = len(result) + 1
            result.extend(lines)
            if is_secret:
                fam, kind = meta[idx]
                planted.append(Planted(str(target.relative_to(out)), start, len(result), fam, kind))
        result.extend(original[cursor:])
        target.write_text("\n".join(result) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return planted, total, n_secrets // 2


# --- tools --------------------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    seconds: float
    peak_mb: float
    hits: set[tuple[str, int]]
    cpu: float
    error: str = ""


def timed(cmd: list[str], *, cwd: Path, stdout_path: Path) -> tuple[float, float, str, float]:
    """Run ``cmd`` in a wrapper reporting wall time, CPU time of the whole process tree and
    the peak RSS of its largest process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "with open(sys.argv[1], 'wb') as out:\n"
        "    p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE)\n"
        "dt = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "sys.stderr.write(p.stderr.decode(errors='replace')[-2000:])\n"
        "print(dt, u.ru_maxrss, p.returncode, u.ru_utime + u.ru_stime)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, str(stdout_path), *cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds, rss_kb, rc, cpu = done.stdout.split()
    err = "" if rc in {"0", "1", "200"} else f"exit {rc}: {done.stderr.strip()[-300:]}"
    return float(seconds), int(rss_kb) / 1024, err, float(cpu)


def compile_limen() -> None:
    """Write Limen's bytecode, as ``pip install`` does; an editable install may lack it.

    (With PYTHONDONTWRITEBYTECODE set, as on the development machines, every run would
    otherwise compile Limen's modules from source: about 30 ms of each start-up.)
    """
    import limen

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(limen.__file__).parent)],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _limen() -> list[str]:
    found = shutil.which("limen", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "limen.cli.scan"]


def run_limen(corpus: Path, work: Path, jobs: int) -> Run:
    out = work / "limen.jsonl"
    # The whole `limen scan` command, as users and hooks run it.
    cmd = [
        *_limen(),
        "scan",
        ".",
        "--no-ignore",
        "--format",
        "jsonl",
        "-q",
        "--exit-code",
        "0",
        "--jobs",
        str(jobs),
        "--max-size",
        "50MB",
    ]
    seconds, peak, err, cpu = timed(cmd, cwd=corpus, stdout_path=out)
    hits = set()
    for line in out.read_text().splitlines():
        row = json.loads(line)
        hits.add((os.path.normpath(row["path"]), int(row["line"])))
    return Run("limen", seconds, peak, hits, cpu, err)


def run_kingfisher(corpus: Path, work: Path, jobs: int) -> Run:
    out = work / "kingfisher.jsonl"
    cmd = [
        "kingfisher",
        "scan",
        ".",
        "--format",
        "jsonl",
        "--no-validate",
        "-q",
        "--no-dedup",
        "--git-history",
        "none",
        "--jobs",
        str(jobs),
        "--no-update-check",
    ]
    seconds, peak, err, cpu = timed(cmd, cwd=corpus, stdout_path=out)
    if "unexpected argument '--no-update-check'" in err:
        cmd.remove("--no-update-check")
        seconds, peak, err, cpu = timed(cmd, cwd=corpus, stdout_path=out)
    return Run("kingfisher", seconds, peak, parse_jsonl(out), cpu, err)


def run_betterleaks(corpus: Path, work: Path, jobs: int) -> Run:
    out = work / "betterleaks.jsonl"
    cmd = [
        "betterleaks",
        "fs",
        ".",
        "--no-banner",
        "--jsonl",
        "-o",
        "-",
        "--exit-code",
        "0",
        "--max-target-megabytes",
        "50",
        "-l",
        "error",
    ]
    seconds, peak, err, cpu = timed(cmd, cwd=corpus, stdout_path=out)
    return Run("betterleaks", seconds, peak, parse_jsonl(out), cpu, err)


def parse_jsonl(out: Path) -> set[tuple[str, int]]:
    """(path, line) of every finding in Kingfisher's or Betterleaks' JSON Lines output.

    Kingfisher puts ``path``/``line`` on the finding; Betterleaks nests a ``location``
    with ``start_line``/``end_line``. Multi-line findings count every line they cover.
    """
    hits: set[tuple[str, int]] = set()
    for line in out.read_text(errors="replace").splitlines():
        try:
            finding = json.loads(line).get("finding", {})
        except ValueError:
            continue
        location = finding.get("location") or finding
        path = location.get("path")
        first = location.get("start_line") or location.get("line")
        if not path or not first:
            continue
        last = location.get("end_line") or first
        for n in range(int(first), int(last) + 1):
            hits.add((os.path.normpath(path), n))
    return hits


def run_detect_secrets(corpus: Path, work: Path, subset: list[Path]) -> Run:
    out = work / "detect-secrets.json"
    listing = work / "detect-secrets-files.txt"
    listing.write_text("\n".join(str(p) for p in subset))
    cmd = ["detect-secrets", "scan", "--all-files", *map(str, subset)]
    seconds, peak, err, cpu = timed(cmd, cwd=corpus, stdout_path=out)
    hits = set()
    try:
        results = json.loads(out.read_text()).get("results", {})
    except ValueError:
        results = {}
    for path, rows in results.items():
        for row in rows:
            hits.add((os.path.normpath(path), int(row["line_number"])))
    return Run("detect-secrets", seconds, peak, hits, cpu, err)


# --- scoring ------------------------------------------------------------------------------


def score(
    run: Run, planted: list[Planted], scope: set[str] | None
) -> tuple[float, float, int, int]:
    spans: dict[str, list[Planted]] = {}
    for p in planted:
        if scope is None or p.path in scope:
            spans.setdefault(p.path, []).append(p)
    found: set[int] = set()
    tp = fp = 0
    for path, line in run.hits:
        if scope is not None and path not in scope:
            continue
        hit = [p for p in spans.get(path, ()) if p.first_line <= line <= p.last_line]
        if hit:
            tp += 1
            found.update(id(p) for p in hit)
        else:
            fp += 1
    total = sum(len(v) for v in spans.values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = len(found) / total if total else 0.0
    return precision, recall, tp, fp


def one_file_corpus(out: Path, rng: random.Random) -> tuple[list[Planted], int]:
    """A folder holding one source file with one planted credential."""
    g = Gen(rng)
    lines = ["import os", "", "def main():", "    print('hello')", ""]
    secret = f"GITHUB_TOKEN = '{g.github()}'"
    lines.insert(1, secret)
    (out / "app.py").write_text("\n".join(lines) + "\n")
    return [Planted("app.py", 2, 2, "scm", "github-classic")], (out / "app.py").stat().st_size


def staged_repo(out: Path, rng: random.Random) -> None:
    """A git repository with history and one staged change holding no credential."""
    git = ["git", "-C", str(out), "-c", "user.name=b", "-c", "user.email=b@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    for i in range(20):
        (out / f"module{i}.py").write_text(f"VALUE_{i} = {rng.randrange(10**6)}\n" * 50)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    (out / "module3.py").write_text((out / "module3.py").read_text() + "DEBUG = True\n")
    subprocess.run([*git, "add", "module3.py"], check=True)


def staged_commands(repo: Path) -> dict[str, list[str]]:
    return {
        "limen": [*_limen(), "scan", "--staged", "-q"],
        "kingfisher": [
            "kingfisher", "scan", str(repo), "--staged", "--no-validate", "-q",
            "--no-update-check",
        ],
        "betterleaks": ["betterleaks", "git", "--staged", "--no-banner", "-l", "error", "."],
    }  # fmt: skip


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,5,60,200", help="corpus sizes in MB; 0 is one file")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--detect-secrets-mb",
        type=float,
        default=5,
        help="detect-secrets scans only this much of the largest corpus (0: all)",
    )
    parser.add_argument("--tools", default="limen,kingfisher,betterleaks")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the corpora")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each tool per size, interleaved; the median counts (10 for one file "
        "and for --staged, which are short)",
    )
    args = parser.parse_args()
    compile_limen()
    tools = args.tools.split(",")
    runners = {"limen": run_limen, "kingfisher": run_kingfisher, "betterleaks": run_betterleaks}
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="limen-bench-"))
    env_cache = Path(tempfile.mkdtemp(prefix="limen-bench-cache-"))
    os.environ["XDG_CACHE_HOME"] = str(env_cache)  # Limen's rule cache, as a user has it
    summary: list[tuple[str, str, str]] = []
    header = (
        f"{'tool':<15}{'MB':>8}{'wall s':>9}{'MB/s':>9}{'CPU s':>8}"
        f"{'peak MB':>9}{'precision':>11}{'recall':>8}{'TP':>7}{'FP':>6}"
    )
    sizes = [float(x) for x in args.sizes.split(",") if x.strip()]
    for size_mb in sizes:
        corpus = work / f"corpus-{size_mb:g}"
        if corpus.exists():
            shutil.rmtree(corpus)
        corpus.mkdir(parents=True)
        rng = random.Random(args.seed)
        t = time.perf_counter()
        if size_mb == 0:
            planted, total = one_file_corpus(corpus, rng)
            n_decoys = 0
        else:
            planted, total, n_decoys = build_corpus(corpus, int(size_mb * 1e6), rng)
        n_files = sum(1 for p in corpus.rglob("*") if p.is_file())
        label = "one file" if size_mb == 0 else f"{total / 1e6:.0f} MB"
        print(
            f"\n== {label}: {total / 1e6:.1f} MB in {n_files} files, {len(planted)} planted "
            f"credentials ({len({p.kind for p in planted})} kinds), {n_decoys} decoys; built in "
            f"{time.perf_counter() - t:.0f}s",
            flush=True,
        )
        for p in corpus.rglob("*"):  # warm the page cache for every tool alike
            if p.is_file():
                p.read_bytes()
        repeat = max(args.repeat, 10) if size_mb == 0 else max(1, args.repeat)
        samples: dict[str, list[Run]] = {}
        for name, runner in runners.items():  # warm-up: Limen's rule cache, binaries
            if name in tools:
                runner(corpus, work, args.jobs)
        for _ in range(repeat):
            # Interleaved, so a burst of load on the machine hits every tool alike.
            for name, runner in runners.items():
                if name in tools:
                    samples.setdefault(name, []).append(runner(corpus, work, args.jobs))
        runs: list[tuple[Run, set[str] | None, int]] = []
        for got in samples.values():
            ordered = sorted(got, key=lambda r: r.seconds)
            runs.append((ordered[len(ordered) // 2], None, total))
        if "detect-secrets" in tools and size_mb == max(sizes):
            files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
            random.Random(args.seed).shuffle(files)
            limit = args.detect_secrets_mb * 1e6 if args.detect_secrets_mb else float("inf")
            subset: list[Path] = []
            size = 0
            for rel in files:
                if size >= limit:
                    break
                subset.append(rel)
                size += (corpus / rel).stat().st_size
            scope = {os.path.normpath(str(p)) for p in subset}
            runs.append((run_detect_secrets(corpus, work, subset), scope, size))
        print(header)
        print("-" * len(header))
        walls: dict[str, float] = {}
        for run, scope, size in runs:
            precision, recall, tp, fp = score(run, planted, scope)
            walls[run.tool] = run.seconds
            print(
                f"{run.tool:<15}{size / 1e6:>8.1f}{run.seconds:>9.3f}"
                f"{size / 1e6 / run.seconds:>9.1f}{run.cpu:>8.2f}{run.peak_mb:>9.0f}"
                f"{precision:>11.3f}{recall:>8.3f}{tp:>7}{fp:>6}"
                + (f"  ERROR {run.error}" if run.error else "")
            )
            if run.tool == "limen" and size_mb > 0:
                summary.append(
                    (
                        f"limen precision / recall, {label}",
                        f"{precision:.3f} / {recall:.3f}",
                        "≥ 0.98",
                    )
                )
        peers = [walls[t] for t in ("kingfisher", "betterleaks") if t in walls]
        if "limen" in walls and peers:
            ratio = min(peers) / walls["limen"]
            target = "≥ 2x" if size_mb >= 60 else ""
            summary.append((f"faster peer's wall time / limen's, {label}", f"{ratio:.2f}x", target))
        if size_mb == 0 and "limen" in walls:
            summary.append(
                ("limen scan of one file, median", f"{walls['limen'] * 1000:.0f} ms", "≤ 200 ms")
            )
        if args.show_misses:
            show_misses(runs, planted, corpus)
        if not args.keep and args.work_dir is None:
            shutil.rmtree(corpus, ignore_errors=True)

    repo = work / "staged"
    repo.mkdir(parents=True, exist_ok=True)
    staged_repo(repo, random.Random(args.seed))
    commands = {k: v for k, v in staged_commands(repo).items() if k in tools}
    for cmd in commands.values():
        wall(cmd, repo)
    staged: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(max(args.repeat, 10)):
        for name, cmd in commands.items():
            staged[name].append(wall(cmd, repo))
    print("\n== --staged, one changed file (median of runs)")
    medians = {name: sorted(v)[len(v) // 2] for name, v in staged.items()}
    for name, value in medians.items():
        print(f"{name:<15}{value * 1000:>8.0f} ms")
    if "limen" in medians:
        summary.append(
            ("limen scan --staged, median", f"{medians['limen'] * 1000:.0f} ms", "≤ 200 ms")
        )
        for name in ("kingfisher", "betterleaks"):
            if name in medians:
                summary.append(
                    (f"{name} --staged / limen", f"{medians[name] / medians['limen']:.2f}x", "")
                )
    print_table(summary)
    print(f"jobs: {args.jobs}, cores: {os.cpu_count()}, median of {args.repeat} runs per size")
    if not args.keep and args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(env_cache, ignore_errors=True)


def show_misses(
    runs: list[tuple[Run, set[str] | None, int]], planted: list[Planted], corpus: Path
) -> None:
    for run, scope, _ in runs:
        spans = [p for p in planted if scope is None or p.path in scope]
        missed = [
            p
            for p in spans
            if not any((p.path, n) in run.hits for n in range(p.first_line, p.last_line + 1))
        ]
        kinds: dict[str, int] = {}
        for p in missed:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        print(f"{run.tool} missed: {dict(sorted(kinds.items()))}")
        fps = sorted(
            h
            for h in run.hits
            if (scope is None or h[0] in scope)
            and not any(p.path == h[0] and p.first_line <= h[1] <= p.last_line for p in spans)
        )
        for path, line in fps[:15]:
            text = (corpus / path).read_text(errors="replace").splitlines()[line - 1][:110]
            print(f"   FP {path}:{line}: {text}")


if __name__ == "__main__":
    main()
