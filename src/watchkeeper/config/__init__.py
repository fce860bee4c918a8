"""Configuration: ``watchkeeper.yaml`` → validated Config with compiled Monitors."""

from __future__ import annotations

from watchkeeper.config.loader import (
    DEFAULT_FILE,
    load_agent_monitors,
    load_api_maintenance,
    load_api_monitor,
    load_config,
    parse_config,
    resolve_storage,
)
from watchkeeper.config.models import (
    LOCAL,
    AgentsConfig,
    ClusterConfig,
    Config,
    Defaults,
    EngineConfig,
    MaintenanceWindow,
    Monitor,
    RetentionConfig,
    Route,
    ServerConfig,
    StatusComponent,
    StatusPage,
    is_loopback,
    split_listen,
)

__all__ = [
    "DEFAULT_FILE",
    "LOCAL",
    "AgentsConfig",
    "ClusterConfig",
    "Config",
    "Defaults",
    "EngineConfig",
    "MaintenanceWindow",
    "Monitor",
    "RetentionConfig",
    "Route",
    "ServerConfig",
    "StatusComponent",
    "StatusPage",
    "is_loopback",
    "load_agent_monitors",
    "load_api_maintenance",
    "load_api_monitor",
    "load_config",
    "parse_config",
    "resolve_storage",
    "split_listen",
]
