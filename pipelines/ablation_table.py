"""The ablation table of docs/benchmarks.md section 6, from `quality_lowdata.py` outputs.

Each JSON file is named ``<setting>_s<seed>.json`` (for example ``ms03_ada_s0.json``, written
by ``pipelines/quality_lowdata.py --seed 0 ... --out runs/abl/ms03_ada_s0.json``). The
table gives medians over seeds of precision, recall and the memorisation ratio, and the
median [min, max] over seeds of each classifier's accuracy with real + synthetic minus
real only (paired by seed)::

    python pipelines/ablation_table.py runs/abl
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

_SELECTIONS = ("none", "coverage", "covariance", "critic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    synthetic: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    real: dict[tuple[str, str], dict] = {}
    for path in sorted(args.folder.glob("*_s*.json")):
        setting, seed = re.fullmatch(r"(.*)_s(\d+)", path.stem).groups()
        for row in json.loads(path.read_text())["table"]:
            if "reference" in row["set"]:
                real[(setting, seed)] = row
            elif "(100" not in row["set"]:  # the 50-per-class rows
                method = row["set"].replace(" (500)", "").replace("synthetic, select=", "")
                synthetic[(setting, method)][seed] = row

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    print("| generator settings | selection | seeds | precision | recall | NN-distance ratio | "
          "SVC: real+syn minus real, ratio 1 / 4 | CNN: real+syn minus real, ratio 1 / 4 |")
    print("|---|---|---|---|---|---|---|---|")
    for setting in dict.fromkeys(s for s, _ in synthetic):
        for method in _SELECTIONS:
            rows = synthetic.get((setting, method))
            if not rows:
                continue

            def gain(key, rows=rows, setting=setting):
                d = [rows[s][key] - real[(setting, s)][key] for s in rows]
                return f"{statistics.median(d):+.3f} [{min(d):+.3f}, {max(d):+.3f}]"

            def mid(key, rows=rows):
                return median(r[key] for r in rows.values())

            print(f"| {setting} | {method} | {len(rows)} | {mid('precision'):.3f} | {mid('recall'):.3f} | "
                  f"{mid('distance_ratio'):.2f} | {gain('svc_r1')} / {gain('svc_r4')} | "
                  f"{gain('cnn_r1')} / {gain('cnn_r4')} |")


if __name__ == "__main__":
    main()
