"""The garbage collector kept off the charging path's tail.

CPython's full collections walk every container object the process holds: with a tariff plan, caches and
compiled templates loaded, each one paused the event loop for 80–130 ms every few hundred session cycles, which is
where the worst latencies came from. What is loaded stays for the life of the process (or of the next load), so
after start-up and after each tariff-plan load the heap is collected once and everything alive is moved to the
permanent generation (``gc.freeze``): later collections only walk what the traffic allocates.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("cgr.engine")


def settle(why: str) -> None:
    """Collect once and freeze what is alive. What an earlier settle froze is unfrozen first, so the objects a new
    tariff-plan load replaced are collected, not kept for ever."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.debug("heap settled after %s: %d objects frozen in %.0f ms", why, gc.get_freeze_count(),
              (time.perf_counter() - started) * 1000)
