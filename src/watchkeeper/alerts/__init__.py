"""Alerting: incidents, grouping, dependencies, silences, the outbox and its delivery."""
