"""Inputs for the bake and end-to-end benchmarks (Docs/benchmarks.md): an SD1.5-shaped diffusers
folder with random fp16 weights (UNet, text encoder, VAE), the real CLIP tokenizer vocabulary
(tokenizer/, rebuilt by Scripts/fixtures/text_fixtures.py's recipe from its committed merges), SD1.5's
scheduler config, and a rank-64
LCM-LoRA-shaped LoRA (kohya prefix + diffusers names: attention, ff, proj_in/out,
resnet convs, shortcuts, up/downsamplers, time_emb_proj), as the real
lcm-lora-sdv1-5 file is laid out. Written to bench-data/ (git-ignored).

From the repository root, with the reference venv .venv-ref/ (made by Scripts/fixtures/setup.sh or
`make fixtures`):
    .venv-ref/bin/python Scripts/bench/make_bake_inputs.py
    .venv-ref/bin/python Scripts/bench/make_bake_inputs.py tokenizer   # only tokenizer/, scheduler/, model_index.json
"""
import json
import os
import re
import sys

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

OUT = "bench-data"
RANK = 64
TARGETS = re.compile(
    r"(to_q|to_k|to_v|to_out\.0|proj_in|proj_out|ff\.net\.0\.proj|ff\.net\.2|conv1|conv2|conv_shortcut|"
    r"downsamplers\.0\.conv|upsamplers\.0\.conv|time_emb_proj)$")


def write_pipeline_files(folder):
    """tokenizer/ (CLIP ViT-L's 49,408-token vocabulary), scheduler/ (SD1.5's PNDM config) and model_index.json,
    so diffusers' `from_pretrained` and `lora-tool generate` both load the folder as they load SD1.5."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    from text_fixtures import committed_merges, write_tokenizer_folder
    tok = os.path.join(folder, "tokenizer")
    write_tokenizer_folder(tok, committed_merges())
    end = "<|endoftext|>"
    for name, content in [
        ("special_tokens_map.json", {"bos_token": "<|startoftext|>", "eos_token": end, "pad_token": end, "unk_token": end}),
        ("tokenizer_config.json", {"model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "do_lower_case": True,
                                   "bos_token": "<|startoftext|>", "eos_token": end, "pad_token": end, "unk_token": end})]:
        with open(os.path.join(tok, name), "w") as f:
            json.dump(content, f, indent=2)
    # SD1.5's scheduler_config.json as published (clip_sample is read by the schedulers built from this config).
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
                   "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
                   "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
                   "clip_sample": False}, f, indent=2)
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
                   "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"],
                   "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "PNDMScheduler"],
                   "tokenizer": ["transformers", "CLIPTokenizer"], "safety_checker": [None, None],
                   "feature_extractor": [None, None], "requires_safety_checker": False}, f)


def main():
    if sys.argv[1:] == ["tokenizer"]:
        write_pipeline_files(os.path.join(OUT, "sd15-random"))
        print("tokenizer/, scheduler/ and model_index.json written")
        return
    torch.manual_seed(0)
    folder = os.path.join(OUT, "sd15-random")
    os.makedirs(folder, exist_ok=True)
    # SD1.5: the default block layout with 768-wide cross-attention (CLIP ViT-L) and 64×64 latents.
    unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
    unet.half().save_pretrained(os.path.join(folder, "unet"))
    te = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                      num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu"))
    te.half().save_pretrained(os.path.join(folder, "text_encoder"))
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=512)
    vae.half().save_pretrained(os.path.join(folder, "vae"))
    write_pipeline_files(folder)

    lora = {}
    for name, module in unet.named_modules():
        if not TARGETS.search(name) or not hasattr(module, "weight"):
            continue
        w = module.weight
        key = "lora_unet_" + name.replace(".", "_")
        if w.ndim == 4:
            out_c, in_c, kh, kw = w.shape
            lora[key + ".lora_down.weight"] = (torch.randn(RANK, in_c, kh, kw) * 0.01).half()
            lora[key + ".lora_up.weight"] = (torch.randn(out_c, RANK, 1, 1) * 0.01).half()
        else:
            out_f, in_f = w.shape
            lora[key + ".lora_down.weight"] = (torch.randn(RANK, in_f) * 0.01).half()
            lora[key + ".lora_up.weight"] = (torch.randn(out_f, RANK) * 0.01).half()
        lora[key + ".alpha"] = torch.tensor(float(RANK), dtype=torch.float16)
    save_file(lora, os.path.join(OUT, "lcm-lora-r64.safetensors"))
    print(f"{len(lora) // 3} LoRA modules written")


if __name__ == "__main__":
    main()
