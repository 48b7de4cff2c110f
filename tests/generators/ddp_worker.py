"""Started by ``test_distributed.py`` under torchrun (not a test module itself).

Each rank fits the same small ConditionalGAN inside the process group (with every
stabiliser that keeps per-rank state switched on: conditional BatchNorm, LeCam, ADA,
mode seeking) and saves what it ended with, so the test can compare the ranks; then a
fit interrupted after 2 epochs and resumed to 4, against 4 epochs in one go.

Usage: ``torchrun --nproc_per_node 2 ddp_worker.py OUT_DIR``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from synthaug.data.toy import make_toy_images
from synthaug.generators import ConditionalGAN
from synthaug.generators.distributed import init_from_env


def main(out: Path) -> None:
    ds = make_toy_images(24, n_classes=3, image_size=8, random_state=0)
    with init_from_env("cpu") as ctx:
        gan = ConditionalGAN(steps=6, batch_size=8, width=8, conditional_norm=True, mode_seeking=0.1,
                             lecam=0.1, ada_target=0.6, n_snapshots=2, random_state=None, device="cpu")
        gan.fit(ds.images, ds.labels)
        # The weights every rank started from: the init stream of the (broadcast) seed.
        init = gan._build_pairs(gan.seed_, 3, ds.images.shape[1:], torch.device("cpu"))[0]
        state = {
            **{f"sampler.{k}": v for k, v in gan.generators_[0].state_dict().items()},
            **{f"discriminator.{k}": v for k, v in gan.discriminators_[0].state_dict().items()},
            **{f"init_sampler.{k}": v for k, v in init.sampler.state_dict().items()},
            "seed": torch.tensor(gan.seed_),
            "world_size": torch.tensor(gan.budget_["world_size"]),
        }
        torch.save(state, out / f"rank{ctx.rank}.pt")
        gan.history_.to_csv(out / f"history{ctx.rank}.csv", index=False)

        # Resume: 2 epochs, then resumed to 4 (every rank reads rank 0's checkpoint),
        # against 4 epochs in one go.
        params = dict(batch_size=8, width=8, conditional_norm=True, lecam=0.1, ada_target=0.6, n_snapshots=0,
                      random_state=0, device="cpu")
        whole = ConditionalGAN(epochs=4, **params).fit(ds.images, ds.labels)
        ckpt = out / "checkpoint"
        ConditionalGAN(epochs=2, checkpoint_dir=ckpt, **params).fit(ds.images, ds.labels)
        resumed = ConditionalGAN(epochs=4, checkpoint_dir=ckpt, **params).fit(ds.images, ds.labels, resume=True)
        torch.save({**{f"whole.{k}": v for k, v in whole.generators_[0].state_dict().items()},
                    **{f"resumed.{k}": v for k, v in resumed.generators_[0].state_dict().items()}},
                   out / f"resume{ctx.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
