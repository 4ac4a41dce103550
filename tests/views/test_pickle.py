"""The views' accumulators survive pickling midway through a stream (the Dask engine ships
them to its workers): the resumed copy finishes as the original does."""

import numpy as np

from losscalc.views import Groups, Summary, TopK
from tests.views.streaming import copy, tricky


def test_accumulators_pickle_midstream():
    x = tricky(1000, seed=11)
    accs = [TopK(7), TopK(7, largest=False), Summary(), Groups()]
    labels = np.arange(1000) % 4
    finite = np.where(np.isfinite(x), x, 0.0)

    def feed(acc, s, e):
        if isinstance(acc, TopK):
            acc.add(s, x[s:e])
        elif isinstance(acc, Summary):
            acc.add(x[s:e])
        else:
            acc.add(labels[s:e], finite[s:e], finite[s:e], np.ones(e - s))

    for acc in accs:
        feed(acc, 0, 500)
        resumed = copy(acc)
        feed(acc, 500, 1000)
        feed(resumed, 500, 1000)
        a = acc.finish("mean") if isinstance(acc, Groups) else acc.finish()
        b = resumed.finish("mean") if isinstance(resumed, Groups) else resumed.finish()
        assert repr(a) == repr(b)
