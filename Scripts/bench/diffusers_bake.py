"""Reference for the bake benchmark: diffusers load_lora_weights + fuse_lora +
save_pretrained of the pipeline made by make_bake_inputs.py.

From the repository root, with the reference venv .venv-ref/ (made by Scripts/fixtures/setup.sh or
`make fixtures`):
    /usr/bin/time -v .venv-ref/bin/python Scripts/bench/diffusers_bake.py bench-data/sd15-random bench-data/lcm-lora-r64.safetensors bench-data/out-diffusers
"""
import sys
import time

import torch
from diffusers import StableDiffusionPipeline

base, lora, out = sys.argv[1:4]
t0 = time.perf_counter()
pipe = StableDiffusionPipeline.from_pretrained(base, torch_dtype=torch.float16, safety_checker=None,
                                               feature_extractor=None, requires_safety_checker=False, tokenizer=None)
t1 = time.perf_counter()
pipe.load_lora_weights(lora, adapter_name="lcm")
pipe.fuse_lora(lora_scale=1.0)
pipe.unload_lora_weights()
t2 = time.perf_counter()
pipe.save_pretrained(out, safe_serialization=True)
t3 = time.perf_counter()
print(f"diffusers: load {t1 - t0:.2f} s, load_lora+fuse {t2 - t1:.2f} s, save {t3 - t2:.2f} s, total {t3 - t0:.2f} s")
