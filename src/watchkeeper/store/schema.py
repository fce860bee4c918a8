"""The store's tables, as SQLAlchemy Core metadata: the one schema for SQLite and PostgreSQL.

Times are epoch seconds (``DOUBLE``); latencies are milliseconds (whole nanoseconds in
chunks). Raw results live in two tiers: the newest as one ``results`` row each (what the
writer appends), older ones packed many to a ``result_chunks`` row (see
:mod:`watchkeeper.store.chunks`); a check's series ride along with it in both. Migrations
under ``migrations/versions`` must produce exactly this metadata (a test compares them).
"""

from __future__ import annotations

import sqlalchemy as sa

ROLLUP_PHASES = ("total", "dns", "connect", "tls", "ttfb")
"""Phases a rollup row summarises (transfer is kept raw only)."""

ROLLUP_STATISTICS = ("p50", "p95", "p99", "max")

RESULT_PHASE_COLUMNS = ("total_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms")

ROLLUP_VALUE_COLUMNS = tuple(
    f"{phase}_{statistic}" for phase in ROLLUP_PHASES for statistic in ROLLUP_STATISTICS
)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An autoincrementing 64-bit key that is still SQLite's cheap rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

monitors = sa.Table(
    "monitors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False, server_default=""),
)

results = sa.Table(
    "results",
    metadata,
    # 8-byte columns first, then 4, then 1 and text: no alignment padding on PostgreSQL
    sa.Column("id", BigId, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False),
    *(sa.Column(name, sa.Double, nullable=True) for name in RESULT_PHASE_COLUMNS),
    # No foreign key here: the check halves PostgreSQL's ingest rate, and the writer
    # resolves or registers every monitor id itself (monitors are never deleted).
    sa.Column("monitor_id", sa.Integer, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("failures", sa.Text, nullable=True),
    sa.Column("warnings", sa.Text, nullable=True),
    sa.Column("metrics", sa.Text, nullable=True),
    sa.Index(None, "monitor_id", "ts"),
)

result_chunks = sa.Table(
    "result_chunks",
    metadata,
    sa.Column("monitor_id", sa.Integer, primary_key=True),
    sa.Column("first_ts", sa.Double, primary_key=True),
    sa.Column("last_ts", sa.Double, nullable=False),
    sa.Column("checks", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

state_changes = sa.Table(
    "state_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("from_state", sa.Text, nullable=False),
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Index(None, "monitor_id", "at"),
    sa.Index(None, "at"),
)

monitor_state = sa.Table(
    "monitor_state",
    metadata,
    sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)


def _rollup_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        *(sa.Column(column, sa.Double, nullable=True) for column in ROLLUP_VALUE_COLUMNS),
    )


rollup_1h = _rollup_table("rollup_1h")


def _packed_minutes_table(name: str) -> sa.Table:
    """Minutes of one monitor and hour, packed (see :mod:`watchkeeper.store.minutes`): only
    where raw results cannot stand in for them. A rowid table on SQLite: WITHOUT ROWID keeps
    a row of more than about a kilobyte mostly on an overflow page of its own."""
    return sa.Table(
        name,
        metadata,
        sa.Column("monitor_id", sa.Integer, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


rollup_1m = _packed_minutes_table("rollup_1m")
"""Each minute's checks, failures and latency statistics (``ROLLUP_VALUE_COLUMNS``)."""

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# -- alerting: incidents, their timelines, the durable queue of alert events, the outbox ------
incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), nullable=False),
    sa.Column("opened_at", sa.Double, nullable=False),
    sa.Column("closed_at", sa.Double, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("worst", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("cause", sa.Text, nullable=True),
    sa.Column("acked_at", sa.Double, nullable=True),
    sa.Column("acked_by", sa.Text, nullable=True),
    sa.Column("notified_at", sa.Double, nullable=True),
    sa.Column("last_notified_at", sa.Double, nullable=True),
    sa.Column("escalated_at", sa.Double, nullable=True),
    sa.Index(None, "monitor_id", "opened_at"),
    sa.Index(None, "closed_at"),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index(None, "incident_id", "at"),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("monitor", sa.Text, nullable=False),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("notification_id", BigId, nullable=True),
    sa.Column("item", sa.Text, nullable=False),
    sa.Index(None, "status", "route"),
    sa.Index(None, "incident_id"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Double, nullable=False),
    sa.Column("lease_until", sa.Double, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", sa.Double, nullable=True),
    sa.Index(None, "status", "next_attempt_at"),
)

route_health = sa.Table(
    "route_health",
    metadata,
    sa.Column("route", sa.Text, primary_key=True),
    sa.Column("broken_since", sa.Double, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_success_at", sa.Double, nullable=True),
    sa.Column("last_failure_at", sa.Double, nullable=True),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("monitor", sa.Text, nullable=True),
    sa.Column("tag", sa.Text, nullable=True),
    sa.Column("starts_at", sa.Double, nullable=False),
    sa.Column("ends_at", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_by", sa.Text, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expired_at", sa.Double, nullable=True),
    sa.Index(None, "ends_at"),
)

# -- the web: people, their sessions, API tokens, and what was defined through the API --------
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_login_at", sa.Double, nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Index(None, "expires_at"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("prefix", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_used_at", sa.Double, nullable=True),
    sa.Column("revoked_at", sa.Double, nullable=True),
)

api_monitors = sa.Table(
    "api_monitors",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
)

api_maintenance = sa.Table(
    "api_maintenance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
)

# -- heartbeats: the ping UUID of each heartbeat monitor, and every ping ------------------------
heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), primary_key=True),
    sa.Column("uuid", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.Double, nullable=False),
)

pings = sa.Table(
    "pings",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("monitor_id", sa.Integer, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("rid", sa.Text, nullable=True),
    sa.Column("duration", sa.Double, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Index(None, "monitor_id", "ts"),
)

# -- reports: a kind's structured report of one run (an audit's grade, tests and findings) ----
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("monitor_id", sa.Integer, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index(None, "monitor_id", "ts"),
)

# -- cluster: nodes sharing one PostgreSQL store, monitor leases, the alert leader ---------
cluster_nodes = sa.Table(
    "cluster_nodes",
    metadata,
    sa.Column("node", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("protocol", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("heartbeat_at", sa.Double, nullable=False),
    sa.Column("leaving", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("lag_p99", sa.Double, nullable=True),
    sa.Column("ttl", sa.Double, nullable=True),
)
"""One row per ``wk up`` node: its heartbeat in the server's clock (``heartbeat_at``)."""

cluster_leases = sa.Table(
    "cluster_leases",
    metadata,
    sa.Column("monitor", sa.Text, primary_key=True),
    sa.Column("node", sa.Text, nullable=True),
    sa.Column("token", BigId, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.Double, nullable=False, server_default="0"),
    sa.Index(None, "node"),
)
"""Which node checks each monitor, until when (server clock), and the fencing token that
grows at every change of hands."""

cluster_leader = sa.Table(
    "cluster_leader",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("node", sa.Text, nullable=True),
    sa.Column("token", BigId, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.Double, nullable=False, server_default="0"),
)
"""One row: the node that sends notifications, until when, and its fencing token."""

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("token_id", sa.Integer, nullable=True),
    sa.Column("version", sa.Text, nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("node", sa.Text, nullable=True),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("first_seen", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("clock_offset", sa.Double, nullable=True),
    sa.Column("lag_p99", sa.Double, nullable=True),
    sa.Column("checks", BigId, nullable=False, server_default="0"),
    sa.Column("pushed", BigId, nullable=False, server_default="0"),
    sa.Column("buffered", BigId, nullable=False, server_default="0"),
    sa.Column("dropped", BigId, nullable=False, server_default="0"),
    sa.Column("refused", BigId, nullable=False, server_default="0"),
)
"""One row per agent (``wk agent``): its location, when a node last heard from it (server
clock), its clock's offset, and the counts it reports (checks made, results waiting in its
disk buffer, dropped from a full one)."""

cluster_inbox = sa.Table(
    "cluster_inbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("monitor", sa.Text, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index(None, "monitor"),
)
"""Agents' results that reached a node not holding their monitor: the holder takes them at
its next beat and judges them with its other locations'."""

# -- series: the rollups of every check's numeric observations (the raw ones ride with results) --
SAMPLE_STATISTICS = ("count", "min", "max", "mean", "last")

sample_1m = _packed_minutes_table("sample_1m")
"""Each minute's ``SAMPLE_STATISTICS`` of each series."""

sample_1h = sa.Table(
    "sample_1h",
    metadata,
    sa.Column("monitor_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("bucket", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("min", sa.Double, nullable=False),
    sa.Column("max", sa.Double, nullable=False),
    sa.Column("mean", sa.Double, nullable=False),
    sa.Column("last", sa.Double, nullable=False),
    sa.Index(None, "monitor_id", "bucket"),
)

# -- error tracking: Sentry-compatible projects, issues, their newest events and counts --------
error_projects = sa.Table(
    "error_projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("public_key", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("settings", sa.Text, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
)
"""One row per project: its id is the DSN's project id. ``public_key`` is the key made for
it (None when the config gives one: a secret is never stored); ``source`` is ``config`` or
``api``; ``settings`` (JSON) are an API project's rate limit, origins and routes."""

error_issues = sa.Table(
    "error_issues",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("first_seen", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("count", BigId, nullable=False, server_default="0"),
    sa.Column("resolved_at", sa.Double, nullable=True),
    sa.Column("regressed_at", sa.Double, nullable=True),
    sa.Column("status_changed_at", sa.Double, nullable=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("users", sa.Integer, nullable=False, server_default="0"),
    sa.Column("times_regressed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="unresolved"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("culprit", sa.Text, nullable=True),
    sa.Column("type", sa.Text, nullable=True),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=True),
    sa.Column("first_release", sa.Text, nullable=True),
    sa.Column("last_release", sa.Text, nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Column("resolution_release", sa.Text, nullable=True),
    sa.Column("status_by", sa.Text, nullable=True),
    sa.UniqueConstraint("project_id", "fingerprint"),
    sa.Index(None, "project_id", "last_seen"),
    sa.Index(None, "last_seen"),
)
"""One row per issue (a group of events with one fingerprint hash in a project)."""

error_events = sa.Table(
    "error_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("issue_id", BigId, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("release", sa.Text, nullable=True),
    sa.Column("environment", sa.Text, nullable=True),
    sa.Column("user_hash", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.UniqueConstraint("project_id", "event_id"),
    sa.Index(None, "issue_id", "received_at"),
    sa.Index(None, "received_at"),
)
"""The newest events of each issue, trimmed (``body``: JSON, see ``errortrack.normalize.trim``)."""

error_issue_users = sa.Table(
    "error_issue_users",
    metadata,
    sa.Column("issue_id", BigId, primary_key=True),
    sa.Column("user_hash", sa.Text, primary_key=True),
)
"""The distinct users an issue happened to, as keyed hashes (never the identity itself)."""

error_issue_tags = sa.Table(
    "error_issue_tags",
    metadata,
    sa.Column("issue_id", BigId, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("count", BigId, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
)
"""How many of an issue's events carried each value of each tag (releases and environments
among them)."""

error_minutes = sa.Table(
    "error_minutes",
    metadata,
    sa.Column("issue_id", BigId, primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Index(None, "minute"),
)
"""Events of an issue per minute (``minute``: epoch seconds // 60), by receipt."""

error_releases = sa.Table(
    "error_releases",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("first_seen", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("events", BigId, nullable=False, server_default="0"),
    sa.Column("sessions", BigId, nullable=False, server_default="0"),
    sa.Column("crashed", BigId, nullable=False, server_default="0"),
    sa.Column("errored", BigId, nullable=False, server_default="0"),
    sa.Column("abnormal", BigId, nullable=False, server_default="0"),
)
"""Each project's releases: first and last seen (their order, for regressions), events, and
release health from sessions (crash-free = 1 - crashed / sessions)."""

error_outcomes = sa.Table(
    "error_outcomes",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),
    sa.Column("category", sa.Text, primary_key=True),
    sa.Column("outcome", sa.Text, primary_key=True),
    sa.Column("quantity", BigId, nullable=False),
)
"""What became of what SDKs sent, per project, hour (epoch seconds // 3600), category
(``error``, ``transaction``, ``session``, ``attachment``, ...) and outcome (``accepted``,
``rate_limited``, ``duplicate``, ``invalid``, ``too_large``, ``client_discarded``)."""

# -- real-user monitoring: tallies of browsers' web-vitals beacons, and the worst samples -----


def _rum_tally_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", BigId, primary_key=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("page", sa.Text, nullable=False),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("good", sa.Integer, nullable=False),
        sa.Column("needs_improvement", sa.Integer, nullable=False),
        sa.Column("poor", sa.Integer, nullable=False),
        sa.Column("histogram", sa.Text, nullable=False),
        sa.Index(None, "at"),
        sa.Index(None, "page", "metric", "at"),
    )


rum_minutes = _rum_tally_table("rum_minutes")
"""Each minute's beacons per (page group, device, metric): counts by rating and a histogram
(``rum.histogram``). Additive: several rows of one key and minute (nodes of a cluster, a
restart) sum up."""

rum_hours = _rum_tally_table("rum_hours")
"""The minutes rolled up into hours (kept for the hour retention)."""

rum_samples = sa.Table(
    "rum_samples",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("page", sa.Text, nullable=False),
    sa.Column("device", sa.Text, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("rating", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("navigation", sa.Text, nullable=False),
    sa.Column("attribution", sa.Text, nullable=True),
    sa.Index(None, "at"),
    sa.Index(None, "page", "metric", "at"),
)
"""The worst samples of each (page group, device, metric) and hour, with their attribution
(web-vitals' metric id as the key: a sample is kept once). No client address is stored."""

# -- the activity log: who changed what, when, from where (the audit trail) --------------------
activity = sa.Table(
    "activity",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index(None, "at"),
    sa.Index(None, "actor", "at"),
    sa.Index(None, "action", "at"),
)
"""One row per thing someone (a user, a token, ``cli:<unix user>``, ``system``) did:
``action`` is a dotted verb (``monitor.update``, ``login.failed``), ``outcome`` ``ok``,
``denied`` or ``failed``, ``detail`` small JSON with secrets masked. ``count`` > 1 only on
an aggregate: failed logins are one row per client address and minute (see
``watchkeeper.activity``)."""
