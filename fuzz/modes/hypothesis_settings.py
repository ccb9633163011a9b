"""Hypothesis settings profiles for the differential machine, chosen by an environment variable.

`ci` is bounded and deterministic (derandomized, no example database) so CI runs are
reproducible and fit their time budget; `nojit` is `ci` with fewer examples for the lane
where the optimized code runs as plain Python; `dev` keeps the example database and explores
more; `campaign` is for hours-long runs.  `load_profile()` reads SWAPDIFF_HYPOTHESIS_PROFILE
(default `ci`); tests/fuzz/conftest.py calls it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV_VAR = "SWAPDIFF_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "ci"

# Each stateful step is a whole world action (several API calls, each compared in lockstep),
# far slower than Hypothesis expects, and the geometry draw is large: these checks only warn
# about the cost we chose.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

PROFILES: dict[str, dict] = {
    "ci": {
        "max_examples": 40,
        "stateful_step_count": 80,
        "derandomize": True,
        "database": None,
        "deadline": None,
        "print_blob": False,
        "suppress_health_check": _SLOW_OK,
    },
    "nojit": {
        "max_examples": 10,
        "stateful_step_count": 50,
        "derandomize": True,
        "database": None,
        "deadline": None,
        "print_blob": False,
        "suppress_health_check": _SLOW_OK,
    },
    "dev": {
        "max_examples": 100,
        "stateful_step_count": 100,
        "deadline": None,
        "suppress_health_check": _SLOW_OK,
    },
    "campaign": {
        "max_examples": 100_000,
        "stateful_step_count": 400,
        "deadline": None,
        "database": None,
        "print_blob": True,
        "suppress_health_check": _SLOW_OK,
    },
}

for _name, _options in PROFILES.items():
    settings.register_profile(_name, **_options)


def profile_settings(name: str) -> settings:
    """The registered settings object of one swapdiff profile."""
    if name not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {name!r}; known: {', '.join(PROFILES)}")
    return settings.get_profile(name)


def load_profile(name: str | None = None) -> str:
    """Load a profile (by default from SWAPDIFF_HYPOTHESIS_PROFILE, else `ci`); returns its name."""
    chosen = name or os.environ.get(ENV_VAR) or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise ValueError(f"{ENV_VAR}={chosen!r} is not a swapdiff profile; known: {', '.join(PROFILES)}")
    settings.load_profile(chosen)
    return chosen
