"""The results store's tables (schema version 1), as SQLAlchemy Core metadata.

Every run's cells are kept as rows (one per cell); prompts are stored once per content hash
and providers once per identity (model, parameters, endpoint: never a secret). JSON columns
hold structured values; timestamps are Unix seconds (floats), portable across databases.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["metadata"]

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

prompts = Table(
    "prompts",
    metadata,
    Column("id", String(32), primary_key=True),  # hash of the template text
    Column("label", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("chat", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

providers = Table(
    "providers",
    metadata,
    Column("id", String(32), primary_key=True),  # hash of the identity
    Column("provider_id", Text, nullable=False),
    Column("identity", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

suites = Table(
    "suites",
    metadata,
    Column("id", String(32), primary_key=True),  # hash of the suite's text
    Column("path", Text),
    Column("content", Text, nullable=False),  # the validated suite as JSON, secrets redacted
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("suite_id", String(32), ForeignKey("suites.id")),
    Column("suite_name", Text),  # the suite's description, else its file name
    Column("suite_path", Text),
    Column("description", Text),
    Column("status", String(16), nullable=False),  # running, finished, interrupted
    Column("fingerprint", String(64), nullable=False),  # what the plan was made of
    Column("options", JSON, nullable=False),
    Column("tool_version", String(32), nullable=False),
    Column("git_commit", String(64)),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("total_cells", Integer, nullable=False),
    Column("done", Integer, nullable=False, default=0),
    Column("passed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("duration_s", Float),  # over all its segments, when it was resumed
    # the last sign of life of the process writing the run (schema 3)
    Column("heartbeat_at", Float),
    Column("pid", Integer),
    Column("host", Text),
    # who ran it (schema 7): the signed-in user of a team server, else the local user
    Column("author", Text),
)
Index("runs_by_suite", runs.c.suite_name, runs.c.started_at)

run_prompts = Table(
    "run_prompts",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("prompt_id", String(32), ForeignKey("prompts.id"), nullable=False),
    Column("name", Text, nullable=False),  # the prompt's id in the suite (its label or text)
    Column("label", Text, nullable=False),  # how reports show it
    Column("registry_name", Text),  # a registered prompt: its name and version (schema 2)
    Column("registry_version", Integer),
)

run_providers = Table(
    "run_providers",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("provider_key", String(32), ForeignKey("providers.id"), nullable=False),
    Column("label", Text, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    # a case is its description and variables; runs share the cases they have in common
    Column("key", String(32), primary_key=True),
    Column("description", Text),
    Column("vars", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

results = Table(
    "results",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("cell_key", String(64), primary_key=True),  # prompt:provider:test:repeat positions
    Column("prompt_pos", Integer, nullable=False),
    Column("provider_pos", Integer, nullable=False),
    Column("test_pos", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("test_key", String(32), ForeignKey("cases.key"), nullable=False),
    Column("status", String(8), nullable=False),  # pass, fail, error
    Column("score", Float, nullable=False),
    Column("output", Text),
    Column("error", Text),
    Column("rendered_prompt", Text, nullable=False),
    Column("assertions", JSON, nullable=False),
    Column("latency_ms", Float),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost", Float),
    Column("finish_reason", String(32)),
    Column("model", Text),
    Column("cached", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    # what model-graded assertions cost, kept apart from the task's own (schema 2)
    Column("grader_prompt_tokens", Integer),
    Column("grader_completion_tokens", Integer),
    Column("grader_cost", Float),
)
Index("results_by_test", results.c.run_id, results.c.test_pos)

cache = Table(
    "cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("provider_id", Text, nullable=False),
    Column("completion", JSON, nullable=False),
    Column("latency_ms", Float),
    Column("created_at", Float, nullable=False),
)


# --- schema 2: the prompt registry, human ratings, cached embeddings ------------------------

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("name", Text, primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("content_hash", String(64), nullable=False),
    Column("format", String(16), nullable=False),  # text (role markers allowed) or messages
    Column("template", Text, nullable=False),
    Column("params", JSON, nullable=False),  # generation settings (from .prompty files)
    Column("defaults", JSON, nullable=False),  # input defaults (from .prompty files)
    Column("description", Text),
    Column("author", Text),
    Column("message", Text),
    Column("parent", Integer),  # the version it was made from
    Column("origin", String(16), nullable=False),  # manual, import, optimizer
    Column("created_at", Float, nullable=False),
)

prompt_labels = Table(
    "prompt_labels",
    metadata,
    Column("name", Text, primary_key=True),
    Column("label", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

prompt_label_moves = Table(
    "prompt_label_moves",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous", Integer),
    Column("author", Text),
    Column("moved_at", Float, nullable=False),
)
Index("label_moves_by_prompt", prompt_label_moves.c.name, prompt_label_moves.c.moved_at)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("cell_key", String(64), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("score", Float),
    Column("comment", Text),
    Column("author", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ratings_by_cell", ratings.c.run_id, ratings.c.cell_key, ratings.c.created_at)

embeddings = Table(
    "embeddings",
    metadata,
    Column("key", String(64), primary_key=True),  # hash of the model and the text
    Column("model", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
    Column("created_at", Float, nullable=False),
)


# --- schema 5: review queues ----------------------------------------------------------------

review_queues = Table(
    "review_queues",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("method", String(16), nullable=False),  # sample, failures, disagreements
    Column("created_by", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

review_items = Table(
    "review_items",
    metadata,
    Column(
        "queue_id",
        String(40),
        ForeignKey("review_queues.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("reviewer", Text, primary_key=True),
    Column("cell_key", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)
comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("cell_key", String(64), nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("comments_by_cell", comments.c.run_id, comments.c.cell_key)
Index("review_items_by_reviewer", review_items.c.reviewer, review_items.c.queue_id)
# the grid's filters group a run's cells by case, and search its outputs
Index("results_by_status", results.c.run_id, results.c.status)


# An optimizer search (migration 4): what it was asked, the calls charged so far (kept
# before each call, so a search killed at any moment still counts them), and its state.
optimize_searches = Table(
    "optimize_searches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("suite_path", Text),
    Column("config", JSON, nullable=False),  # suite, prompt, budget, method, seed...
    Column("status", String(16), nullable=False),  # running, interrupted, finished
    Column("charged", JSON, nullable=False),  # by role: calls, tokens, cost
    Column("state", JSON),  # candidates, curve, best so far
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
