"""How long anything waits on a database that is away: set here, and only here.

While the database cannot be reached every request answers within
:data:`FAIL_FAST_SECONDS` (503 with ``Retry-After``, see ``api/problems.py``), whatever it
does on the way:

- a new connection for a lookup or an event write (the asyncio pools make them in the
  background) is waited for at most :data:`CHECKOUT_SECONDS`; only while every pooled
  connection is in use, which is a busy node and not a database away, does a request wait
  longer, up to :data:`BUSY_CHECKOUT_SECONDS` (the pools' own defaults are 30 s). A unit of
  work connects itself when SQLAlchemy's pool has no idle connection, and a refused
  connection fails at once;
- once a wait for a new connection has run out, every checkout fails at once for
  :data:`CHECKOUT_BREAK_SECONDS`, so a request that needs several connections in a row (a
  lookup, then its event write; a retry on a fresh connection) waits once, not once per
  connection;
- the change feed, which retries every half second at most, says when the database is
  away for longer (``Broadcaster.reachable``), and then nothing waits at all;
- a request that finds its node catching up after its feed reconnected waits at most
  ``identity.status.CATCH_UP_SECONDS`` (0.5 s), and only while the database is reachable.

A new connection to a server that does not answer at all (packets dropped rather than
refused) waits :data:`CONNECT_TIMEOUT_SECONDS`, libpq's least. For lookups and event
writes that wait happens in the pool's background worker, so requests still stop at the
checkout wait; a unit of work (a status change) waits it out. ``benchmarks/faults.py``
prints the slowest failed request of each fault.
"""

from __future__ import annotations

from typing import Final

FAIL_FAST_SECONDS: Final = 1.0
"""The most a request waits on a database that cannot be reached."""
CHECKOUT_SECONDS: Final = 0.4
"""The most a request waits for a pooled connection, or a new one."""
BUSY_CHECKOUT_SECONDS: Final = 2.0
"""The most a request waits while every pooled connection is in use."""
CHECKOUT_BREAK_SECONDS: Final = 0.5
"""After a checkout waited in vain, how long every checkout fails at once."""
CONNECT_TIMEOUT_SECONDS: Final = 2
"""libpq's ``connect_timeout`` (2 s is the least it takes)."""
