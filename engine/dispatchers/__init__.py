"""DispatcherS: route API calls to a pool of engines by dispatcher profiles (CGRateS v0.11)."""

from pycgrates.engine.dispatchers.service import DispatcherService, HostStore

__all__ = ["DispatcherService", "HostStore"]
