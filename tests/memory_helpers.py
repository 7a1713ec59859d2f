"""How much memory a piece of code keeps when it runs many times (leak checks)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable


def bytes_kept(rounds: Callable[[int], None], *, warm: int = 2_000, count: int = 20_000) -> int:
    """Bytes still allocated after ``rounds(count)``, measured after ``rounds(warm)``.

    The warm-up fills every cache first, so what is left afterwards is what leaked.
    """
    rounds(warm)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rounds(count)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
