"""losscalc: PyTorch's loss functions, computed with NumPy, explained element by element."""

__version__ = "0.1.0"


def compute(name, *tensors, **options):
    """Compute a loss as PyTorch would; see `losscalc.engine.compute`."""
    from .engine import compute as _compute

    return _compute(name, *tensors, **options)
