"""Run a small augmentation study through the Python API and write its report.

    python pipelines/example_experiment.py [OUT_DIR]

The same study as ``synthaug evaluate builtin:digits --config pipelines/digits_lowdata.toml``,
cut down to two seeds and a few arms so it finishes in a couple of minutes on a laptop.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from synthaug.data import load_dataset
from synthaug.experiment import ExperimentConfig, run_experiment


def main(out: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    recipe = Path(__file__).with_name("digits_lowdata.toml")
    config = ExperimentConfig.from_toml(
        recipe,
        seeds=[0, 1],
        train_sizes=[10],
        arms=["real", "classic", "gan", "tstr"],
        ratios=[1, 2],
        robustness=False,
    )
    dataset = load_dataset(config.dataset, image_size=config.image_size)
    report = run_experiment(dataset, config, progress=True)
    report.write(out)  # the runner does no I/O: writing is the caller's job
    print(report.summary_table("accuracy").to_string(index=False))
    print(f"Report written to {out / 'report.html'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/example_experiment"))
