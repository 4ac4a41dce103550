"""Where tensors live: one reader module per source kind, behind one interface.

A reader opens a file lazily and returns a `LazyArray` (see `base`): its shape and dtype from
the header alone, and rows along axis 0 read on demand, so the engine can stream any size.
"""
