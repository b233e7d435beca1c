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

import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
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


def _watch(out: Path, every: float, trace: bool, trim: bool) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    first: tracemalloc.Snapshot | None = None
    first_types: Counter[str] | None = None
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    while True:
        time.sleep(every)
        if trim:
            libc.malloc_trim(0)
        info = libc.mallinfo2()
        objects = gc.get_objects()
        types = Counter(type(o).__qualname__ for o in objects)
        del objects
        if first_types is None:
            first_types = types
        fds = os.listdir("/proc/self/fd")
        sample: dict[str, object] = {
            "rss_kib": _rss_kib(),
            "heap_in_use": info.uordblks + info.hblkhd,
            "heap_free": info.fordblks,
            "gc_objects": types.total(),
            "threads": threading.active_count(),
            "fds": len(fds),
            "sockets": sum(1 for fd in fds if _is_socket(fd)),
            "types_grew": [
                f"{name} {count:+d}" for name, count in (types - first_types).most_common(8)
            ],
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
        ),
        name="memwatch",
        daemon=True,
    ).start()
    sys.argv = ["limen", *sys.argv[1:]]
    from limen.cli.main import main as limen

    limen()


if __name__ == "__main__":
    main()
