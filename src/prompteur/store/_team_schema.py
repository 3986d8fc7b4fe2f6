"""The team server's tables (schema 6): users, API tokens, sessions, failed logins and
the audit log. Secrets are never stored: passwords as argon2 hashes, tokens and session
ids as SHA-256 digests (they are long random strings, so a fast digest is enough)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from ._schema import metadata

__all__ = ["TEAM_TABLES", "api_tokens", "audit_log", "login_failures", "sessions", "users"]

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # viewer, reviewer, editor, admin
    Column("created_at", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),  # the token's public part, shown by `list`
    Column("user_name", String(64), ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("label", Text),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", Text, nullable=False),  # "user:NAME" or "addr:IP"
    Column("at", Float, nullable=False),
)
Index("login_failures_by_subject", login_failures.c.subject, login_failures.c.at)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", JSON, nullable=False),
)
Index("audit_by_time", audit_log.c.at)

TEAM_TABLES = (users, api_tokens, sessions, login_failures, audit_log)
