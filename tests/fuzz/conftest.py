"""Hypothesis settings for the fuzz tests: the profile named by SWAPDIFF_HYPOTHESIS_PROFILE
(default `ci`, bounded and deterministic), see fuzz/settings.py."""

from fuzz.settings import load_profile

load_profile()
