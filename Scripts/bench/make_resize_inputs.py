"""Input for the resize benchmark (Docs/benchmarks.md, "Rank tools"): an SD1.5-shaped kohya LoRA
of rank 128 (default) on every attention, ff, proj_in/out, resnet conv, shortcut, up/downsampler
and time_emb_proj layer of the UNet plus the text encoder's q/k/v/out/fc1/fc2, fp16, with decaying
spectra (column i of up scaled by 0.97^i). Written to bench-data/ (git-ignored).

From the repository root, with the reference venv .venv-ref/ (made by Scripts/fixtures/setup.sh or
`make fixtures`):
    .venv-ref/bin/python Scripts/bench/make_resize_inputs.py [RANK]
"""
import os
import re
import sys

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

OUT = "bench-data"
TARGETS = re.compile(
    r"(to_q|to_k|to_v|to_out\.0|proj_in|proj_out|ff\.net\.0\.proj|ff\.net\.2|conv1|conv2|conv_shortcut|"
    r"downsamplers\.0\.conv|upsamplers\.0\.conv|time_emb_proj)$")


def add(lora, key, out_f, in_shape, rank):
    decay = 0.97 ** torch.arange(rank, dtype=torch.float32)
    lora[key + ".lora_down.weight"] = (torch.randn(rank, *in_shape) * 0.01).half()
    up = torch.randn(out_f, rank) * 0.01 * decay
    lora[key + ".lora_up.weight"] = (up.reshape(out_f, rank, 1, 1) if len(in_shape) == 3 else up).half()
    lora[key + ".alpha"] = torch.tensor(float(rank) / 2, dtype=torch.float16)


def main():
    rank = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    with torch.device("meta"):
        unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)  # SD1.5
    lora = {}
    for name, module in unet.named_modules():
        if not TARGETS.search(name) or not hasattr(module, "weight"):
            continue
        shape = tuple(module.weight.shape)
        add(lora, "lora_unet_" + name.replace(".", "_"), shape[0], shape[1:], rank)
    for layer in range(12):
        for sub, (o, i) in {"self_attn_q_proj": (768, 768), "self_attn_k_proj": (768, 768), "self_attn_v_proj": (768, 768),
                            "self_attn_out_proj": (768, 768), "mlp_fc1": (3072, 768), "mlp_fc2": (768, 3072)}.items():
            add(lora, f"lora_te_text_model_encoder_layers_{layer}_{sub}", o, (i,), rank)
    meta = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": str(rank / 2),
            "ss_base_model_version": "sd_v1"}
    path = os.path.join(OUT, f"sd15-lora-r{rank}.safetensors")
    save_file(lora, path, meta)
    print(f"{len(lora) // 3} modules, rank {rank} -> {path}")


if __name__ == "__main__":
    main()
