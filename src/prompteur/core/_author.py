"""Who is at the keyboard, for what a person does through the CLI or the API on their
machine: runs, ratings, comments, prompt versions, audit entries."""

from __future__ import annotations

import getpass
import os
import subprocess

__all__ = ["default_author"]


def default_author() -> str | None:
    """$PROMPTEUR_AUTHOR, else git's user.name, else the login name (None without one)."""
    if os.environ.get("PROMPTEUR_AUTHOR"):
        return os.environ["PROMPTEUR_AUTHOR"]
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no $USER and no password entry for the uid
        return None
