"""ConfigSv1: reading the running configuration and reloading it over RPC."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pycgrates.engine.config.checks import config_problems
from pycgrates.engine.config.loader import Config, ConfigError, load_config, merged_config
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, server_error
from pycgrates.engine.rpc.registry import rpc

#: Section names meaning "every section" in ReloadConfig.
ALL_SECTIONS = ("", "*all")


class ConfigService:
    """``ConfigSv1.GetConfig`` and ``ConfigSv1.ReloadConfig``.

    ``current`` returns the Config in use; ``reload(section)`` is the engine's coroutine that re-reads the
    config_dir and tells the services of changed sections ("" means every section). When a request names another
    directory (``Path``), it is passed as a second argument: ``reload(section, path)``. ``check`` lists what the
    engine refuses in a configuration that loads (the engine passes its own; the config checks by default).
    """

    def __init__(self, current: Callable[[], Config], reload: Callable[..., Awaitable[Any]],
                 check: Callable[[Config], list[str]] = config_problems,
                 apply: Callable[[Config], Awaitable[Any]] | None = None) -> None:
        self._current = current
        self._reload = reload
        self._check = check
        self._apply = apply

    @rpc("ConfigSv1.GetConfig")
    async def get_config(self, args: Any) -> dict:
        """``{"Section": "general"}`` → ``{"general": {...}}``; an empty Section gives the whole config."""
        section = _text(args, "Section")
        cfg = self._current()
        if section and section not in cfg.data:
            raise RPCError(NOT_FOUND)
        return cfg.to_json(section or None)

    @rpc("ConfigSv1.ReloadConfig")
    async def reload_config(self, args: Any) -> str:
        """``{"Path": dir, "Section": name, "DryRun": bool}``: validate the files, then apply unless DryRun."""
        section = _text(args, "Section")
        path = _text(args, "Path")
        dry_run = bool(args.get("DryRun")) if isinstance(args, dict) else False
        cfg = self._current()
        if section not in ALL_SECTIONS and section not in cfg.data:
            raise RPCError(NOT_FOUND)
        directory = path or (str(cfg.config_dir) if cfg.config_dir is not None else "")
        if not directory:
            raise server_error("no config_dir to reload from (the engine runs on defaults); give Path")
        try:
            problems = self._check(load_config(directory))
        except ConfigError as exc:
            raise server_error(exc) from None
        if problems:
            raise server_error(problems[0])
        if dry_run:
            return "OK"
        target = "" if section == "*all" else section
        same_dir = not path or (cfg.config_dir is not None and Path(path).resolve() == Path(cfg.config_dir).resolve())
        try:
            result = self._reload(target) if same_dir else self._reload(target, path)
            if inspect.isawaitable(result):
                await result
        except ConfigError as exc:  # the files changed between the check above and the engine's read
            raise server_error(exc) from None
        return "OK"


    @rpc("ConfigSv1.GetConfigAsJSON")
    async def get_config_as_json(self, args: Any) -> str:
        """``{"Section": name}`` → ``{section: {...}}`` as JSON text (CGRateS's utils.ToJSON: tab-indented, keys
        sorted); every section when Section is empty or ``*all``."""
        section = _text(args, "Section")
        cfg = self._current()
        if section in ALL_SECTIONS:
            data = cfg.to_json(None)
        elif section in cfg.data:
            data = cfg.to_json(section)
        else:
            raise RPCError("Invalid section")
        text = json.dumps(data, indent="\t", sort_keys=True, ensure_ascii=False)
        # Go's encoder escapes these for HTML; they only occur inside strings
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    @rpc("ConfigSv1.SetConfig")
    async def set_config(self, args: Any) -> str:
        """``{"Config": {section: {...}}, "DryRun": bool}``: merge the sections into the running configuration
        (as one more config file would), check it, then apply unless DryRun."""
        config = args.get("Config") if isinstance(args, dict) else None
        if config is not None and not isinstance(config, dict):
            raise server_error("Config must be an object of sections")
        return await self._set(config or {}, bool(args.get("DryRun")) if isinstance(args, dict) else False)

    @rpc("ConfigSv1.SetConfigFromJSON")
    async def set_config_from_json(self, args: Any) -> str:
        """``{"Config": "<JSON text of sections>", "DryRun": bool}``: as SetConfig."""
        text = _text(args, "Config")
        if not text:
            return "OK"
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise server_error(f"Config is not JSON: {exc}") from None
        if not isinstance(config, dict):
            raise server_error("Config must be a JSON object of sections")
        return await self._set(config, bool(args.get("DryRun")))

    async def _set(self, config: dict, dry_run: bool) -> str:
        if not config:
            return "OK"
        try:
            new_cfg = merged_config(self._current(), config)
        except ConfigError as exc:
            raise server_error(exc) from None
        problems = [*new_cfg.refused, *self._check(new_cfg)]
        if problems:
            raise server_error(problems[0])
        if dry_run:
            return "OK"
        if self._apply is None:
            raise server_error("this engine cannot apply a configuration over RPC")
        try:
            await self._apply(new_cfg)
        except ConfigError as exc:
            raise server_error(exc) from None
        return "OK"


def _text(args: Any, key: str) -> str:
    if not isinstance(args, dict):
        return ""
    value = args.get(key)
    return value if isinstance(value, str) else ""
