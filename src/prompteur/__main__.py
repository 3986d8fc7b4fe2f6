"""``python -m prompteur``: the same as the ``prompteur`` command."""

from .cli import main

main()
