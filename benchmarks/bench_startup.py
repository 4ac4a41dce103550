"""Start-up cost of a one-line call, as a ratio to importing NumPy, measured in one run.

    python benchmarks/bench_startup.py [--runs 20]

Times (wall clock, median of interleaved runs, one BLAS thread as on the reference machines,
with bytecode compiled as after `pip install`):
  python -c pass
  python -c "import numpy"
  losscalc mse 1,2 0,0 --format value      (through `python -m losscalc`)
  losscalc mse 1,2 0,0                     (a rich table)
and prints each against `import numpy`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import numpy": [sys.executable, "-c", "import numpy"],
    "losscalc ... --format value": [sys.executable, "-m", "losscalc", "mse", "1,2", "0,0", "--format", "value"],
    "losscalc ... (table)": [sys.executable, "-m", "losscalc", "mse", "1,2", "0,0"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # Bytecode as an installed package has it (pip compiles it at install time; numpy's is
    # there already): without it every run would compile losscalc's source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for cmd in COMMANDS.values():  # warm-up: writes the bytecode, fills the file cache
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    times = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import numpy"])
    for name, t in times.items():
        median = statistics.median(t)
        print(f"{name:32s} {median * 1000:7.1f} ms   {median / base:5.2f}x import numpy")


if __name__ == "__main__":
    main()
