"""Sentry-compatible error tracking: SDKs send events, Watchkeeper groups them into issues.

Stages, each a module testable alone (Sentry Relay's shape):

    keys        where an SDK puts its DSN key; DSNs; new keys
    decode      gzip / deflate / brotli bodies, decompressed with a cap (bombs are 413s)
    envelope    envelopes parsed within ``limits`` (400 malformed, 413 too large)
    limits      size limits, and per-project token buckets answered with 429s that the
                SDKs honour (``Retry-After``, ``X-Sentry-Rate-Limits``)
    ingest      one request end to end: what to answer, what to queue, what to count
    duplicates  event ids taken in lately: a second copy is answered and dropped
    normalize   reading a hostile event: bounded texts, never trusted shapes
    keep        the trimmed copy of an event that is stored for its issue's page
    grouping    which events are the same bug (a pure function: ``group_hash``)
    lifecycle   resolve, ignore, and when an event reopens a resolved issue (regression)
    batches     a batch of events grouped, counted and trimmed for the store
    projects    the projects that take events (the config's and the store's)
    service     ``ErrorTracker``: the queue, the batched writer, the listeners
    listeners   ``ErrorListener``: what hears of new and regressed issues and minute counts
    spikes      when an issue's events per minute are beyond its own baseline (pure)
    alerts      new issues, regressions and spikes queued as notifications, in the batch's
                own transaction

The store side is ``store.projects``, ``store.issues`` (reading, status, retention),
``store.issue_batches`` and ``store.issue_counts`` (what a batch writes); the HTTP side
``web.ingest`` (the SDKs' URLs) and ``web.api.errors`` (the API). Phase 2 (alerts, pages)
builds on ``ErrorTracker.listeners`` (``ErrorListener``) and the store's reads.
"""
