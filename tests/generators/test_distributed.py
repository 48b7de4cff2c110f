"""Multi-process training: the sharding sampler, the helpers, and two CPU processes under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as torch_dist

from synthaug.data import write_npz
from synthaug.data.toy import make_toy_images
from synthaug.exceptions import ConfigError
from synthaug.generators import distributed as dist

needs_gloo = pytest.mark.skipif(not (torch_dist.is_available() and torch_dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available")


# ----------------------------------------------------------------------- sharding
@pytest.mark.parametrize(("n", "batch_size", "world"), [(10, 4, 2), (27, 8, 2), (100, 12, 4), (64, 64, 2)])
def test_shards_are_disjoint_equal_and_cover_the_global_batches(n, batch_size, world) -> None:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [dist.shard_batches(perm, batch_size, r, world) for r in range(world)]
    n_batches = n // batch_size
    assert all(s.shape == (n_batches, batch_size // world) for s in shards)  # same steps on every rank
    rows = torch.cat([s.flatten() for s in shards]).tolist()
    assert len(rows) == len(set(rows))  # disjoint
    assert sorted(rows) == sorted(perm[: n_batches * batch_size].tolist())  # cover the kept rows
    for i in range(n_batches):  # step i of all ranks together is global batch i
        together = torch.cat([s[i] for s in shards]).tolist()
        assert sorted(together) == sorted(perm[i * batch_size:(i + 1) * batch_size].tolist())


def test_one_process_gets_the_single_process_batches() -> None:
    perm = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    batches = dist.shard_batches(perm, 5)
    assert [b.tolist() for b in batches] == [perm[i * 5:(i + 1) * 5].tolist() for i in range(4)]


def test_batch_not_divisible_leaves_out_the_remainder_of_each_batch() -> None:
    shards = [dist.shard_batches(torch.arange(14), 7, r, 2) for r in range(2)]
    assert [s.tolist() for s in shards] == [[[0, 1, 2], [7, 8, 9]], [[3, 4, 5], [10, 11, 12]]]


def test_a_batch_smaller_than_the_processes_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"batch size 2 is smaller than the 4 training processes.*--batch-size >= 4"):
        dist.shard_batches(torch.arange(10), 2, 0, 4)


def test_a_pair_with_fewer_images_than_processes_is_refused() -> None:
    from synthaug.generators import ConditionalGAN
    from synthaug.generators.budget import resolve_budget

    budgets = [resolve_budget(n, (1, 8, 8), epochs=1) for n in (6, 1)]  # per-class: a class of one image
    with pytest.raises(ConfigError, match=r"a network pair has 1 training image\(s\) for 2 training processes"):
        ConditionalGAN._check_distributed(budgets, [6, 1], 2)
    ConditionalGAN._check_distributed(budgets[:1], [6], 2)  # 6 images, batch 6: 3 per process


def test_run_epoch_gives_each_rank_its_slice_and_its_own_noise_stream(monkeypatch) -> None:
    from synthaug.generators import training

    seen = {}

    class Pair:  # stands in for a GANPair: train_step is replaced, and one process has no buffers to sync
        def __init__(self, name):
            self.name = name

        def sync_buffers(self):
            pass

    def record(pair, real, labels, gen, cfg):  # (B, 1, 2, 2): image i is filled with i
        seen.setdefault(pair.name, []).append((real[:, 0, 0, 0].long().tolist(), gen.initial_seed()))
        return torch.zeros(4)

    monkeypatch.setattr(training, "train_step", record)
    images = torch.arange(20, dtype=torch.float32).view(20, 1, 1, 1).expand(20, 1, 2, 2)
    cfg = training.TrainConfig(loss="hinge", epochs=1, batch_size=8, latent_dim=4, policy=(), ema_decay=None,
                               max_rollbacks=0)
    _, n_single = training.run_epoch(Pair("single"), images, None, cfg, seed=5)
    n_ranks = [training.run_epoch(Pair(f"rank{r}"), images, None, cfg, seed=5, rank=r, world_size=2)[1]
               for r in (0, 1)]
    assert n_single == n_ranks[0] == n_ranks[1] == 16  # images seen counts every rank's
    single, r0, r1 = seen["single"], seen["rank0"], seen["rank1"]
    assert len(single) == len(r0) == len(r1) == 2
    for (batch, _), (a, _), (b, _) in zip(single, r0, r1):  # each step: the ranks split the one-process batch
        assert a == batch[:4] and b == batch[4:]
    seeds = {single[0][1], r0[0][1], r1[0][1]}
    assert len(seeds) == 3  # noise and DiffAugment: one stream per rank, neither the shared one


# ----------------------------------------------------------------------- helpers, one process
def test_helpers_are_identities_without_a_process_group(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    t = torch.tensor([1.0, 2.0])
    with dist.init_from_env("cpu") as ctx:
        assert (ctx.rank, ctx.world_size, ctx.backend) == (0, 1, None)
        assert dist.is_main_process() and dist.world_size() == 1 and not dist.is_distributed()
        assert dist.all_reduce_mean(t) is t and dist.all_reduce_sum(t) is t
        assert dist.all_reduce_max(2.5) == 2.5 and dist.broadcast_int(7) == 7
        net = torch.nn.Linear(2, 2)
        assert dist.wrap_ddp(net, torch.device("cpu")) is net


def test_world_size_without_torchrun_variables_says_how_to_start(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    expected = r"WORLD_SIZE=2 but RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT not set.*'torchrun --nproc_per_node N"
    with pytest.raises(ConfigError, match=expected):
        with dist.init_from_env("cpu"):
            pass


# ----------------------------------------------------------------------- two processes
def _torchrun(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *[str(a) for a in args]], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@needs_gloo
def test_two_ranks_end_with_identical_weights_and_resume_exactly(tmp_path: Path) -> None:
    worker = Path(__file__).with_name("ddp_worker.py")
    run = _torchrun(worker, tmp_path, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert int(r0["world_size"]) == 2 and int(r0["seed"]) == int(r1["seed"])
    assert r0.keys() == r1.keys()
    trained = [k for k in r0 if k.startswith(("sampler.", "discriminator."))]
    for key in trained:  # parameters, EMA, BatchNorm statistics, spectral-norm vectors
        assert torch.equal(r0[key], r1[key]), key
    # Training happened: the sampling network moved away from the weights both ranks started from.
    moved = [k for k in r0 if k.startswith("sampler.") and r0[k].is_floating_point()
             and not torch.equal(r0[k], r0["init_" + k])]
    assert len(moved) > 5
    h0, h1 = (pd.read_csv(tmp_path / f"history{r}.csv") for r in (0, 1))
    pd.testing.assert_frame_equal(h0, h1)  # the epoch statistics and ADA's p are the ranks' common ones
    assert "ada_p" in h0 and np.isfinite(h0[["loss_d", "loss_g"]].to_numpy()).all()
    # A fit resumed from rank 0's checkpoint ends where an uninterrupted one does, on every rank.
    for r in (0, 1):
        state = torch.load(tmp_path / f"resume{r}.pt", weights_only=True)
        whole = [k for k in state if k.startswith("whole.")]
        assert whole and all(torch.equal(state[k], state["resumed." + k[len("whole."):]]) for k in whole)


@needs_gloo
def test_torchrun_train_writes_one_model_that_generate_samples(tmp_path: Path) -> None:
    write_npz(make_toy_images([12, 6, 9], n_classes=3, image_size=8, random_state=0), tmp_path / "toy.npz")
    run = _torchrun("-m", "synthaug", "train", "toy.npz", "--out", "run", "--steps", "6", "--batch-size", "8",
                    "--no-progress", "--seed", "0", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("Trained dcgan") == 1 and "2 processes" in run.stdout  # rank 0 alone reports
    # One set of outputs, written by rank 0; no staging or checkpoint folder left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "toy.npz"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "config.json", "history.csv", "model", "quality.json", "samples.png"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["command"] == "train" and config["options"]["world_size"] == 2
    meta = json.loads((tmp_path / "run" / "model" / "generator.json").read_text())
    assert meta["budget"]["world_size"] == 2 and meta["budget"]["batch_size"] == 8
    gen = subprocess.run([sys.executable, "-m", "synthaug", "generate", "run", "--n-per-class", "3", "--out", "gen"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    with np.load(tmp_path / "gen" / "synthetic.npz") as z:
        assert np.bincount(z["labels"]).tolist() == [3, 3, 3]
