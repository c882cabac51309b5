import os

from hypothesis import settings

# Deterministic property tests: CI must not be flaky.
settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
