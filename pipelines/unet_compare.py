"""Benchmark: synthaug's compact diffusion UNet against diffusers' UNet2DModel on the CPU.

Same channel plan (32, 64[, 64]), one residual block per level, class embedding, no
attention; the diffusers model pads 28 x 28 to 32 x 32 (it needs sizes divisible by 4).
Reports the median of 5 training steps (batch 64, Adam) and of 3 forward passes over
1000 images (the cost of one DDIM step when sampling 1000 images)::

    pip install diffusers        # only for this benchmark; synthaug does not need it
    python pipelines/unet_compare.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from synthaug.generators.diffusion.unet import DiffusionUNet


def bench(net, size: int, call) -> tuple[float, float, float]:
    n_params = sum(p.numel() for p in net.parameters()) / 1e6
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, size, size, generator=gen)
    t = torch.randint(0, 1000, (64,), generator=gen)
    y = torch.randint(0, 10, (64,), generator=gen)
    times = []
    for i in range(7):
        t0 = time.perf_counter()
        loss = (call(net, x, t, y) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - t0)
    forward = []
    with torch.no_grad():
        xb = torch.randn(1000, 1, size, size, generator=gen)
        tb = torch.full((1000,), 500)
        yb = torch.randint(0, 10, (1000,), generator=gen)
        for _ in range(3):
            t0 = time.perf_counter()
            call(net, xb, tb, yb)
            forward.append(time.perf_counter() - t0)
    return n_params, statistics.median(times), statistics.median(forward)


def main() -> None:
    try:
        from diffusers import UNet2DModel
    except ImportError:
        UNet2DModel = None
        print("diffusers is not installed: timing synthaug's UNet only")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("model       size  params(M)  train step b64 (ms)  forward 1000 images (s)")
    for size in (8, 28):
        torch.manual_seed(0)
        rows = [("synthaug", DiffusionUNet((1, size, size), 10, 32), lambda m, x, t, y: m(x, t, y))]
        if UNet2DModel is not None:
            levels = 3 if size >= 16 else 2
            padded = 32 if size == 28 else size
            model = UNet2DModel(sample_size=padded, in_channels=1, out_channels=1, num_class_embeds=11,
                                norm_num_groups=8, block_out_channels=(32, 64, 64)[:levels],
                                down_block_types=("DownBlock2D",) * levels, up_block_types=("UpBlock2D",) * levels,
                                layers_per_block=1)

            def call(m, x, t, y, pad=(padded - size) // 2):
                if pad:
                    out = m(F.pad(x, (pad, pad, pad, pad)), t, class_labels=y).sample
                    return out[:, :, pad:pad + size, pad:pad + size]
                return m(x, t, class_labels=y).sample

            rows.append(("diffusers", model, call))
        for name, net, fn in rows:
            n_params, step, forward = bench(net, size, fn)
            print(f"{name:<10}  {size:>4}  {n_params:>9.2f}  {1000 * step:>19.0f}  {forward:>23.2f}")


if __name__ == "__main__":
    main()
