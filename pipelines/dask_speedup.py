"""Wall time of a study locally and on a local Dask cluster of 2 and of 1 single-threaded workers.

    python pipelines/dask_speedup.py                       # pipelines/digits_lowdata.toml, in full
    python pipelines/dask_speedup.py --out runs/dask_speedup -- --seeds 0,1 --train-sizes 10

Runs ``synthaug evaluate --config RECIPE`` three times (everything after ``--`` is
passed on to each run):

1. ``local``: ``--backend local --n-jobs 2`` (joblib's loky processes);
2. ``dask-2``: ``--backend dask --address ADDR`` against a ``distributed.LocalCluster``
   of 2 worker processes with one thread each, started by this script;
3. ``dask-1``: the same with 1 worker.

Each run's wall time is that of the ``synthaug evaluate`` process (loading, every job,
writing the report; the cluster is started before and is not counted, its workers
start cold). Then every CSV of the three reports is compared with the local run's,
exactly: the study's numbers must not depend on the backend. The table and
``timings.json`` go to ``--out``. Exit status 1 when a table differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from distributed import LocalCluster

# Columns that measure time, not results (the generator's history has them).
_TIMING_WORDS = ("second", "time", "elapsed")


def run_evaluate(recipe: Path, out: Path, extra: list[str], backend: list[str]) -> float:
    cmd = [sys.executable, "-m", "synthaug", "evaluate", "--config", str(recipe), "--out", str(out),
           "--overwrite", "--no-progress", *backend, *extra]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    print(f"{out.name}: {seconds:.1f} s (load average {os.getloadavg()})", flush=True)
    return seconds


def compare(reference: Path, other: Path) -> list[str]:
    """Differences between the CSVs of two report folders (empty: identical)."""
    problems = []
    for path in sorted(reference.glob("*.csv")):
        twin = other / path.name
        if not twin.is_file():
            problems.append(f"{path.name}: missing in {other}")
            continue
        a, b = pd.read_csv(path), pd.read_csv(twin)
        keep = [c for c in a.columns if not any(w in c.lower() for w in _TIMING_WORDS)]
        try:
            pd.testing.assert_frame_equal(a[keep], b[keep] if set(keep) <= set(b.columns) else b,
                                          check_exact=True)
        except AssertionError as exc:
            problems.append(f"{path.name}: {str(exc).splitlines()[0]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=Path(__file__).with_name("digits_lowdata.toml"))
    parser.add_argument("--out", type=Path, default=Path("runs/dask_speedup"))
    parser.add_argument("extra", nargs="*", help="options passed to every synthaug evaluate (after --)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    load_at_start = os.getloadavg()

    seconds["local"] = run_evaluate(args.recipe, args.out / "local", args.extra,
                                    ["--backend", "local", "--n-jobs", "2"])
    for n_workers in (2, 1):
        name = f"dask-{n_workers}"
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            seconds[name] = run_evaluate(args.recipe, args.out / name, args.extra,
                                         ["--backend", "dask", "--address", cluster.scheduler_address])

    problems = {name: compare(args.out / "local", args.out / name) for name in ("dask-2", "dask-1")}
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.python_version()}",
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "recipe": str(args.recipe),
        "extra": args.extra,
        "seconds": seconds,
        "speedup_dask2_vs_dask1": seconds["dask-1"] / seconds["dask-2"],
        "tables_compared": sorted(p.name for p in (args.out / "local").glob("*.csv")),
        "identical_to_local": {name: not p for name, p in problems.items()},
        "differences": problems,
    }
    (args.out / "timings.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("\n| run | wall time | results vs local |\n|---|---|---|")
    for name, s in seconds.items():
        same = "reference" if name == "local" else ("identical" if not problems[name] else "DIFFERENT")
        print(f"| {name} | {s:.1f} s | {same} |")
    print(f"\nspeed-up of 2 workers over 1: {summary['speedup_dask2_vs_dask1']:.2f}x; "
          f"load average (1, 5, 15 min) at the start {load_at_start}, at the end {summary['load_average_at_end']}")
    for name, p in problems.items():
        for line in p:
            print(f"{name}: {line}")
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
