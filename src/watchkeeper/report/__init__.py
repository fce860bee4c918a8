"""Rendering reports and findings: terminal, HTML, JSON."""
