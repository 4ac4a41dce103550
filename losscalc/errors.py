"""The one error type and the one warning type of losscalc.

`LossError` is anything the user can fix (a bad tensor, a bad option, a shape that does not
fit); the CLI turns it into exit code 2 with its message. `warn` emits a `LossWarning`, which
the CLI prints on stderr and a library caller sees as an ordinary Python warning.
"""

import warnings


class LossError(ValueError):
    """A problem with the user's input: exit code 2, the message shown as it is."""


class LossWarning(UserWarning):
    """Something PyTorch computes anyway but that is probably a mistake, or is deprecated."""


def warn(message: str) -> None:
    warnings.warn(message, LossWarning, stacklevel=3)
