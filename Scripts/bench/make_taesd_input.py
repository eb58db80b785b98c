"""A TAESD-shaped AutoencoderTiny (diffusers' default config, the real TAESD's layout) with random fp16 weights in
bench-data/taesd, for the TAESD decode benchmark (Docs/benchmarks.md). The SD1.5-shaped UNet/VAE come from
Scripts/bench/make_bake_inputs.py.

    .venv-ref/bin/python Scripts/bench/make_taesd_input.py
"""
import torch
from diffusers import AutoencoderTiny

torch.manual_seed(0)
AutoencoderTiny().half().save_pretrained("bench-data/taesd")
print("bench-data/taesd written")
