"""The team server's records: users and their roles, API tokens, sign-in sessions, failed
logins (for rate limiting), and the audit log of what people changed.

Passwords are kept as argon2 hashes; tokens and session ids are shown once and kept as
SHA-256 digests, so a copy of the database lets nobody sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from ..core._json import dumps
from ._errors import StoreError
from ._team_schema import api_tokens, audit_log, login_failures, sessions, users

if TYPE_CHECKING:
    from ._store import Store

__all__ = [
    "ROLES",
    "Account",
    "AuditEntry",
    "LastAdminError",
    "Team",
    "TeamError",
    "TokenInfo",
    "audit_entries",
    "record_audit",
]

ROLES = ("viewer", "reviewer", "editor", "admin")
TOKEN_PREFIX = "pt_"
SESSION_SECONDS = 7 * 24 * 3600
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD_CHARS = 8


class TeamError(StoreError):
    """A user, token or role that does not exist or cannot be made as asked."""


class LastAdminError(TeamError):
    """A change that would leave the team without an admin."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str
    created_at: float


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    user: str
    label: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


class Team:
    """The team records of a store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self._dummy_hash: str | None = None

    # --- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str) -> Account:
        if not _NAME.fullmatch(name):
            raise TeamError(
                f"'{name}' is not a user name: letters, digits, and _ . @ - (64 at most)"
            )
        _check_role(role)
        if len(password) < MIN_PASSWORD_CHARS:
            raise TeamError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
        account = Account(name, role, time.time())
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first():
                raise TeamError(f"user '{name}' exists already (set-role changes a role)")
            conn.execute(
                insert(users).values(
                    name=name,
                    password_hash=_hasher().hash(password),
                    role=role,
                    created_at=account.created_at,
                )
            )
        return account

    def users(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [Account(r.name, r.role, r.created_at) for r in rows]

    def user(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return Account(row.name, row.role, row.created_at) if row is not None else None

    def set_role(self, name: str, role: str) -> None:
        """Give a user another role; the team's last admin keeps theirs."""
        _check_role(role)
        with self.engine.begin() as conn:
            if role != "admin":
                _keep_an_admin(conn, name, "demote")
            done = conn.execute(update(users).where(users.c.name == name).values(role=role))
            if not done.rowcount:
                raise TeamError(f"no user '{name}'")

    def remove_user(self, name: str) -> None:
        """Remove a user with their tokens and sessions; what they did stays audited. The
        team's last admin stays."""
        with self.engine.begin() as conn:
            _keep_an_admin(conn, name, "remove")
            for table in (api_tokens, sessions):
                conn.execute(delete(table).where(table.c.user_name == name))
            if not conn.execute(delete(users).where(users.c.name == name)).rowcount:
                raise TeamError(f"no user '{name}'")

    def check_password(self, name: str, password: str) -> Account | None:
        """The account, if ``password`` is its password. An unknown name costs the same
        time as a wrong password, so that names cannot be told apart by timing."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        hasher = _hasher()
        if row is None:
            self._dummy_hash = self._dummy_hash or hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
        else:
            stored = row.password_hash
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return Account(row.name, row.role, row.created_at) if row is not None else None

    # --- API tokens ----------------------------------------------------------------------------

    def create_token(self, user: str, label: str | None = None) -> tuple[TokenInfo, str]:
        """A new token for ``user``: its record, and the token itself, which is shown once
        and never stored."""
        if self.user(user) is None:
            raise TeamError(f"no user '{user}' (add one with 'prompteur users add')")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, user, label, time.time(), None, None)
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    id=token_id,
                    user_name=user,
                    secret_hash=_digest(secret),
                    label=label,
                    created_at=info.created_at,
                )
            )
        return info, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = select(api_tokens).order_by(api_tokens.c.created_at)
        if user is not None:
            query = query.where(api_tokens.c.user_name == user)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            TokenInfo(r.id, r.user_name, r.label, r.created_at, r.last_used_at, r.revoked_at)
            for r in rows
        ]

    def revoke_token(self, token_id: str, *, user: str | None = None) -> None:
        """Revoke a token (``user``: only if it is theirs)."""
        query = update(api_tokens).where(
            (api_tokens.c.id == token_id) & api_tokens.c.revoked_at.is_(None)
        )
        if user is not None:
            query = query.where(api_tokens.c.user_name == user)
        with self.engine.begin() as conn:
            if not conn.execute(query.values(revoked_at=time.time())).rowcount:
                raise TeamError(f"no live token '{token_id}'")

    def token_account(self, token: str) -> Account | None:
        """The account a token signs in, unless it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or "_" not in token[len(TOKEN_PREFIX) :]:
            return None
        token_id, secret = token[len(TOKEN_PREFIX) :].split("_", 1)
        # read as the grid reads (one round trip): every request of a script pays it
        with self.store.read_engine.connect() as conn:
            row = conn.execute(
                select(api_tokens.c.secret_hash, api_tokens.c.last_used_at, users)
                .join(users, users.c.name == api_tokens.c.user_name)
                .where((api_tokens.c.id == token_id) & api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        now = time.time()
        if row.last_used_at is None or now - row.last_used_at > 60:  # a write a minute at most
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
                )
        return Account(row.name, row.role, row.created_at)

    # --- sessions ------------------------------------------------------------------------------

    def create_session(self, user: str, seconds: float = SESSION_SECONDS) -> tuple[str, str]:
        """A new session for ``user``: its id (for the cookie) and its CSRF token."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            conn.execute(
                insert(sessions).values(
                    id_hash=_digest(session_id),
                    user_name=user,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + seconds,
                )
            )
        return session_id, csrf

    def session(self, session_id: str) -> tuple[Account, str] | None:
        """The account and CSRF token of a live session."""
        with self.store.read_engine.connect() as conn:
            row = conn.execute(
                select(sessions.c.csrf_token, users)
                .join(users, users.c.name == sessions.c.user_name)
                .where(
                    (sessions.c.id_hash == _digest(session_id))
                    & (sessions.c.expires_at > time.time())
                )
            ).first()
        if row is None:
            return None
        return Account(row.name, row.role, row.created_at), row.csrf_token

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == _digest(session_id)))

    # --- failed logins -------------------------------------------------------------------------

    def login_failed(self, *subjects: str) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < now - 86_400))
            conn.execute(insert(login_failures), [{"subject": s, "at": now} for s in subjects])

    def recent_failures(self, subject: str, seconds: float) -> tuple[int, float | None]:
        """How many logins failed for ``subject`` within ``seconds``, and the oldest of them."""
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(login_failures.c.at)).where(
                    (login_failures.c.subject == subject)
                    & (login_failures.c.at > time.time() - seconds)
                )
            ).one()
        return int(count), oldest

    def clear_failures(self, subject: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.subject == subject))


def _keep_an_admin(conn: Connection, name: str, doing: str) -> None:
    """Refuse to take the admin role from the last user who has it: nobody could then
    manage users, nor give it back, from the server."""
    # the admins' rows locked (PostgreSQL; SQLite's writers are serialised already), so two
    # admins demoting each other at once cannot both pass
    admins = conn.execute(
        select(users.c.name).where(users.c.role == "admin").with_for_update()
    ).scalars()
    found = set(admins)
    if found == {name}:
        raise LastAdminError(
            f"cannot {doing} '{name}': the team's last admin (make another admin first)"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise TeamError(f"unknown role '{role}' (one of {', '.join(ROLES)})")


# --- the audit log ------------------------------------------------------------------------------


def record_audit(
    store: Store, actor: str, action: str, target: str, detail: dict[str, Any]
) -> None:
    """Keep who did what to which target: every rating, label move and deletion."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(audit_log).values(
                at=time.time(),
                actor=actor,
                action=action,
                target=target,
                # through prompteur's JSON, so values JSON has no place for are kept readably
                detail=orjson.loads(dumps(detail)),
            )
        )


def audit_entries(
    store: Store,
    *,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    before: int | None = None,
) -> list[AuditEntry]:
    """The audit log, newest first; ``before`` pages back from an entry's id."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, dict(r.detail)) for r in rows]
