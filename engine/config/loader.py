"""Loading a CGRateS config_dir: defaults, then every ``*.json`` under the directory in path order.

Merge rules (as CGRateS applies them): objects merge option by option; lists are replaced whole; ``rpc_conns``
and ``templates`` entries are replaced whole by name; cache partitions and DB items merge by name; agent
``request_processors``, ``http_agent``, ``ers.readers``, ``ees.exporters`` and ``loaders`` are extended across
files — an item whose ``id`` is already present is merged into that item in place, any other is appended (new
readers, exporters and loaders start from the ``*default`` one). A JSON ``null`` leaves an option unset, as Go
does. ``"*env:NAME"`` values are read from the environment. A file's top-level ``"include"`` lists files merged
just before it (``pycgrates:templates/diameter/gy_voice.json`` names shipped request processors; relative paths are
relative to the including file), so a config folder can use shipped templates without copying or linking them.

Unknown sections and options are collected as warnings (real configs carry stale options); a value of the wrong
type, an unset environment variable or malformed JSON is a :class:`ConfigError` naming file and option. What is
readable but CGRateS refuses (a number where a duration string belongs) loads, and is listed in
:attr:`Config.refused`: cgr-engine and its -check_config refuse it, tools reading a config need not.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pycgrates.engine import shipped
from pycgrates.engine.config import schema
from pycgrates.engine.config.jsonc import JsoncError, load_file
from pycgrates.engine.config.schema import ANY, BOOL, KEYED, LIST, MAP, NUMBER, OBJECT, STRING, Node
from pycgrates.engine.units import NS, DurationError, format_duration, parse_duration

__all__ = [
    "Config",
    "ConfigError",
    "config_from_dict",
    "default_config",
    "diff_sections",
    "load_config",
    "parse_listen_address",
    "reload_config",
]

DEFAULTS_FILE = Path(str(files("pycgrates.engine.config") / "defaults.json"))
#: the top-level key of a config file listing other files to merge before it (this engine's own addition)
INCLUDE = "include"
_ENV_REF = re.compile(r"\*env:([A-Za-z_][A-Za-z0-9_]*)")
_MISSING: Any = object()


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the option."""


@cache
def _defaults_and_schema() -> tuple[dict, Node]:
    try:
        defaults = load_file(DEFAULTS_FILE)
    except JsoncError as exc:  # a broken shipped file is a packaging bug, but say where
        raise ConfigError(str(exc)) from None
    return defaults, schema.build(defaults)


def defaults() -> dict:
    """A fresh copy of the built-in defaults."""
    return copy.deepcopy(_defaults_and_schema()[0])


# ---------------------------------------------------------------------------------------------------- Config


class Config:
    """A loaded configuration: ``data`` is the merged JSON, one key per section."""

    def __init__(self, data: dict, *, config_dir: Path | None = None, sources: list[Path] | None = None,
                 warnings: list[str] | None = None, env: Mapping[str, str] | None = None,
                 refused: list[str] | None = None) -> None:
        self.data = data
        self.config_dir = config_dir
        self.sources = sources or []
        self.warnings = warnings or []
        #: what CGRateS refuses although it reads (each names file, option and fix): the engine will not start
        self.refused = refused or []
        self._env = env  # None: the process environment at (re)load time

    def __repr__(self) -> str:
        return f"Config(config_dir={str(self.config_dir)!r}, sources={len(self.sources)})"

    def section(self, name: str) -> Any:
        """One section (a dict, or a list for ``http_agent``/``loaders``); KeyError for an unknown name."""
        try:
            return self.data[name]
        except KeyError:
            raise KeyError(f"no config section {name!r}") from None

    def get(self, section: str, *path: str | int, default: Any = _MISSING) -> Any:
        """The value at ``section.path...``; ``default`` when absent (KeyError without a default)."""
        node: Any = self.data.get(section, _MISSING)
        for step in path:
            if isinstance(node, dict):
                node = node.get(step, _MISSING)  # type: ignore[arg-type]
            elif isinstance(node, list) and isinstance(step, int) and -len(node) <= step < len(node):
                node = node[step]
            else:
                node = _MISSING
            if node is _MISSING:
                break
        if node is _MISSING:
            if default is _MISSING:
                raise KeyError(f"no config option {option_path((section, *path))}")
            return default
        return node

    def duration(self, section: str, *path: str | int, plain_unit: int = NS) -> int:
        """A duration option in integer nanoseconds (plain numbers count ``plain_unit``, nanoseconds by default)."""
        value = self.get(section, *path)
        try:
            return parse_duration(value, plain_unit)
        except DurationError as exc:
            raise ConfigError(f"{option_path((section, *path))}: {exc}") from None

    def listen_address(self, section: str, *path: str | int, default_host: str = "127.0.0.1") -> tuple[str, int]:
        """A ``host:port`` option as a (host, port) pair; an empty host is ``default_host``."""
        return parse_listen_address(self.get(section, *path), default_host, option=option_path((section, *path)))

    def rpc_conns(self) -> dict[str, dict]:
        """``rpc_conns`` with the built-in pools added: *internal, *birpc_internal, *localhost, *bijson_localhost."""
        conns = copy.deepcopy(self.data.get("rpc_conns") or {})
        conns.setdefault("*internal", {"strategy": "*first", "conns": [{"address": "*internal"}]})
        conns.setdefault("*birpc_internal", {"strategy": "*first", "conns": [{"address": "*birpc_internal"}]})
        for conn_id, option, transport in (("*localhost", "rpc_json", "*json"),
                                           ("*bijson_localhost", "birpc_json", "*birpc_json")):
            addr = self.get("listen", option, default="")
            if conn_id == "*bijson_localhost":
                addr = self.get("sessions", "listen_bijson", default=None) or addr
            if not addr:
                continue
            host, port = parse_listen_address(addr, option=f"listen.{option}")
            if host in ("0.0.0.0", "::"):
                host = "127.0.0.1" if host == "0.0.0.0" else "::1"
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            conns.setdefault(conn_id, {"strategy": "*first", "conns": [{"address": address, "transport": transport}]})
        return conns

    def to_json(self, section: str | None = None) -> dict:
        """What ``ConfigSv1.GetConfig`` replies: ``{section: {...}}``, or every section when none is named."""
        if not section:
            return copy.deepcopy(self.data)
        return {section: copy.deepcopy(self.section(section))}


# ---------------------------------------------------------------------------------------------------- loading


def load_config(config_dir: str | Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Defaults merged with every ``*.json`` under ``config_dir`` (a directory, searched recursively, or one file)."""
    base, root = _defaults_and_schema()
    data = copy.deepcopy(base)
    warnings: list[str] = []
    refused: list[str] = []
    sources: list[Path] = []
    directory: Path | None = None
    if config_dir is not None and str(config_dir) != "":
        directory = Path(config_dir)
        for path in _config_files(directory):
            _load_into(data, path, root, (warnings, refused), os.environ if env is None else env, sources, ())
    return Config(data, config_dir=directory, sources=sources, warnings=warnings, env=env, refused=refused)


def _read(path: Path, included_by: str = "") -> Any:
    where = f"{included_by}: include {path}" if included_by else str(path)
    try:
        return load_file(path)
    except JsoncError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None


def _load_into(data: dict, path: Path, root: Node, notes: tuple[list[str], list[str]], env: Mapping[str, str],
               sources: list[Path], chain: tuple[Path, ...], included_by: str = "") -> None:
    """One config file merged into ``data``, after the files its ``include`` list names (in order)."""
    content = _read(path, included_by)
    sources.append(path)
    if isinstance(content, dict) and INCLUDE in content:
        content = dict(content)
        for target in _includes(content.pop(INCLUDE), path):
            if target.resolve() in chain or target.resolve() == path.resolve():
                raise ConfigError(f"{path}: include {target}: includes itself")
            _load_into(data, target, root, notes, env, sources, (*chain, path.resolve()), str(path))
    _merge_file(data, content, root, _Context(str(path), *notes, env))


def _includes(raw: Any, path: Path) -> list[Path]:
    """The files an ``include`` list names: ``pycgrates:<folder>/<file>`` is shipped data, a relative path is
    relative to the including file."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        raise ConfigError(f"{path}: {INCLUDE}: expecting a list of file paths, have {raw!r}")
    out = []
    for item in raw:
        try:
            target = shipped.resolve(item)
        except shipped.ShippedDataError as exc:
            raise ConfigError(f"{path}: {INCLUDE}: {exc}") from None
        if target is None:
            target = Path(item) if Path(item).is_absolute() else path.parent / item
        out.append(target)
    return out


def config_from_dict(overrides: Mapping[str, Any], *, source: str = "<dict>",
                     env: Mapping[str, str] | None = None) -> Config:
    """The defaults with ``overrides`` merged in as if read from one file (handy in tests and tools)."""
    base, root = _defaults_and_schema()
    data = copy.deepcopy(base)
    warnings: list[str] = []
    refused: list[str] = []
    _merge_file(data, copy.deepcopy(dict(overrides)), root,
                _Context(source, warnings, refused, os.environ if env is None else env))
    return Config(data, warnings=warnings, env=env, refused=refused)


def merged_config(old: Config, overrides: Mapping[str, Any], *, source: str = "<ConfigSv1.SetConfig>") -> Config:
    """``old`` with ``overrides`` merged in as if read from one more file (``ConfigSv1.SetConfig``); ``old`` is
    left untouched."""
    _, root = _defaults_and_schema()
    data = copy.deepcopy(old.data)
    warnings: list[str] = []
    refused: list[str] = []
    env = os.environ if old._env is None else old._env
    _merge_file(data, copy.deepcopy(dict(overrides)), root, _Context(source, warnings, refused, env))
    return Config(data, config_dir=old.config_dir, sources=list(old.sources), warnings=warnings, env=old._env,
                  refused=[*old.refused, *refused])


def default_config() -> Config:
    """The built-in defaults alone."""
    return load_config(None)


def reload_config(old: Config) -> Config:
    """Read ``old``'s config_dir again (SIGHUP, ``ConfigSv1.ReloadConfig``); ``old`` is left untouched."""
    return load_config(old.config_dir, env=old._env)


def diff_sections(old: Config, new: Config) -> set[str]:
    """Names of the sections whose content differs between two configs."""
    names = set(old.data) | set(new.data)
    return {n for n in names if old.data.get(n, _MISSING) != new.data.get(n, _MISSING)}


def _config_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise ConfigError(f"{directory}: config path does not exist")
    # a *.json that is not a readable file (a dangling link, a folder) is an error when read, never skipped
    files = [p for p in directory.rglob("*.json") if not p.is_dir()]
    if not files:
        raise ConfigError(f"{directory}: no *.json config file found")
    # directory walk order: "a/x.json" sorts before "a.json", as CGRateS (filepath.Walk) reads them
    return sorted(files, key=lambda p: p.relative_to(directory).parts)


# ---------------------------------------------------------------------------------------------------- merging


class _Context:
    __slots__ = ("env", "refused", "source", "warnings")

    def __init__(self, source: str, warnings: list[str], refused: list[str], env: Mapping[str, str]) -> None:
        self.source = source
        self.warnings = warnings
        self.refused = refused
        self.env = env

    def error(self, path: tuple, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {option_path(path)}: {message}")


def option_path(path: tuple) -> str:
    """``('a', 'b', 0, 'c')`` → ``a.b[0].c``, as messages name an option."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    kind = schema._kind_of(value)
    return "object" if kind == OBJECT else kind


def _merge_file(data: dict, content: Any, root: Node, ctx: _Context) -> None:
    if not isinstance(content, dict):
        raise ConfigError(f"{ctx.source}: the top level must be an object of sections, got {_type_name(content)}")
    for name, value in content.items():
        node = root.fields.get(name)
        if node is None:
            ctx.warnings.append(f"{ctx.source}: unknown section {name}")
            continue
        data[name] = _merge(data.get(name), value, node, (name,), ctx)


def _merge(base: Any, value: Any, node: Node, path: tuple, ctx: _Context) -> Any:
    """``value`` (from a file) merged over ``base`` (what earlier files and the defaults gave), checked by ``node``."""
    if value is None:
        return None if node.nullable or node.kind == ANY else base
    if isinstance(value, str) and "*env:" in value:
        value = _resolve_env(value, node, path, ctx)
    kind = node.kind
    if kind == OBJECT:
        _expect(isinstance(value, dict), value, node, path, ctx)
        out = dict(base) if isinstance(base, dict) else {}
        for key, v in value.items():
            child = node.fields.get(key)
            if child is None:
                ctx.warnings.append(f"{ctx.source}: unknown option {option_path((*path, key))}")
                continue
            out[key] = _merge(out.get(key), v, child, (*path, key), ctx)
        return out
    if kind == MAP:
        _expect(isinstance(value, dict), value, node, path, ctx)
        out = dict(base) if isinstance(base, dict) else {}
        item = node.item or schema._A
        for key, v in value.items():
            if v is None:  # as Go leaves a null map entry unset
                continue
            previous = None if node.replace_entries else out.get(key)
            out[key] = _merge(previous, v, item, (*path, key), ctx)
        return out
    if kind == LIST:
        _expect(isinstance(value, list), value, node, path, ctx)
        item = node.item
        if item is None:
            return [_resolve_env_deep(v, (*path, i), ctx) for i, v in enumerate(value)]
        start = node.base_item
        return [_merge(copy.deepcopy(start), v, item, (*path, i), ctx) for i, v in enumerate(value)]
    if kind == KEYED:
        _expect(isinstance(value, list), value, node, path, ctx)
        out = list(base) if isinstance(base, list) else []
        item = node.item or schema._A
        for i, v in enumerate(value):
            if not isinstance(v, dict):
                raise ctx.error((*path, i), f"expected an object, got {_type_name(v)}")
            ident = v.get("id")
            at = next((j for j, o in enumerate(out) if ident is not None and isinstance(o, dict)
                       and o.get("id") == ident), None)
            if at is not None:
                out[at] = _merge(out[at], v, item, (*path, i), ctx)
            else:
                start = copy.deepcopy(node.base_item) if node.base_item is not None else None
                out.append(_merge(start, v, item, (*path, i), ctx))
        return out
    if kind == ANY:
        return _resolve_env_deep(value, path, ctx)
    _check_leaf(value, node, path, ctx)
    return value


def _expect(ok: bool, value: Any, node: Node, path: tuple, ctx: _Context) -> None:
    if not ok:
        raise ctx.error(path, f"expected {node.expected}, got {_type_name(value)}")


def _check_leaf(value: Any, node: Node, path: tuple, ctx: _Context) -> None:
    kind = node.kind
    if node.duration:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ctx.error(path, f"expected a duration string, got {_type_name(value)}")
        if isinstance(value, str):
            try:
                parse_duration(value)
            except DurationError:
                raise ctx.error(path, f"expected a duration string (such as \"90s\" or \"1h30m\"), "
                                      f"got {value!r}") from None
        else:
            ctx.refused.append(f"{ctx.source}: {option_path(path)}: expected a duration string, got the number "
                               f"{value!r} (CGRateS refuses numbers here); write {_duration_hint(value)}")
        return
    if kind == BOOL:
        ok = isinstance(value, bool)
    elif kind == NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == STRING:
        ok = isinstance(value, str)
    else:  # pragma: no cover - every leaf kind is handled above
        ok = True
    _expect(ok, value, node, path, ctx)


def _duration_hint(value: float) -> str:
    """What to write instead of a number: the duration it means (nanoseconds), or the -1/0 sentinels as text."""
    if value in (0, -1):
        return f'"{int(value)}"'
    return f'"{format_duration(int(value))}" (what the number means: nanoseconds) or the duration meant'


def _env_value(name: str, path: tuple, ctx: _Context) -> str:
    try:
        return ctx.env[name]
    except KeyError:
        raise ctx.error(path, f"environment variable {name} is not set (referenced as *env:{name})") from None


def _resolve_env(value: str, node: Node, path: tuple, ctx: _Context) -> Any:
    whole = _ENV_REF.fullmatch(value)
    if whole is None:
        return _ENV_REF.sub(lambda m: _env_value(m.group(1), path, ctx), value)
    raw = _env_value(whole.group(1), path, ctx)
    if node.kind in (STRING, ANY) or node.duration:
        return raw
    try:  # a number, boolean, list or object option given through the environment: read it as JSON
        return json.loads(raw)
    except ValueError:
        raise ctx.error(path, f"expected {node.expected}, got {raw!r} from environment variable "
                              f"{whole.group(1)}") from None


def _resolve_env_deep(value: Any, path: tuple, ctx: _Context) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: _env_value(m.group(1), path, ctx), value) if "*env:" in value else value
    if isinstance(value, list):
        return [_resolve_env_deep(v, (*path, i), ctx) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _resolve_env_deep(v, (*path, k), ctx) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------- addresses


def parse_listen_address(value: str, default_host: str = "127.0.0.1", *, option: str = "listen") -> tuple[str, int]:
    """``"host:port"`` → (host, port). An empty host (``":2012"``) is ``default_host`` (loopback: bind all
    interfaces only when written so, ``0.0.0.0:2012``); IPv6 hosts go in brackets (``[::1]:2012``)."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{option}: invalid listen address {value!r}: {why} "
                           "(use host:port, such as 127.0.0.1:2012, 0.0.0.0:2012 or [::1]:2012)")

    if not isinstance(value, str):
        raise bad(f"expected a string, got {_type_name(value)}")
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise bad("missing ']:port' after an IPv6 address")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise bad(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise bad("no port")
        if ":" in host:
            raise bad("an IPv6 address must be written in brackets")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise bad(f"port {port_text!r} is not a number from 0 to 65535")
    return (host or default_host), int(port_text)
