"""PyTorch/diffusers side of the model benchmarks (Docs/benchmarks.md): runs one component of the SD1.5-shaped
random-weight folder that Scripts/bench/make_bake_inputs.py writes (bench-data/sd15-random, fp16 files, run in
float32 on the CPU as diffusers does there) and prints the time of each call after one warm-up call.

    .venv-ref/bin/python Scripts/bench/diffusers_models.py unet --batch 1 --iterations 3
    .venv-ref/bin/python Scripts/bench/diffusers_models.py vae-decode --iterations 2
    .venv-ref/bin/python Scripts/bench/diffusers_models.py taesd-decode --taesd bench-data/taesd --iterations 3
    .venv-ref/bin/python Scripts/bench/diffusers_models.py unet --model bench-data/sdxl-random --size 128 --iterations 1

The process as a whole (load + warm-up + iterations) is what farm-bench times against the Swift benchmark
target doing the same work; the per-call lines give the steady-state figure.
"""
import argparse
import os
import time

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["unet", "vae-decode", "vae-encode", "taesd-decode"])
    p.add_argument("--model", default="bench-data/sd15-random")
    p.add_argument("--taesd", default="bench-data/taesd")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=64, help="latent side (64 = 512 px)")
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    with torch.inference_mode():
        if a.what == "unet":
            model = UNet2DConditionModel.from_pretrained(os.path.join(a.model, "unet"), torch_dtype=torch.float32)
            x = torch.randn(a.batch, 4, a.size, a.size, generator=g)
            ctx = torch.randn(a.batch, 77, model.config.cross_attention_dim, generator=g)
            added = None
            if model.config.addition_embed_type == "text_time":  # SDXL: pooled embeds + size/crop ids
                side = a.size * 8
                pooled = model.config.projection_class_embeddings_input_dim - 6 * model.config.addition_time_embed_dim
                added = {"text_embeds": torch.randn(a.batch, pooled, generator=g),
                         "time_ids": torch.tensor([[side, side, 0, 0, side, side]] * a.batch, dtype=torch.float32)}
            run = lambda: model(x, torch.tensor(500), encoder_hidden_states=ctx, added_cond_kwargs=added).sample
        elif a.what in ("vae-decode", "vae-encode"):
            model = AutoencoderKL.from_pretrained(os.path.join(a.model, "vae"), torch_dtype=torch.float32)
            if a.what == "vae-decode":
                z = torch.randn(a.batch, 4, a.size, a.size, generator=g)
                run = lambda: model.decode(z).sample
            else:
                img = torch.rand(a.batch, 3, a.size * 8, a.size * 8, generator=g) * 2 - 1
                run = lambda: model.encode(img).latent_dist.mean
        else:
            model = AutoencoderTiny.from_pretrained(a.taesd, torch_dtype=torch.float32)
            z = torch.randn(a.batch, 4, a.size, a.size, generator=g)
            run = lambda: model.decode(z).sample
        model.eval()
        load = time.perf_counter() - t0
        for _ in range(a.warmup):
            run()
        times = []
        for _ in range(a.iterations):
            t = time.perf_counter()
            out = run()
            times.append(time.perf_counter() - t)
    print(f"{a.what} batch {a.batch} latent {a.size}: load {load:.2f} s, per call "
          + " ".join(f"{t:.3f}" for t in times) + f" s (min {min(times):.3f}); out {tuple(out.shape)}")


if __name__ == "__main__":
    main()
