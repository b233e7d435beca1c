"""How long anything waits on a database that is away: set here, and only here.

While the database cannot be reached every request answers within
:data:`FAIL_FAST_SECONDS` (503 with ``Retry-After``, see ``api/problems.py``), whatever it
does on the way:

- a request that waits for a connection for a lookup or an event write (the asyncio pools
  make new ones in the background) looks every :data:`CHECKOUT_SLICE_SECONDS` whether the
  pool has failed to connect since it began waiting, and if so answers 503: a database
  that refuses connections is away. A pool that is merely slow to connect (a loaded
  machine) or busy is waited for, up to :data:`BUSY_CHECKOUT_SECONDS` (the pools' own
  defaults are 30 s). A unit of work connects itself when SQLAlchemy's pool has no idle
  connection, and a refused connection fails at once;
- once a request gave up on a database that refuses connections, every checkout fails at
  once for :data:`CHECKOUT_BREAK_SECONDS`, so a request that needs several connections in
  a row (a lookup, then its event write; a retry on a fresh connection) waits once, not
  once per connection;
- the change feed, which retries every half second at most, says when the database is
  away for longer (``Broadcaster.reachable``), and then nothing waits at all;
- a request that finds its node catching up after its feed reconnected waits at most
  ``identity.status.CATCH_UP_SECONDS`` (0.5 s), and only while the database is reachable.

A server that stops answering at all (packets dropped rather than connections refused:
a network partition) refuses nothing, and a statement sent to it waits for TCP to give up
(minutes). Two things bound that, one per request and one for the node:

- a request gives up on its own connection: once the change feed's beat has gone
  unanswered for :data:`UNANSWERED_SECONDS`, every connection that has been in use for
  :data:`STUCK_SECONDS` or more has its socket shut down (its request answers 503), and
  for :data:`CHECKOUT_BREAK_SECONDS` every checkout fails at once; a wait for a connection
  (from a pool, or a new one being made) gives up on the same terms. The database is not
  declared away for this: a server that is only busy costs the requests it kept waiting
  that long, not the node's other connections, and requests that start later are served
  as soon as it answers;
- the node declares the database away only when a beat has gone unanswered for
  :data:`SILENT_SECONDS` (then requests fail at once, and the sockets of every connection
  in use are shut down), since a busy server on a loaded machine can leave beats
  unanswered for more than a second.

``benchmarks/faults.py`` prints the slowest failed request of each fault.
"""

from __future__ import annotations

from typing import Final

FAIL_FAST_SECONDS: Final = 1.0
"""The most a request waits on a database that cannot be reached."""
CHECKOUT_SLICE_SECONDS: Final = 0.1
"""How often a request waiting for a connection looks whether the pool failed to connect."""
BUSY_CHECKOUT_SECONDS: Final = 2.0
"""The most a request waits for a connection from a pool that is busy or slow to connect."""
CHECKOUT_BREAK_SECONDS: Final = 0.5
"""After a checkout waited in vain, how long every checkout fails at once."""
CONNECT_TIMEOUT_SECONDS: Final = 2
"""libpq's ``connect_timeout`` (2 s is the least it takes): a request that connects gives
up sooner on the terms of :data:`STUCK_SECONDS`."""
NETWORK: Final = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    # TCP's own bound for a real partition, for every connection, including those no
    # request waits on (the change feed's, the nudge sender's): data unacknowledged for
    # 5 s ends the connection (the watchdog has given up on the database at 3 s), and
    # an idle one is probed after 5 s, then every second.
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 5000,
}
"""libpq's connection parameters for reaching PostgreSQL over a network."""
UNANSWERED_SECONDS: Final = 0.4
"""A change feed whose beat has waited this long for its answer suspects a silent
database: requests stuck on it for :data:`STUCK_SECONDS` give up."""
STUCK_SECONDS: Final = 0.6
"""How long a request waits on one connection (or for one) while the database leaves
beats unanswered, before it answers 503. With a catch-up cut short by the same
suspicion, a request started at any moment of a silence answers within
:data:`FAIL_FAST_SECONDS`."""
SILENT_SECONDS: Final = 3.0
"""A change feed whose beat (every 50 ms) has not come back for this long has lost a
database that stopped answering: its connections in use are shut down. At 0.7 s a
PostgreSQL server merely busy on a loaded 2-core CI machine was taken for silent (beats
answered after 0.7-1.3 s), and live connections were shut; 3 s leaves that margin."""
