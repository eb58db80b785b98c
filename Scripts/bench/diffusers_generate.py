"""Reference for the end-to-end generation benchmark (Docs/benchmarks.md): prompt to PNG with diffusers'
StableDiffusionPipeline (StableDiffusionXLPipeline for an SDXL folder) on a diffusers folder (the SD1.5-shaped random folder of make_bake_inputs.py), the same
scheduler, seed, size and LoRA strength as the `lora-tool generate` command it is compared with. torch uses
2 threads (the machine's cores) and float32 (diffusers' CPU default; fp16 matmuls on CPU are slower).

From the repository root, with the reference venv .venv-ref/:
    .venv-ref/bin/python Scripts/bench/diffusers_generate.py --model bench-data/sd15-random --scheduler lcm \\
        --steps 4 --cfg 1 --lora bench-data/lcm-lora-r64.safetensors --lora-scale 0.35 -o /tmp/diffusers.png
Add --taesd bench-data/taesd to decode with an AutoencoderTiny (pipe.vae = AutoencoderTiny(...)).
Prints load / generate / save times to stderr; time the whole process from outside (/usr/bin/time -v).
"""
import argparse
import json
import os
import sys
import time

t_start = time.perf_counter()
import torch  # noqa: E402
from diffusers import (AutoencoderTiny, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,  # noqa: E402
                       EulerDiscreteScheduler, LCMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline)

# InvokeAI ids, as `lora-tool generate --scheduler` takes them.
SCHEDULERS = {
    "lcm": lambda c: LCMScheduler.from_config(c),
    "euler": lambda c: EulerDiscreteScheduler.from_config(c),
    "euler_a": lambda c: EulerAncestralDiscreteScheduler.from_config(c),
    "dpmpp_2m": lambda c: DPMSolverMultistepScheduler.from_config(c),
    "dpmpp_2m_k": lambda c: DPMSolverMultistepScheduler.from_config(c, use_karras_sigmas=True),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--prompt", default="a photo of an astronaut riding a horse on the moon")
    p.add_argument("--negative", default="")
    p.add_argument("--scheduler", default="lcm", choices=sorted(SCHEDULERS))
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--cfg", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--lora")
    p.add_argument("--lora-scale", type=float, default=1.0)
    p.add_argument("--taesd")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    with open(os.path.join(a.model, "model_index.json")) as f:
        xl = json.load(f).get("_class_name") == "StableDiffusionXLPipeline"
    if xl:
        pipe = StableDiffusionXLPipeline.from_pretrained(a.model, dtype=torch.float32)
    else:
        pipe = StableDiffusionPipeline.from_pretrained(a.model, dtype=torch.float32, safety_checker=None,
                                                       feature_extractor=None, requires_safety_checker=False)
    pipe.scheduler = SCHEDULERS[a.scheduler](pipe.scheduler.config)
    lora_times = ""
    if a.lora:
        tl = time.perf_counter()
        pipe.load_lora_weights(a.lora, adapter_name="bench")
        tf = time.perf_counter()
        pipe.fuse_lora(lora_scale=a.lora_scale)
        pipe.unload_lora_weights()
        lora_times = f" (of which LoRA load {tf - tl:.2f} s, fuse {time.perf_counter() - tf:.2f} s)"

    if a.taesd:
        pipe.vae = AutoencoderTiny.from_pretrained(a.taesd, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    t1 = time.perf_counter()
    with torch.inference_mode():
        image = pipe(prompt=a.prompt, negative_prompt=a.negative or None, num_inference_steps=a.steps,
                     guidance_scale=a.cfg, width=a.width, height=a.height,
                     generator=torch.Generator().manual_seed(a.seed)).images[0]
    t2 = time.perf_counter()
    image.save(a.output)
    t3 = time.perf_counter()
    print(f"diffusers: import {t0 - t_start:.2f} s, load {t1 - t0:.2f} s{lora_times}, generate {t2 - t1:.2f} s, "
          f"save {t3 - t2:.2f} s, total {t3 - t_start:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
