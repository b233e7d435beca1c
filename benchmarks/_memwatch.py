"""Run ``limen`` with its memory watched: ``python benchmarks/_memwatch.py server …``.

Every ``MEMWATCH_EVERY`` seconds (60) a thread in the process appends one JSON line to
``MEMWATCH_OUT``: resident memory, what glibc's allocator holds in use and free
(``mallinfo2``), Python objects the collector tracks (and the types whose count grew
most since the first sample), threads and open file descriptors (sockets among them);
with ``MEMWATCH_TRACEMALLOC=1`` also the bytes ``tracemalloc`` traces and the lines whose
allocations grew most since the first sample; with ``MEMWATCH_TRIM=1`` it first hands
free heap memory back to the system (``malloc_trim(0)``). ``benchmarks/soak.py
--watch`` starts its nodes this way, to tell Python objects from native memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
import types
from collections import Counter
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _is_socket(fd: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        return False


_TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def _socket_kinds(fds: list[str]) -> dict[str, int]:
    """The open sockets by kind: TCP by state and remote port, unix, other."""
    inodes: dict[str, str] = {}
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/self/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[2].rsplit(":", 1)[1], 16)
                inodes[fields[9]] = f"tcp {_TCP_STATES.get(fields[3], fields[3])} to :{port}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/net/unix").read_text().splitlines()[1:]:
            inodes[line.split()[6]] = "unix"
    kinds: Counter[str] = Counter()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            kinds[inodes.get(target[8:-1], "socket (other)")] += 1
    return dict(kinds)


def _describe(obj: object) -> str:
    """What an object is, in a few words: a function by its qualified name, a bound
    built-in by its owner's type, an ORM instance state by its instance's type."""
    kind = type(obj).__qualname__
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, types.BuiltinFunctionType | types.MethodType):
        owner = getattr(obj, "__self__", None)
        return f"{kind} {type(owner).__qualname__}.{obj.__name__}"
    if kind in ("InstanceState", "AttributeState"):
        target = getattr(obj, "obj", None) or getattr(getattr(obj, "state", None), "obj", None)
        instance = target() if callable(target) else None
        return f"{kind} of {type(instance).__qualname__}"
    return kind


def _held_by(obj: object, depth: int, skip: set[int]) -> str:
    """A chain of what holds ``obj``: its first referrer that is not a frame or one of
    ours, ``depth`` steps up."""
    chain = []
    current = obj
    for _ in range(depth):
        holder = None
        for r in gc.get_referrers(current):
            if id(r) not in skip and not isinstance(r, types.FrameType):
                holder = r
                break
        if holder is None:
            break
        current = holder
        del holder
        chain.append(_describe(current))
    return " <- ".join(chain)


def _new_objects(objects: list[object], first_ids: set[int]) -> dict[str, list[str]]:
    """For the objects made since the first sample (by ``id``), what they are, and for the
    types that grew most, what holds a few of them."""
    new = [o for o in objects if id(o) not in first_ids]
    described = Counter(_describe(o) for o in new)
    grown_types = Counter(type(o).__qualname__ for o in new)
    skip = {id(objects), id(new)}
    held: Counter[str] = Counter()
    for name, _count in grown_types.most_common(6):
        picked = [o for o in new if type(o).__qualname__ == name][-5:]
        for o in picked:
            held[f"{_describe(o)} <- {_held_by(o, 3, skip | {id(picked)})}"] += 1
        del picked
    return {
        "new_described": [f"{k} {v:+d}" for k, v in described.most_common(25)],
        "new_held_by": [f"{v} x {k}" for k, v in held.most_common(30)],
    }


def _collect_garbage() -> tuple[int, dict[str, object]]:
    """A full collection, and what it found unreachable: how many objects, of which
    types, which database connections (open or closed), and the sockets it freed."""
    sockets_before = sum(1 for fd in os.listdir("/proc/self/fd") if _is_socket(fd))
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
    kinds = Counter(type(o).__qualname__ for o in found)
    connections = Counter(
        f"{type(o).__module__}.{type(o).__qualname__} "
        f"{'closed' if getattr(o, 'closed', None) else 'open'}"
        for o in found
        if type(o).__qualname__ in ("Connection", "AsyncConnection", "PGconn")
    )
    pools = Counter(
        f"{type(o).__module__}.{type(o).__qualname__}"
        for o in found
        if "Pool" in type(o).__qualname__ or type(o).__qualname__ == "_ConnectionRecord"
    )
    count = len(found)
    del found
    gc.collect()
    sockets_after = sum(1 for fd in os.listdir("/proc/self/fd") if _is_socket(fd))
    return count, {
        "garbage_types": [f"{k} {v}" for k, v in kinds.most_common(12)],
        "garbage_connections": [f"{k} {v}" for k, v in connections.most_common()],
        "garbage_pools": [f"{k} {v}" for k, v in pools.most_common()],
        "sockets_freed": sockets_before - sockets_after,
    }


def _watch(out: Path, every: float, trace: bool, trim: bool, collect: bool) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    first: tracemalloc.Snapshot | None = None
    first_types: Counter[str] | None = None
    first_ids: set[int] | None = None
    deep = os.environ.get("MEMWATCH_NEW") == "1"
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    while True:
        time.sleep(every)
        if trim:
            libc.malloc_trim(0)
        garbage = None
        if collect:
            garbage, held = _collect_garbage()
        info = libc.mallinfo2()
        objects = gc.get_objects()
        kinds = Counter(type(o).__qualname__ for o in objects)
        new: dict[str, list[str]] = {}
        if deep:
            if first_ids is None:
                first_ids = {id(o) for o in objects}
            else:
                new = _new_objects(objects, first_ids)
        del objects
        if first_types is None:
            first_types = kinds
        fds = os.listdir("/proc/self/fd")
        sample: dict[str, object] = {
            "rss_kib": _rss_kib(),
            "heap_in_use": info.uordblks + info.hblkhd,
            "heap_free": info.fordblks,
            "gc_objects": kinds.total(),
            "garbage": garbage,
            **(held if collect else {}),
            "threads": threading.active_count(),
            "fds": len(fds),
            "sockets": sum(1 for fd in fds if _is_socket(fd)),
            "socket_kinds": _socket_kinds(fds),
            "types_grew": [
                f"{name} {count:+d}" for name, count in (kinds - first_types).most_common(8)
            ],
            **new,
        }
        if trace:
            snapshot = tracemalloc.take_snapshot().filter_traces(ignore)
            sample["traced"] = tracemalloc.get_traced_memory()[0]
            if first is None:
                first = snapshot
            else:
                sample["grew"] = [
                    f"{stat.size_diff / 1024:+.1f} KiB {stat.count_diff:+d} "
                    f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}"
                    for stat in snapshot.compare_to(first, "lineno")[:8]
                ]
        with out.open("a") as sink:
            sink.write(json.dumps(sample) + "\n")


def main() -> None:
    trace = os.environ.get("MEMWATCH_TRACEMALLOC") == "1"
    if trace:
        tracemalloc.start(1)
    threading.Thread(
        target=_watch,
        args=(
            Path(os.environ["MEMWATCH_OUT"]),
            float(os.environ.get("MEMWATCH_EVERY", "60")),
            trace,
            os.environ.get("MEMWATCH_TRIM") == "1",
            os.environ.get("MEMWATCH_COLLECT") == "1",
        ),
        name="memwatch",
        daemon=True,
    ).start()
    sys.argv = ["limen", *sys.argv[1:]]
    from limen.cli.main import main as limen

    limen()


if __name__ == "__main__":
    main()
