"""The grid on real local clusters: Dask (2 single-threaded worker processes, started once) and Ray (slow).

Results equal the local run's row for row, through the API and the CLI; a job's error
names the job; a partial run resumes from the job cache with any backend.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import joblib
import pandas as pd
import pytest
from click.testing import CliRunner

from synthaug.cli import cli
from synthaug.exceptions import JobError
from synthaug.experiment import run_experiment
from synthaug.experiment.cache import JobCache

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture
def study(tiny_config):
    """Two seeds, a generator per seed, CNN and logistic regression: 8 jobs."""
    return tiny_config.replace(seeds=(0, 1), arms=("real", "classic", "gan"), ratios=(1.0,),
                               classifiers=("logreg", "cnn"))


def test_dask_results_equal_the_local_run_row_for_row(cluster, study, toy3, capsys):
    ds = toy3(8)
    local = run_experiment(ds, study)
    on_dask = run_experiment(ds, study.replace(backend="dask", address=cluster.scheduler_address),
                             progress=True)
    pd.testing.assert_frame_equal(local.results, on_dask.results)
    assert "8/8" in capsys.readouterr().err  # the bar counted every job finished on the workers
    # A Client and parallel_config of the caller's own are used as they are.
    with distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        by_caller = run_experiment(ds, study)
    pd.testing.assert_frame_equal(local.results, by_caller.results)


def test_a_job_error_on_a_worker_names_the_job(cluster, tiny_config, toy3):
    cfg = tiny_config.replace(arms=("real",), classifier_params={"logreg": {"C": -1.0}}, backend="dask",
                              address=cluster.scheduler_address)
    with pytest.raises(JobError, match=r"classifier job \(seed 0, train size all, arm real\) failed"):
        run_experiment(toy3(8), cfg)


def test_a_partial_run_resumes_on_dask(cluster, study, toy3, tmp_path):
    ds = toy3(8)
    cache = JobCache(tmp_path / "cache")
    on_dask = study.replace(backend="dask", address=cluster.scheduler_address)
    run_experiment(ds, on_dask.replace(seeds=(0,)), cache=cache)  # what a stopped run left: seed 0
    assert len(cache) == 4
    resumed = run_experiment(ds, on_dask, cache=cache)
    assert resumed.info["n_jobs_reused"] == 4 and len(cache) == 8
    pd.testing.assert_frame_equal(resumed.results, run_experiment(ds, study).results)


@pytest.mark.slow  # a killed worker restarts (imports torch again): 20-40 s on 2 busy cores
def test_a_worker_lost_mid_run_loses_no_finished_job(study, toy3, tmp_path):
    ds = toy3(8)
    cache = JobCache(tmp_path / "cache")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as own, distributed.Client(own) as client:
        pid = next(iter(client.run(os.getpid).values()))
        killed = threading.Event()

        def kill_a_worker_after_the_first_job():
            deadline = time.monotonic() + 120
            while len(cache) < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(pid, signal.SIGKILL)
            killed.set()

        threading.Thread(target=kill_a_worker_after_the_first_job, daemon=True).start()
        report = run_experiment(ds, study.replace(backend="dask", address=own.scheduler_address), cache=cache)
    assert killed.is_set() and len(cache) == 8
    pd.testing.assert_frame_equal(report.results, run_experiment(ds, study).results)


def test_cli_results_csv_on_dask_equals_local(cluster, tmp_path):
    args = ["builtin:digits", "--arms", "real,classic", "--classifiers", "logreg", "--seeds", "0,1",
            "--train-sizes", "5", "--no-quality", "--no-robustness", "--no-progress"]
    local = CliRunner().invoke(cli, ["evaluate", *args, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    dask = CliRunner().invoke(cli, ["evaluate", *args, "--out", str(tmp_path / "dask"), "--backend", "dask",
                                    "--address", cluster.scheduler_address])
    assert dask.exit_code == 0, dask.output
    assert f"jobs on dask at {cluster.scheduler_address}" in dask.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local" / "results.csv"),
                                  pd.read_csv(tmp_path / "dask" / "results.csv"))
    config = (tmp_path / "dask" / "config.json").read_text()
    assert '"backend": "dask"' in config


# ------------------------------------------------------------------ Ray
@pytest.mark.slow  # a local Ray instance takes 10-70 s to start and run 8 jobs on 2 cores
def test_ray_results_equal_the_local_run_row_for_row(study, toy3):
    pytest.importorskip("ray")
    ds = toy3(8)
    on_ray = run_experiment(ds, study.replace(backend="ray", n_jobs=2))
    pd.testing.assert_frame_equal(run_experiment(ds, study).results, on_ray.results)
