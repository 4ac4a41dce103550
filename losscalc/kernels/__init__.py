"""The kernels, by family. Each family module defines pure NumPy kernel functions and a
`LOSSES` list of registry entries; the registry gathers them in this order."""

from . import embedding, regression
from . import classification
from . import sequence
from . import binary, divergence
from . import beyond

FAMILIES = (regression, embedding, binary, divergence, sequence, classification, beyond)
