"""The commented config ``wk init`` writes. It must always pass ``wk validate``."""

from __future__ import annotations

EXAMPLE = """\
# watchkeeper.yaml — what Watchkeeper watches, and how.
# Check it with `wk validate`, run every monitor once with `wk check`, start with `wk up`.
# After an edit, `wk reload` applies it to the running `wk up` (or start it with --watch).
#
# Durations: 250ms 30s 5m 1h30m 14d.  Sizes: 512B 64KiB 1MiB.
# Secrets: ${VAR}, ${VAR:-default} or ${file:/run/secrets/name}; never printed or stored.

# Where results are kept: a SQLite file beside this config, or PostgreSQL.
storage: sqlite:///watchkeeper.db
# storage: postgresql://watchkeeper@db.internal/watchkeeper

server:
  listen: 127.0.0.1:8844          # dashboard, API, /metrics and /healthz

retention: {raw: 14d, minute: 90d, hour: 3y}

# Every monitor inherits these unless it sets its own.
defaults:
  interval: 30s                   # how often to check
  timeout: 10s                    # per check; a slow phase is reported by name
  confirm: 2                      # failures in a row before a monitor is down
  recover: 2                      # successes in a row before it is up again
  retry_interval: 10s             # re-check sooner while confirming either way
  # notify: [ops]                 # the routes every monitor tells (a monitor may add its own)

# Where notifications go: named routes. A monitor tells those its notify: names and those in
# defaults' notify: above. Uncomment, keep each secret in the environment, then try one with
# wk notify test ops
# notify:
#   - name: ops                   # any Apprise URL: Slack, Discord, Teams, e-mail, ntfy...
#     apprise: "slack://${SLACK_TOKEN}/#ops"
#     group_wait: 30s             # changes within this time go out as one message
#   - name: hook                  # a signed JSON POST of each notification
#     webhook: https://hooks.example.com/watchkeeper
#     secret: ${HOOK_SECRET}

monitors:
  # HTTP: status, latency (and dns/connect/tls/ttfb), body, json.<path>, header.<name>
  - name: website
    http: https://example.com/
    expect: ["status == 200", "latency < 1s", "body contains 'Example Domain'"]
    tags: [web]
    public: true

  - name: api-health
    http:
      url: https://example.com/health
      method: GET
      headers: {Accept: application/json}
      follow_redirects: 5         # or true (10) / false
      max_body: 1MiB
    expect:
      - "status in 200..299"
      - "json.status == 'ok'"     # fails cleanly if the body is not JSON
      - "ttfb < 800ms"
    depends_on: [website]
    tags: [api]
    anomaly: on                   # degraded while its latency drifts from its usual

  # TLS certificate: days left, issuer, hostname and chain
  - name: website-cert
    tls: example.com:443
    interval: 1h
    expect: ["cert.expires_in > 14d"]

  # DNS: the answers a resolver gives
  - name: website-dns
    dns: {name: example.com, type: A}
    expect: ["dns.answers contains '93.184.215.14'"]
    interval: 5m

  # TCP: a port that should accept connections (and an optional banner)
  - name: mail
    tcp: mail.example.com:25
    expect: ["tcp.banner contains 'ESMTP'"]
    paused: true                  # kept in the file, not checked

  # Backups: the newest file's age, size and format (pg_restore --list, gzip -t, ...), and
  # a weekly restore drill into a scratch PostgreSQL cluster that is always removed after
  # (`wk drill app-db-backup` runs one now; `wk drill report` is the evidence)
  # - name: app-db-backup
  #   backup:
  #     path: /var/backups/app/*.dump
  #     max_age: 26h
  #     drill: {every: 7d, tables: [orders], rto: 30m}
"""
