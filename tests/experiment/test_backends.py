"""Compute backends: the registry, the caller's joblib backend, thread caps, job errors, fast failures.

The cluster tests (test_cluster_backends.py) run real local clusters; these need none.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time

import joblib
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from synthaug.cli import cli
from synthaug.exceptions import ConfigError, JobError
from synthaug.experiment import ExperimentConfig, run_experiment
from synthaug.experiment import runner as runner_mod
from synthaug.experiment.backends import BACKEND_NAMES, BACKENDS, use_backend
from synthaug.experiment.execution import Task, caller_set_parallel, limit_threads, run_tasks


def free_port() -> int:
    """A local TCP port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ registry and config
def test_cli_backend_choices_are_the_registry():
    option = next(p for p in cli.commands["evaluate"].params if p.name == "backend")
    assert tuple(option.type.choices) == BACKEND_NAMES == ("local", "dask", "ray")
    assert {b.extra for b in BACKENDS.values()} == {None, "dask", "ray"}


def test_config_checks_backend_and_address():
    assert ExperimentConfig().backend == "local" and ExperimentConfig().address is None
    with pytest.raises(ConfigError, match=r"backend: unknown value 'spark'.*'dask'"):
        ExperimentConfig(backend="spark")
    with pytest.raises(ConfigError, match="address: 'tcp://h:8786' is for the dask or ray backend"):
        ExperimentConfig(address="tcp://h:8786")
    assert ExperimentConfig(backend="dask", address=" tcp://h:8786 ").address == "tcp://h:8786"


def test_recipe_compute_table(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[compute]\nbackend = "dask"\naddress = "tcp://h:8786"\nn_jobs = 4\n')
    cfg = ExperimentConfig.from_toml(recipe)
    assert (cfg.backend, cfg.address, cfg.n_jobs) == ("dask", "tcp://h:8786", 4)
    assert ExperimentConfig.from_toml(recipe, address="tcp://other:1").address == "tcp://other:1"
    recipe.write_text('[compute]\nseeds = [0]\n')
    with pytest.raises(ConfigError, match=r"r.toml: unknown key compute.seeds; \[compute\] takes n_jobs, backend"):
        ExperimentConfig.from_toml(recipe)


@pytest.mark.parametrize("name, module, extra", [("dask", "distributed", "dask"), ("ray", "ray", "ray")])
def test_a_missing_package_names_the_extra(monkeypatch, name, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import -> ImportError
    with pytest.raises(ConfigError, match=rf"pip install 'synthaug\[{extra}\]'"), \
            use_backend(name, "tcp://127.0.0.1:8786"):
        pass


def test_local_backend_takes_no_address():
    with use_backend("local"):
        assert not caller_set_parallel()
    with pytest.raises(ConfigError, match="local backend takes none"), use_backend("local", "tcp://h:1"):
        pass


# ------------------------------------------------------------------ the caller's backend
def test_a_backend_set_by_the_caller_is_honoured(monkeypatch, tiny_config, toy3):
    """parallel_config around run_experiment decides (threads, 2 jobs), not config.n_jobs=1;
    each job outside joblib's own processes runs with one torch thread, restored after."""
    seen: list[tuple[str, int]] = []
    original = runner_mod._classify_subset

    def recording(*args):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return original(*args)

    monkeypatch.setattr(runner_mod, "_classify_subset", recording)
    cfg = tiny_config.replace(seeds=(0, 1), arms=("real", "classic"), n_jobs=1)
    ds = toy3(8)
    before = torch.get_num_threads()
    with joblib.parallel_config(backend="threading", n_jobs=2):
        assert caller_set_parallel()
        threaded = run_experiment(ds, cfg).results
    assert len(seen) == 4
    assert all(name != threading.main_thread().name for name, _ in seen)
    assert all(n == 1 for _, n in seen) and torch.get_num_threads() == before
    seen.clear()
    local = run_experiment(ds, cfg).results
    assert {name for name, _ in seen} == {threading.main_thread().name}  # n_jobs=1: in this process
    pd.testing.assert_frame_equal(threaded, local)


def test_limit_threads_nests_and_restores():
    before = torch.get_num_threads()
    with limit_threads(1):
        with limit_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with limit_threads(None):
        assert torch.get_num_threads() == before


def test_backends_without_result_generators_run_in_rounds():
    """multiprocessing (like Ray's joblib backend) cannot yield results as they finish."""
    tasks = [Task(k, f"job {k}", abs, (-k,)) for k in range(5)]
    with joblib.parallel_config(backend="multiprocessing", n_jobs=2):
        out = dict(run_tasks(tasks, n_jobs=1))
    assert out == {k: k for k in range(5)}


# ------------------------------------------------------------------ failures
def test_a_job_exception_names_the_job(tiny_config, toy3):
    cfg = tiny_config.replace(arms=("real",), classifier_params={"logreg": {"C": -1.0}})
    with pytest.raises(JobError, match=r"classifier job \(seed 0, train size all, arm real\) failed: "
                                       r"InvalidParameterError: .*'C'") as info:
        run_experiment(toy3(8), cfg)
    assert "Traceback" in info.value.details and "InvalidParameterError" in info.value.details


def test_a_job_exception_in_the_cli_names_the_job_and_keeps_finished_jobs(tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('dataset = "builtin:digits"\nseeds = [0]\ntrain_sizes = [5]\narms = ["real", "classic"]\n'
                      'classifiers = ["logreg"]\nquality = false\n'
                      '[classifier_params.logreg]\nmax_iter = -3\n')
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["evaluate", "--config", str(recipe), "--out", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "classifier job (seed 0, train size 5, arm real) failed" in result.output
    assert "--resume" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_unreachable_address_fails_fast_naming_it_and_writes_nothing(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "o"
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(out), "--backend", "dask",
                                      "--address", address, "--seeds", "0", "--arms", "real",
                                      "--classifiers", "logreg", "--no-quality", "--no-progress"])
    assert time.monotonic() - start < 30
    assert result.exit_code == 1
    assert f"--address {address}: no Dask scheduler answered there" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / ".o.evaluate-cache").exists()


def test_unreachable_ray_head_fails_fast_naming_it():
    pytest.importorskip("ray")
    address = f"127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(ConfigError, match=rf"--address {address}: no Ray head answered there"), \
            use_backend("ray", address):
        pass
    assert time.monotonic() - start < 30


# ------------------------------------------------------------------ warnings
def _warn_twice(i: int) -> int:
    log = logging.getLogger("synthaug.metrics.fidelity")
    log.warning("frechet_distance: singular covariance")
    log.warning("frechet_distance: singular covariance")
    return i


def test_a_warning_every_job_repeats_prints_once_per_process_and_study(caplog):
    from synthaug.log_once import OncePerRun

    tasks = [Task(k, f"job {k}", _warn_twice, (k,)) for k in range(6)]

    def shown() -> int:
        return [r.getMessage() for r in caplog.records].count("frechet_distance: singular covariance")

    with caplog.at_level(logging.WARNING):
        with joblib.parallel_config(backend="threading", n_jobs=2):  # jobs in threads of this process
            assert dict(run_tasks(tasks, n_jobs=1, study="a")) == {k: k for k in range(6)}
            assert shown() == 1  # 12 warnings, one shown
            dict(run_tasks(tasks, n_jobs=1, study="a"))  # the same study's next phase
            assert shown() == 1
            dict(run_tasks(tasks, n_jobs=1, study="b"))  # another study shows it again, once
            assert shown() == 2
        dict(run_tasks(tasks[:2], n_jobs=1))  # no study: no filter
        assert shown() == 6
    assert not [f for h in logging.getLogger().handlers for f in h.filters if isinstance(f, OncePerRun)]
