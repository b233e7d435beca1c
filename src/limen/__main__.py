"""``python -m limen``: the same as the ``limen`` command."""

from limen.cli.main import main

main()
