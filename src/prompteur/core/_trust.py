"""Planning a suite one did not write.

Loading a suite runs its Python (python assertions and providers) and reads the files its
``file://`` references name, wherever they are: right for a suite the user wrote, wrong for
a server planning a suite it was sent. Inside :func:`untrusted`, planning refuses Python
code and Python files, and reads no file outside the suite's folder (symlinks and ``..``
resolved); templates stay in Jinja2's sandbox either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from ._errors import Location, SuiteError

__all__ = ["check_code", "check_environment_key", "check_path", "check_suite_env", "untrusted"]

# the folder an untrusted suite may read under, while one is planned (None: trusted)
_ROOT: ContextVar[Path | None] = ContextVar("prompteur_untrusted_root", default=None)
_ADVICE = "refused for an untrusted suite (plan it with trusted=True only if you trust its author)"


@contextmanager
def untrusted(root: Path) -> Iterator[None]:
    """Plan in untrusted mode: files only under ``root``, no Python."""
    token = _ROOT.set(root.resolve())
    try:
        yield
    finally:
        _ROOT.reset(token)


def check_path(path: Path, referrer: Location | None = None) -> None:
    """Raise a SuiteError (at ``referrer``) when an untrusted suite may not read ``path``."""
    root = _ROOT.get()
    if root is None:
        return
    resolved = path.resolve()
    # as written (relative to the folder when it is), not where the server keeps its files
    shown = os.path.relpath(path, root) if path.is_relative_to(root) else str(path)
    if not resolved.is_relative_to(root):
        raise SuiteError(f"file {shown} is outside the suite's folder: {_ADVICE}", referrer)
    if resolved.suffix.lower() == ".py":
        raise SuiteError(f"python file {shown}: {_ADVICE}", referrer)


def check_code(what: str, where: Location | None = None) -> None:
    """Raise a SuiteError when an untrusted suite asks to run Python (``what`` names it)."""
    if _ROOT.get() is not None:
        raise SuiteError(f"{what} runs Python code: {_ADVICE}", where)


def check_environment_key(
    provider_id: str,
    api_key_envar: str | None,
    default_envar: str | None,
    env: Mapping[str, str],
    where: Location | None = None,
) -> None:
    """Raise a SuiteError when an untrusted suite would have a key from the process's
    environment read (``apiKeyEnvar`` may name any variable) or sent to a base URL of its
    own choosing (``default_envar``, when it is set)."""
    if _ROOT.get() is None:
        return
    if api_key_envar:
        raise SuiteError(
            f"provider '{provider_id}' config 'apiKeyEnvar' reads the environment: {_ADVICE}",
            where,
        )
    if default_envar and env.get(default_envar):
        raise SuiteError(
            f"provider '{provider_id}' would send {default_envar} to the suite's own "
            f"apiBaseUrl: {_ADVICE}",
            where,
        )


def check_suite_env(where: Location | None = None) -> None:
    """Raise a SuiteError when an untrusted suite sets environment variables: they would
    point the process's own keys at endpoints of its choosing (``OPENAI_BASE_URL``)."""
    if _ROOT.get() is not None:
        raise SuiteError(f"the suite's 'env' sets environment variables: {_ADVICE}", where)
