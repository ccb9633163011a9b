"""Hypothesis settings for the fuzz tests: the profile named by SWAPDIFF_HYPOTHESIS_PROFILE
(default `ci`, bounded and deterministic), see fuzz/modes/hypothesis_settings.py."""

from fuzz.modes.hypothesis_settings import load_profile

load_profile()
