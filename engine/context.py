"""What every engine service is constructed with: the seams of DESIGN §2b in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.rpc.conn import ConnManager
    from pycgrates.engine.rpc.registry import Registry
    from pycgrates.engine.storage.base import StorDB
    from pycgrates.engine.storage.datamanager import DataManager


@dataclass
class EngineContext:
    cfg: Config
    dm: DataManager
    stordb: StorDB
    registry: Registry
    conns: ConnManager
    #: services by config section name ("rals", "sessions", ...), for in-process wiring only
    services: dict[str, Any] = field(default_factory=dict)
