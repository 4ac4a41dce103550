"""Hypothesis profiles: how hard the property tests look, chosen by LOSSCALC_FUZZ.

- `short` (the default): the CLI fuzzer (tests/test_fuzz_cli.py) makes 300 calls, a few
  seconds, for a default run of `python -m pytest`;
- `long`: 2,500 calls, as the fuzzer was first run (issue 6), for CI and before a release:
  `LOSSCALC_FUZZ=long python -m pytest`.

The other property tests give their own, smaller, max_examples and are the same under both.

The fixtures `here` (an empty working directory) and `load_calls` (np.load's keyword arguments)
are shared by the tests of the readers.
"""

import os

import numpy as np
import pytest
from hypothesis import settings

PROFILES = {"short": 300, "long": 2500}

for _name, _examples in PROFILES.items():
    settings.register_profile(_name, max_examples=_examples)

FUZZ = os.environ.get("LOSSCALC_FUZZ", "short") or "short"
if FUZZ not in PROFILES:
    raise pytest.UsageError(f"LOSSCALC_FUZZ={FUZZ!r}: expected one of {', '.join(PROFILES)}")
settings.load_profile(FUZZ)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in an empty directory, so file names in messages and sources are short."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def load_calls(monkeypatch):
    """Record every np.load call's keyword arguments (and still load)."""
    calls, real = [], np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    return calls
