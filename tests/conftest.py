"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Two cores on CI: one intra-op thread per test process keeps runs fast and repeatable.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (real datasets); skips if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def toy_dataset():
    """A tiny 3-class 8x8 grayscale dataset that any model learns in seconds."""
    from synthaug.data.toy import make_toy_images

    return make_toy_images(12, n_classes=3, image_size=8, random_state=0)


class CliProcess:
    """A ``python -m synthaug ...`` subprocess (see the ``cli_process`` fixture)."""

    def __init__(self, args, env=None, cwd=None):
        import os
        import subprocess
        import sys

        env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen([sys.executable, "-m", "synthaug", *self.args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)

    def wait_for(self, ready, timeout: float = 60.0) -> None:
        """Poll until ``ready()`` is true (or, for a path, until it exists) while the command runs.

        Fails the test if the command ends first or ``timeout`` seconds pass.
        """
        import time

        check = (lambda: Path(ready).exists()) if isinstance(ready, (str, Path)) else ready
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if check():
                return
            time.sleep(0.05)
        if self.proc.poll() is not None:
            _, err = self.proc.communicate()
            pytest.fail(f"synthaug {' '.join(self.args)} ended (exit {self.proc.returncode}) before it "
                        f"was ready to be interrupted.\nstderr:\n{err}")
        pytest.fail(f"synthaug {' '.join(self.args)}: not ready after {timeout} s")

    def send(self, sig) -> "CliProcess":
        """Send a signal (``signal.SIGINT``, ``signal.SIGTERM``) to the command."""
        self.proc.send_signal(sig)
        return self

    def finish(self, timeout: float = 120.0) -> tuple[int, str, str]:
        """Wait for the command to end: ``(exit code, stdout, stderr)``."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


@pytest.fixture
def cli_process():
    """Start the synthaug CLI in a subprocess: ``start(args, env=None, cwd=None) -> CliProcess``.

    ``CliProcess.wait_for(path_or_predicate, timeout=60)`` waits for a file to appear (or
    a condition) while the command runs, ``.send(signal.SIGINT)`` signals it and
    ``.finish(timeout=120)`` returns ``(exit code, stdout, stderr)``. ``OMP_NUM_THREADS=1``
    is set unless ``env`` says otherwise; processes still running at the end of the test
    are killed.
    """
    started: list[CliProcess] = []

    def start(args, env=None, cwd=None) -> CliProcess:
        started.append(CliProcess(args, env=env, cwd=cwd))
        return started[-1]

    yield start
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.communicate()
