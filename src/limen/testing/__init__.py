"""Running Limen for real from tests and benchmarks: a free port, a ``limen server``
process (:mod:`limen.testing.server`), and faults to inject (:mod:`limen.testing.faults`)."""

from limen.testing.server import free_port, server_process

__all__ = ["free_port", "server_process"]
