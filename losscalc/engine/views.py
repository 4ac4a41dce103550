"""The views of SPEC §10 fed by the engine, chunk by chunk: the K largest and smallest element
losses, the loss per group, and the summary with its histogram (losscalc/views holds the
accumulators; this module only hands them each chunk's elements, labels and mean partials)."""

from __future__ import annotations

import copy

import numpy as np

from ..errors import LossError
from ..kernels.common import CHUNK_ITEMS
from ..views import Groups, Summary, TopK


class Views:
    """`top`/`bottom`: K (0: none); `labels`: the group labels (an array or a lazy array), or
    the name of one of the loss's tensors; `summary`: whether to keep the summary."""

    def __init__(self, top: int = 0, bottom: int = 0, labels=None, label_name: str | None = None,
                 summary: bool = False):
        self.top = TopK(top) if top else None
        self.bottom = TopK(bottom, largest=False) if bottom else None
        self.labels, self.label_name = labels, label_name
        self.groups = Groups() if labels is not None or label_name else None
        self.summary = Summary() if summary else None

    def empty(self) -> "Views":
        """A Views of the same settings (K, direction, grouping, summary limits, the same
        labels) holding nothing: what a Dask task feeds its chunk to, or merges others into."""
        v = copy.copy(self)
        v.top = TopK(self.top.k) if self.top else None
        v.bottom = TopK(self.bottom.k, largest=False) if self.bottom else None
        v.groups = Groups(self.groups.max_groups) if self.groups is not None else None
        s = self.summary
        v.summary = Summary(s.exact_limit, s.window, s.max_bins) if s else None
        return v

    def merge(self, other: "Views") -> "Views":
        """Fold in the views of the chunks that follow this one's. Top/bottom, the counts, the
        histogram and the exact quantiles do not depend on how chunks are grouped; the float64
        group sums and the summary's mean and std do to rounding (merged in chunk order, as a
        tree merges them: 1e-12 relative to the local engine's). The labels stay this one's."""
        for name in ("top", "bottom", "groups", "summary"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None:
                mine.merge(theirs)
        return self

    def chunk_summary(self, out) -> Summary:
        """The summary of one chunk, made on the thread that ran it (Plan.after); `take`
        merges the chunks' summaries in chunk order. Where the whole run has more elements than
        the summary keeps exact (the chunk's count times the run's items over the chunk's), the
        chunk keeps no values, so none are copied for nothing."""
        e = out.elements.reshape(-1)
        items = CHUNK_ITEMS.get()
        total = e.size * items[1] / max(items[0], 1) if items else e.size
        s = self.summary
        part = Summary(s.exact_limit if total <= s.exact_limit else 0, s.window, s.max_bins)
        part.add(e)
        return part

    def take(self, plan, chunk, start: int, out, arrays) -> None:
        e = out.elements
        flat = e.reshape(-1)
        if self.top:
            self.top.add(start, flat)
        if self.bottom:
            self.bottom.add(start, flat)
        if self.summary:
            part = getattr(out, "after", None)
            if part is not None:
                self.summary.merge(part)
            else:
                self.summary.add(flat)
        if self.groups is not None:
            labels = self._labels(plan, chunk, arrays, e.shape)
            one = np.ones(e.shape, np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                numerators = e if out.mean_divisor is None else e / out.mean_divisor
                if out.weights is not None:
                    denominators = np.broadcast_to(out.weights, e.shape)
                elif out.batch is not None and e.size:
                    denominators = one * (out.batch / e.size)  # batchmean: each item's rows add up to 1
                else:
                    denominators = one
            self.groups.add(labels.reshape(-1), flat, np.broadcast_to(numerators, e.shape).reshape(-1),
                            np.broadcast_to(denominators, e.shape).reshape(-1))

    def _labels(self, plan, chunk, arrays, shape) -> np.ndarray:
        """The chunk's labels, broadcast to its elements: labels along the batch axis are cut
        as the chunk is; labels of the leading axes only (one per item) are aligned on the left."""
        if self.label_name:
            labels = np.asarray(arrays[self.label_name])
        else:
            labels = self.labels
            if plan.split is not None and len(labels.shape) >= 1 and labels.shape[0] == plan.split.n:
                labels = labels[chunk.start:chunk.stop]
            labels = np.asarray(labels)
        if 1 <= labels.ndim < len(shape) and labels.shape == tuple(shape[:labels.ndim]):
            labels = labels.reshape(labels.shape + (1,) * (len(shape) - labels.ndim))
        try:
            return np.broadcast_to(labels, shape)
        except ValueError:
            raise LossError(f"--group-by: labels of shape {tuple(labels.shape)} do not fit the elements' shape "
                            f"{tuple(shape)}{' (of this chunk)' if plan.split else ''}; give one label per "
                            "element, or one per item of the batch axis.") from None

    def finish(self, reduction: str) -> dict:
        out = {}
        if self.top:
            out["top"] = self.top.finish()
        if self.bottom:
            out["bottom"] = self.bottom.finish()
        if self.groups is not None:
            out["groups"] = self.groups.finish(reduction)
            out["group_by"] = self.label_name or "group"
        if self.summary:
            out.update(self.summary.finish())
        return out
