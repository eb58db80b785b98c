"""A kohya-format SDXL LoRA patching every linear layer of both text encoders (CLIP ViT-L `lora_te1_`, OpenCLIP
bigG `lora_te2_`: q/k/v/out projections and both MLP layers; rank 8, alpha 4, random fp16 factors), for the
text-encoder fusion memory benchmark (Docs/benchmarks.md) on bench-data/sdxl-random. Writes
bench-data/sdxl-te-lora.safetensors (git-ignored) or the path given. From the repository root, with the reference venv:
    .venv-ref/bin/python Scripts/bench/make_sdxl_te_lora.py [OUTPUT]
"""
import os
import sys

import torch
from safetensors.torch import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("bench-data", "sdxl-te-lora.safetensors")
RANK, ALPHA = 8, 4.0
ENCODERS = (("lora_te1_", 768, 3072, 12), ("lora_te2_", 1280, 5120, 32))


def main():
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for prefix, d, inner, layers in ENCODERS:
        for l in range(layers):
            shapes = {f"self_attn_{p}_proj": (d, d) for p in ("q", "k", "v", "out")}
            shapes.update({"mlp_fc1": (inner, d), "mlp_fc2": (d, inner)})
            for module, (rows, columns) in shapes.items():
                key = f"{prefix}text_model_encoder_layers_{l}_{module}"
                tensors[key + ".lora_down.weight"] = (torch.randn(RANK, columns, generator=g) * 0.02).half()
                tensors[key + ".lora_up.weight"] = (torch.randn(rows, RANK, generator=g) * 0.02).half()
                tensors[key + ".alpha"] = torch.tensor(ALPHA).half()
    save_file(tensors, OUT, metadata={"ss_network_module": "networks.lora", "ss_network_dim": str(RANK),
                                      "ss_network_alpha": str(ALPHA), "ss_base_model_version": "sdxl_base_v1-0"})
    print(f"{OUT}: {len(tensors) // 3} modules")


if __name__ == "__main__":
    main()
