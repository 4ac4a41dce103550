"""Streaming views of the element losses: top/bottom K, groups, summary and histogram.

Each view is an accumulator independent of the engine: `add(...)` one chunk, `merge(other)`
another partial of the same kind (so chunks computed apart, on threads or Dask workers,
combine in a tree), `finish()` a plain JSON-ready result (Python ints and floats; non-finite
numbers stay floats for the renderer to spell). Accumulators pickle, and their memory is
bounded whatever the number of elements. An accumulator is not shared between threads: each
thread or task fills its own and the partials are merged (in chunk order, for results that do
not depend on the thread count). `draw` turns finished results into rich renderables.
"""

from .groups import Groups
from .summary import Summary
from .top import TopK

__all__ = ["Groups", "Summary", "TopK"]
