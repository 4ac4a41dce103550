"""Near-misses: framework functions that look like a losscalc loss but compute something else,
for `explain` to mention and for `--convention` to refuse. Grouped by the loss they are taken
for, so that what that loss computes is said once (`TORCH`), whichever framework's look-alike
it is set against."""

from __future__ import annotations

from ._common import NearMiss

# what the losscalc loss (PyTorch's) computes, said after each look-alike of it
TORCH = {
    "hinge_embedding": "torch's hinge_embedding is x for y = 1 and max(0, margin - x) for y = -1",
    "multi_margin": "multi_margin sums every margin violation and divides by the class count",
    "cosine_embedding": "cosine_embedding is 1 - cos for y = 1 and max(0, cos - margin) for y = -1",
    "smooth_l1": "the same as smooth_l1 only for β = 1 (use the huber loss)",
}

# loss -> its look-alikes: (framework, function, what the function computes instead)
_LOOK_ALIKES = {
    "hinge_embedding": (
        ("keras", "keras.losses.Hinge", "max(0, 1 - y·x) averaged over the last axis"),
        ("optax", "optax.losses.hinge_loss", "max(0, 1 - y·x)"),
        ("sklearn", "sklearn.metrics.hinge_loss", "max(0, 1 - y·f), which no torch loss computes")),
    "multi_margin": (
        ("keras", "keras.losses.CategoricalHinge",
         "max(0, 1 + max_{j≠y} x_j - x_y), the largest margin violation only"),
        ("sklearn", "sklearn.metrics.hinge_loss",
         "the multi-class form is max(0, 1 + max_{j≠y} f_j - f_y), the largest violation only")),
    "cosine_embedding": (
        ("keras", "keras.losses.CosineSimilarity", "-cos(x1, x2), with no margin and no target sign"),
        ("optax", "optax.losses.cosine_distance", "1 - cos(x, y) without target sign or margin")),
    "smooth_l1": (
        ("keras", "keras.losses.Huber", "Huber(delta=β) is β · smooth_l1(β)"),
        ("optax", "optax.losses.huber_loss", "huber_loss(delta=β) is β · smooth_l1(β)")),
    "triplet_margin": (
        ("optax", "optax.losses.triplet_margin_loss", "(Σ (a - p)^p + eps)^(1/p): eps added to the sum, not to the "
         "difference, and no absolute value, so odd p differs"),),
    "dice": (
        ("optax", "optax.losses.dice_loss",
         "a multi-class Dice over the class axis of logits or probabilities, not losscalc's per-sample soft Dice"),),
    "poisson_nll": (
        ("sklearn", "sklearn.metrics.mean_poisson_deviance",
         "2 (y log(y/ŷ) - y + ŷ): twice the Poisson NLL plus terms of y alone, so not the same value"),),
    "l1": (("sklearn", "sklearn.metrics.mean_pinball_loss", "alpha=0.5 gives half the mean absolute error"),),
    "mse": (("sklearn", "sklearn.metrics.brier_score_loss",
             "mse of probabilities against 0/1 labels only, and refuses other inputs"),),
}

NEAR_MISSES: tuple[NearMiss, ...] = tuple(
    NearMiss(framework, loss, function, f"{what}; {TORCH[loss]}" if loss in TORCH else what)
    for loss, look_alikes in _LOOK_ALIKES.items() for framework, function, what in look_alikes)
