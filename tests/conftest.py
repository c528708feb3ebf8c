"""Shared test setup: a deterministic hypothesis profile, so that every failure replays, and
``@pytest.mark.cuda`` tests that run where a GPU is present and are skipped elsewhere (CI)."""

import pytest
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any("cuda" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (bash bench/gpu_check.sh runs these)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
