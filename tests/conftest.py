"""Shared test setup: a deterministic hypothesis profile, so that every failure replays."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "upo",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("upo")
