"""The one error type and the one warning type of losscalc.

`LossError` is anything the user can fix (a bad tensor, a bad option, a shape that does not
fit); the CLI turns it into exit code 2 with its message. `warn` emits a `LossWarning`, which
the CLI prints on stderr and a library caller sees as an ordinary Python warning.
"""

import contextvars
import warnings
from contextlib import contextmanager


class LossError(ValueError):
    """A problem with the user's input: exit code 2, the message shown as it is."""


class LossWarning(UserWarning):
    """Something PyTorch computes anyway but that is probably a mistake, or is deprecated."""


#: The messages of `warn` held back in this thread, instead of being emitted (see `held`).
_HELD: contextvars.ContextVar[list | None] = contextvars.ContextVar("held_warnings", default=None)


def warn(message: str) -> None:
    held = _HELD.get()
    if held is not None:
        held.append(message)
    else:
        warnings.warn(message, LossWarning, stacklevel=3)


@contextmanager
def held():
    """Hold back the warnings `warn` emits in this thread: the list of their messages. The
    local engine's worker threads hold a chunk's, for the consumer to say in chunk order; a
    chunk run by blocks holds the blocks', and runs whole again if any would warn, so that
    the warning says what the chunk says, whatever the output."""
    token = _HELD.set([])
    try:
        yield _HELD.get()
    finally:
        _HELD.reset(token)
