"""Engine configuration: CGRateS-compatible JSON config_dir loading, defaults, validation and reload."""

from pycgrates.engine.config.jsonc import JsoncError
from pycgrates.engine.config.loader import (
    Config,
    ConfigError,
    config_from_dict,
    default_config,
    diff_sections,
    load_config,
    parse_listen_address,
    reload_config,
)

__all__ = [
    "Config",
    "ConfigError",
    "JsoncError",
    "config_from_dict",
    "default_config",
    "diff_sections",
    "load_config",
    "parse_listen_address",
    "reload_config",
]
