"""Reference timing for `diffusion-bench conv2d`: torch.nn.functional.conv2d on the CPU, in-process.

    .venv-ref/bin/python Scripts/bench/conv2d_torch.py SHAPE [REPEATS]

SHAPE names one row of Docs/benchmarks.md (`unet320`, `unet640`, `unet1280`, `vae512`, `vae128`) or is
`C_in,C_out,H,W[,k,stride,pad,batch]`. Float32, NCHW, bias, batch 1 unless given. Prints the median and
minimum time per call and the direct-convolution GFLOP/s (2·N·C_out·H_out·W_out·C_in·k² FLOPs).
"""
import statistics
import sys
import time

import torch

NAMED = {
    "unet320": (320, 320, 64, 64),
    "unet640": (640, 640, 32, 32),
    "unet1280": (1280, 1280, 16, 16),
    "vae512": (512, 512, 128, 128),
    "vae128": (128, 128, 512, 512),
}


def parse(spec):
    if spec in NAMED:
        cin, cout, h, w = NAMED[spec]
        return cin, cout, h, w, 3, 1, 1, 1
    parts = [int(x) for x in spec.split(",")]
    defaults = [None, None, None, None, 3, 1, 1, 1]
    parts += defaults[len(parts):]
    return tuple(parts)


def main():
    cin, cout, h, w, k, stride, pad, batch = parse(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.manual_seed(0)
    x = torch.randn(batch, cin, h, w)
    weight = torch.randn(cout, cin, k, k) * (1.0 / (cin * k * k) ** 0.5)
    bias = torch.randn(cout)
    with torch.inference_mode():
        torch.nn.functional.conv2d(x, weight, bias, stride, pad)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            y = torch.nn.functional.conv2d(x, weight, bias, stride, pad)
            times.append(time.perf_counter() - t0)
    hout, wout = y.shape[2], y.shape[3]
    flops = 2.0 * batch * cout * hout * wout * cin * k * k
    med = statistics.median(times)
    print(f"torch {torch.__version__} conv2d {batch}x{cin}x{h}x{w} -> {cout} k{k} s{stride} p{pad}: "
          f"median {med * 1e3:.2f} ms, min {min(times) * 1e3:.2f} ms, {flops / med / 1e9:.1f} GFLOP/s "
          f"({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
