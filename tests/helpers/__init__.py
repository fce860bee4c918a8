"""Shared test helpers: certificates, real servers on free ports, a small DNS server."""
