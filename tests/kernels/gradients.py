"""What the kernels' --grad tests share: gradients without warnings, the inputs X and Y, and
the central-difference check (the analytic gradient against (l(t + h) - l(t - h)) / 2h)."""

import warnings

import numpy as np

from losscalc import compute


def grads(name, *tensors, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute(name, *tensors, grad=True, **kw).grads


X = np.array([0.3, -1.2, 2.0, 0.7])
Y = np.array([0.5, 0.4, -1.0, 0.7])
N = X.size


def central_differences(value, z, h=1e-6):
    """∂value/∂z by (value(z + h e) - value(z - h e)) / 2h for every entry e: O(h²) where smooth."""
    numeric = np.zeros(np.shape(z))
    for e in np.ndindex(numeric.shape):
        up, down = np.array(z, dtype=float), np.array(z, dtype=float)
        up[e] += h
        down[e] -= h
        numeric[e] = (float(value(up)) - float(value(down))) / (2 * h)
    return numeric


def check_central_differences(name, tensors, options):
    """Every differentiated tensor's gradient against central differences, to 1e-5."""
    # (l(t + h e) - l(t - h e)) / 2h approximates ∂l/∂t_e to O(h²) where l is smooth
    analytic = grads(name, *tensors, **options)
    assert analytic
    for tensor_name in analytic:
        index = _names(name).index(tensor_name)

        def value(x, index=index):
            t = [np.array(v, dtype=float) for v in tensors]
            t[index] = x
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return compute(name, *t, **options).value

        numeric = central_differences(value, tensors[index])
        np.testing.assert_allclose(analytic[tensor_name], numeric, rtol=1e-5, atol=1e-7, err_msg=tensor_name)


def _names(loss):
    from losscalc.registry import find

    return [t.name for t in find(loss).tensors]
