"""Settings for the whole test suite: quiet, single-threaded, caches and runs in temporary folders."""

from __future__ import annotations

import os

# Two cores are shared by the whole suite; one thread per test process keeps timings predictable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # the core alone (tox env "core") still has torch; plugins' extras may not
        pass


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _session_cache(tmp_path_factory, monkeypatch):
    """Caches and runs go under the session's temporary directory, never in ~/.cache or ./runs.

    The cache is shared by the tests of one session (a generated corpus is made once); a test of
    caching itself points SCIARCH_CACHE at its own tmp_path.
    """
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("SCIARCH_RUNS", str(tmp_path_factory.getbasetemp() / "runs"))
