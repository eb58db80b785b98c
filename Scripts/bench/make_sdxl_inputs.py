"""An SDXL-shaped diffusers folder with random fp16 weights, bench-data/sdxl-random (git-ignored), for the SDXL
memory and UNet-step benchmarks (Docs/benchmarks.md): SDXL base 1.0's UNet (2.6 B parameters), CLIP ViT-L and
OpenCLIP bigG text encoders (the second with its projection), the SDXL VAE config (scaling 0.13025), both
tokenizers with the real CLIP vocabulary (tokenizer_2 pads with "!"), and SDXL's scheduler config.

The weights are made on the meta device and filled tensor by tensor in fp16 (std 1/sqrt(fan-in) for weights,
zero biases, unit norm scales), so making the folder peaks at about the fp16 size (~7 GB) instead of the fp32
model. It writes ~7 GB. From the repository root, with the reference venv:
    .venv-ref/bin/python Scripts/bench/make_sdxl_inputs.py
"""
import json
import math
import os
import sys

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

OUT = os.path.join("bench-data", "sdxl-random")

UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
VAE = dict(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
           up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=1024,
           scaling_factor=0.13025, force_upcast=True)
TEXT_1 = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
TEXT_2 = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
              max_position_embeddings=77, hidden_act="gelu", projection_dim=1280, pad_token_id=1)


def randomized(make):
    """The module built on the meta device, then given random fp16 values tensor by tensor."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float16)
    try:
        with torch.device("meta"):
            module = make()
    finally:
        torch.set_default_dtype(previous)
    module = module.to_empty(device="cpu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0 if "norm" in name else 0.0)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).mul_(1 / math.sqrt(fan_in)).half())
        for name, b in module.named_buffers():
            if "position_ids" in name:
                b.copy_(torch.arange(b.shape[-1]).expand_as(b))
    return module


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    from text_fixtures import committed_merges, write_tokenizer_folder
    os.makedirs(OUT, exist_ok=True)
    for sub, make in [("unet", lambda: UNet2DConditionModel(**UNET)), ("vae", lambda: AutoencoderKL(**VAE)),
                      ("text_encoder", lambda: CLIPTextModel(CLIPTextConfig(**TEXT_1))),
                      ("text_encoder_2", lambda: CLIPTextModelWithProjection(CLIPTextConfig(**TEXT_2)))]:
        model = randomized(make)
        model.save_pretrained(os.path.join(OUT, sub), safe_serialization=True)
        print(f"{sub}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters", flush=True)
        del model
    merges = committed_merges()
    for sub, pad in [("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")]:
        folder = os.path.join(OUT, sub)
        write_tokenizer_folder(folder, merges)
        special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad, "unk_token": "<|endoftext|>"}
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump(special, f, indent=2)
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "do_lower_case": True, **special}, f, indent=2)
    os.makedirs(os.path.join(OUT, "scheduler"), exist_ok=True)
    with open(os.path.join(OUT, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
                   "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
                   "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
                   "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
                   "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False}, f, indent=2)
    with open(os.path.join(OUT, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.42.1",
                   "force_zeros_for_empty_prompt": True, "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                   "text_encoder": ["transformers", "CLIPTextModel"],
                   "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                   "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
                   "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}, f, indent=2)
    print(f"{OUT} written")


if __name__ == "__main__":
    main()
