"""JobCache: npz + JSON entries (never pickles) that give a resumed study identical results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthaug.experiment import JobCache, run_experiment
from synthaug.experiment.cache import decode, encode


def test_round_trip_keeps_types_and_dtypes(tmp_path):
    frame = pd.DataFrame({"seed": [0, 1], "kind": ["fgsm", None], "eps": [0.5, np.nan],
                          "mixed": pd.Series(["a", 1.5], dtype=object), "ok": [True, False]})
    value = {
        "seed": 3, "train_size": "all", "ratio": float("nan"), "inf": float("-inf"), "none": None,
        "subsample": np.arange(5), "synthetic": {"ratio=1.0": (np.ones((2, 1, 3, 3), np.float32),
                                                               np.array([0, 1]))},
        "metric": np.float64(0.25), "count": np.int64(7), "flag": np.bool_(True),
        "frames": [frame, frame[frame["seed"] > 0], pd.DataFrame()],
        "by_tuple": {(1, "a"): "x"}, "__reserved": 1, "notes": ["one", "two"],
    }
    cache = JobCache(tmp_path / "c")
    cache.save(("prep", 0, "all"), value)
    back = cache.load(("prep", 0, "all"))
    assert back.keys() == value.keys()
    assert np.isnan(back["ratio"]) and back["inf"] == float("-inf") and back["none"] is None
    np.testing.assert_array_equal(back["subsample"], value["subsample"])
    X, y = back["synthetic"]["ratio=1.0"]
    assert isinstance(back["synthetic"]["ratio=1.0"], tuple) and X.dtype == np.float32 and X.shape == (2, 1, 3, 3)
    assert type(back["metric"]) is np.float64 and type(back["count"]) is np.int64 and back["flag"] is np.True_
    for got, want in zip(back["frames"], value["frames"]):
        pd.testing.assert_frame_equal(got, want)
    assert back["by_tuple"] == {(1, "a"): "x"} and back["__reserved"] == 1 and back["notes"] == ["one", "two"]


def test_values_that_would_need_a_pickle_are_refused():
    with pytest.raises(TypeError, match="object array"):
        encode(np.array([{"a": 1}], dtype=object), {})
    with pytest.raises(TypeError, match="cannot store a set"):
        encode({1, 2}, {})


def test_decode_inverts_encode_without_files():
    arrays: dict = {}
    data = encode([1, (2.5, "b"), {"k": np.zeros(3)}], arrays)
    json.dumps(data, allow_nan=False)  # strict JSON
    back = decode(data, arrays)
    assert back[:2] == [1, (2.5, "b")] and back[2]["k"].shape == (3,)


def test_entries_contains_len_stamp_and_clear(tmp_path):
    cache = JobCache(tmp_path / "c")
    assert len(cache) == 0 and cache.read_stamp() is None
    cache.write_stamp({"config": {"seeds": [0]}})
    cache.save(("job", 0, "10", "gan", 0.5), ([{"accuracy": 0.5}], []))
    assert ("job", 0, "10", "gan", 0.5) in cache and ("job", 0, "10", "gan", 1.0) not in cache
    assert len(cache) == 1 and cache.read_stamp() == {"config": {"seeds": [0]}}
    assert not list(cache.directory.glob("*.tmp"))
    cache.clear()
    assert not cache.directory.exists()


def test_a_cached_study_holds_no_pickle_and_resumes_identically(tmp_path, tiny_config, toy3):
    cfg = tiny_config.replace(seeds=(0, 1), arms=("real", "gan"), ratios=(1.0,), quality=True,
                              quality_max_samples=30)
    ds = toy3(10)
    cache = JobCache(tmp_path / "cache")
    first = run_experiment(ds, cfg, cache=cache)
    files = sorted(p.name for p in cache.directory.iterdir())
    assert files and all(name.endswith((".npz", ".json")) for name in files), files
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)
    for path in cache.directory.glob("*.npz"):
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                assert npz[name].dtype != object
    for path in cache.directory.glob("*.json"):
        json.loads(path.read_text())  # plain JSON
    second = run_experiment(ds, cfg, cache=cache)
    assert second.info["n_jobs_reused"] == len(cache) == 2 + 2 * 2
    for name in ("results", "quality", "memorisation", "gan_history"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    np.testing.assert_array_equal(first.sample_grids["all"], second.sample_grids["all"])
