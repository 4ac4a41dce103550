"""The kernels, by family. Each family module defines pure NumPy kernel functions and a
`LOSSES` list of registry entries; the registry gathers them in this order."""

from . import beyond, binary, classification, divergence, embedding, margin, regression, sequence

FAMILIES = (regression, binary, divergence, classification, margin, embedding, sequence, beyond)
