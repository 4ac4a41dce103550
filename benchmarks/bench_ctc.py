"""losscalc's CTC against PyTorch's CPU CTC, measured in the same run.

    python benchmarks/bench_ctc.py [--runs 7]

Two cases: the example of PyTorch's CTCLoss documentation (T=50, N=16, C=20, S=30) and a large
one (T=500, N=64, C=100, S=100); float64, every input length T, target lengths drawn from
[S/2, S]. Timed, as the median of interleaved runs after one warm-up (wall clock), with a
50 ms pause before each run: right after a parallel region torch's worker threads spin for a
while, and on a 2-core machine that halves the speed of whatever runs next:

  torch      F.ctc_loss(reduction="none"), forward only (no autograd), at torch's default
             thread count and at 1 thread
  forward    compute("ctc", ..., reduction="none"): checks and the forward algorithm, what
             --format value or json costs (the breakdown's terms are made only when shown)
  compute    the same and its breakdown terms, as a table or csv shows them (the best paths:
             a Viterbi pass)
  viterbi    the breakdown's best-path pass alone (the difference of the two)

and, for --grad, forward and backward together:

  torch      F.ctc_loss(reduction="sum") and loss.backward(), at both thread counts
  grad       compute("ctc", ..., reduction="sum", grad=True): the value and the gradient
             with respect to log_probs
  backward   the gradient alone (grad - forward)

and prints each ratio losscalc / torch. Both results (values and gradients) are checked to
agree to 1e-10.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from losscalc import compute

CASES = {"PyTorch docs example": (50, 16, 20, 30), "large": (500, 64, 100, 100)}


def inputs(T, N, C, S, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    x -= x.max(axis=2, keepdims=True)
    log_probs = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    targets = rng.integers(1, C, size=(N, S))
    return log_probs, targets, np.full(N, T), rng.integers(S // 2, S + 1, size=N)


def timed(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads by default (and 1); numpy {np.__version__}; "
          f"median of {args.runs} interleaved runs, float64\n")
    warnings.simplefilter("ignore")
    for name, (T, N, C, S) in CASES.items():
        lp, tg, il, tl = inputs(T, N, C, S)
        t_args = [torch.from_numpy(a) for a in (lp, tg, il, tl)]

        def run_torch():
            return F.ctc_loss(*t_args, reduction="none")

        def run_torch_1():
            torch.set_num_threads(1)
            try:
                return run_torch()
            finally:
                torch.set_num_threads(threads)

        def run_forward():
            return compute("ctc", lp, tg, il, tl, reduction="none")

        def run_compute():
            result = compute("ctc", lp, tg, il, tl, reduction="none")
            result.terms  # noqa: B018 -- the breakdown, as a table shows it
            return result

        def run_torch_grad():
            x = t_args[0].detach().requires_grad_()
            F.ctc_loss(x, *t_args[1:], reduction="sum").backward()
            return x.grad

        def run_torch_grad_1():
            torch.set_num_threads(1)
            try:
                return run_torch_grad()
            finally:
                torch.set_num_threads(threads)

        def run_grad():
            return compute("ctc", lp, tg, il, tl, reduction="sum", grad=True)

        fns = {"torch": run_torch, "torch 1 thread": run_torch_1, "forward": run_forward, "compute": run_compute,
               "torch grad": run_torch_grad, "torch grad 1 thread": run_torch_grad_1, "grad": run_grad}
        np.testing.assert_allclose(run_forward().value, run_torch().numpy(), rtol=1e-10)
        np.testing.assert_allclose(run_compute().value, run_torch().numpy(), rtol=1e-10)
        np.testing.assert_allclose(run_grad().grads["log_probs"], run_torch_grad().numpy(), rtol=1e-10, atol=1e-12)
        samples = {k: [] for k in fns}
        for _ in range(args.runs):  # interleaved, so load on the machine hits all alike
            for key, fn in fns.items():
                time.sleep(0.05)  # let torch's idle worker threads stop spinning on the other core
                samples[key] += timed(fn, 1)
        ms = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        ms["viterbi"] = ms["compute"] - ms["forward"]
        ms["backward"] = ms["grad"] - ms["forward"]
        print(f"{name}: T={T} N={N} C={C} S={S}")
        for suffix, keys, what in (("", ("forward", "compute", "viterbi"), "forward"),
                                   (" grad", ("grad", "backward"), "forward + backward")):
            base, base_1 = ms["torch" + suffix], ms["torch" + suffix + " 1 thread"]
            print(f"  {f'torch {what} ({threads} threads)':36s} {base:8.2f} ms")
            print(f"  {f'torch {what} (1 thread)':36s} {base_1:8.2f} ms")
            for key in keys:
                print(f"  {f'losscalc {key}':36s} {ms[key]:8.2f} ms   / torch {ms[key] / base:5.2f}x"
                      f"   / torch 1 thread {ms[key] / base_1:5.2f}x")
        print()


if __name__ == "__main__":
    main()
