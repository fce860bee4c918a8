"""Advisors: one module per system (postgres, redis, host), each looking at a live system and
producing Findings (``watchkeeper.findings``) with evidence numbers and a concrete fix. They
read; they never change the system they look at (no resets, no DDL outside a rolled-back
transaction)."""
