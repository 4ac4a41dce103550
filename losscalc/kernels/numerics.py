"""Numerics the kernels share, each written once: stable forms of log σ and σ, and x log y with
0 log 0 = 0. Pure elementwise NumPy, in the input's dtype; no checks and no warnings (those are
in `common`)."""

from __future__ import annotations

import numpy as np


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = min(x, 0) - log(1 + exp(-|x|)): finite for large |x|, where log(1 / (1 + exp(-x)))
    overflows (PyTorch's log_sigmoid computes the same expression)."""
    tail = np.abs(x, out=np.empty_like(x))  # log(1 + exp(-|x|)), in one array
    np.log1p(np.exp(np.negative(tail, out=tail), out=tail), out=tail)
    return np.subtract(np.minimum(x, 0, out=np.empty_like(x)), tail, out=tail)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + exp(-x)); exp overflows to inf for x below about -709 (float64), giving 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def xlogy(x: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """x · log(y), and 0 wherever x = 0 (whatever y is: 0 log 0 = 0, and 0 log NaN = 0 too).
    `out`: an array of the result's shape and dtype to write it in (y itself will do).

    torch.xlogy and scipy.special.xlogy give NaN for y = NaN even where x = 0; a caller that
    needs that (kl_div's backward) says so where it calls this. xlogy(x, x / y) is SciPy's
    rel_entr(x, y) for x, y >= 0 (0 where x = 0, also at 0 / 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if out is not None:
            product = np.multiply(x, np.log(y, out=out), out=out)
        else:
            product = np.multiply(x, np.log(y), out=np.empty(np.broadcast_shapes(np.shape(x), np.shape(y)),
                                                             np.result_type(x, y)))
    product[np.broadcast_to(x == 0, product.shape)] = 0
    return product
