"""Hypothesis profiles: how hard the property tests look, chosen by LOSSCALC_FUZZ.

- `short` (the default): the CLI fuzzer (tests/test_fuzz_cli.py) makes 300 calls, a few
  seconds, for a default run of `python -m pytest`;
- `long`: 2,500 calls, as the fuzzer was first run (issue 6), for CI and before a release:
  `LOSSCALC_FUZZ=long python -m pytest`.

The other property tests give their own, smaller, max_examples and are the same under both.
"""

import os

import pytest
from hypothesis import settings

PROFILES = {"short": 300, "long": 2500}

for _name, _examples in PROFILES.items():
    settings.register_profile(_name, max_examples=_examples)

FUZZ = os.environ.get("LOSSCALC_FUZZ", "short") or "short"
if FUZZ not in PROFILES:
    raise pytest.UsageError(f"LOSSCALC_FUZZ={FUZZ!r}: expected one of {', '.join(PROFILES)}")
settings.load_profile(FUZZ)
