"""engine.heap.settle: what is alive is frozen out of later collections; what a new load replaced is freed."""

from __future__ import annotations

import gc
import weakref

from pycgrates.engine.heap import settle


class Node:
    pass


def test_settle_freezes_what_is_alive_and_a_later_settle_frees_what_was_replaced():
    try:
        plan = Node()
        plan.self = plan  # a reference cycle: only the collector frees it
        alive = weakref.ref(plan)
        settle("a first load")
        assert gc.get_freeze_count() > 0
        del plan
        gc.collect()
        assert alive() is not None  # frozen: ordinary collections leave it alone
        settle("the next load")
        assert alive() is None  # unfrozen, collected, and nothing of it frozen again
    finally:
        gc.unfreeze()
