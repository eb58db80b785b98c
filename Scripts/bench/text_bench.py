#!/usr/bin/env python3
"""The reference side of `text-bench` (Docs/benchmarks.md), transformers 5 on the same inputs.

    .venv-ref/bin/python Scripts/bench/text_bench.py make-inputs       # bench-data/clip-tokenizer/, bench-data/prompts-10k.txt
    .venv-ref/bin/python Scripts/bench/text_bench.py clip-vit-l [--repeats 10]
    .venv-ref/bin/python Scripts/bench/text_bench.py tokenize [--repeats 5]
"""
import gzip
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))


def opt(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def measure(name, body, repeats, warmup=2):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        body()
        times.append(time.perf_counter() - t)
    times.sort()
    print("%s: median %.4f s  min %.4f s  (%d runs)" % (name, times[len(times) // 2], times[0], repeats))


def make_inputs():
    import text_fixtures as tf
    with gzip.open(os.path.join(tf.OUT, "clip-merges.txt.gz"), "rt", encoding="utf-8") as f:
        merges = f.read().split("\n")[1:49152 - 256 - 2 + 1]
    os.makedirs("bench-data", exist_ok=True)
    tf.write_tokenizer_folder("bench-data/clip-tokenizer", merges)
    with open("bench-data/clip-tokenizer/tokenizer_config.json", "w") as f:
        json.dump({"model_max_length": 77}, f)
    rng = random.Random(10000)
    prompts = [tf.random_string(rng).replace("\n", " ").replace("\r", " ") for _ in range(10000)]
    with open("bench-data/prompts-10k.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(prompts) + "\n")
    print("bench-data/clip-tokenizer, bench-data/prompts-10k.txt")


def clip_vit_l():
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.set_num_threads(2)
    config = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                            max_position_embeddings=77, hidden_act="quick_gelu")
    model = CLIPTextModel(config).eval()
    ids = torch.tensor([[49406] + [320 + 7 * i for i in range(75)] + [49407]])

    def run():
        with torch.inference_mode():
            model(ids)
    measure("clip-vit-l 77 tokens (torch %s)" % torch.__version__, run, opt("--repeats", 10))


def tokenize():
    from transformers import CLIPTokenizerFast
    tok = CLIPTokenizerFast.from_pretrained("bench-data/clip-tokenizer")
    with open("bench-data/prompts-10k.txt", encoding="utf-8") as f:
        prompts = f.read().split("\n")[:-1]

    def run():
        tok(prompts, padding="max_length", truncation=True, max_length=77)
    measure("tokenize %d prompts (padded to 77, CLIPTokenizerFast batch)" % len(prompts), run, opt("--repeats", 5))


{"make-inputs": make_inputs, "clip-vit-l": clip_vit_l, "tokenize": tokenize}[sys.argv[1]]()
