# What MCT's lut_quantizer (mct_quantizers v1.6, pytorch/quantizer_utils.py) does, with the same torch ops, on a
# .npy file: scale into the LUT's 8-bit signed range (true division by t + eps, clip), argmin |v - lut| over a new
# last axis, (lut / 2^7) * t. Prints the arithmetic's own time to stderr; the caller times the whole process.
#   Usage: torch_lut.py SOURCE TARGET tensor|channel     (the table and thresholds are lut-e2e.sh's)
import sys
import time

import numpy as np
import torch

LUT = [-100.0, -60.0, -30.0, -10.0, 10.0, 30.0, 60.0, 100.0]
BITWIDTH = 8
EPS = 1e-8

source, target, layout = sys.argv[1], sys.argv[2], sys.argv[3]
x = torch.from_numpy(np.load(source))
lut = torch.tensor(LUT, dtype=torch.float32)
if layout == "tensor":
    threshold = torch.tensor([2.0], dtype=torch.float32)
else:  # per channel on axis 0, as MCT reshapes its thresholds
    shape = [1] * x.dim()
    shape[0] = -1
    threshold = torch.tensor([1.0 + 0.01 * c for c in range(x.shape[0])], dtype=torch.float32).reshape(shape)

start = time.perf_counter()
scaled = torch.clip((x / (threshold + EPS)) * (2 ** (BITWIDTH - 1)), min=-2 ** (BITWIDTH - 1), max=2 ** (BITWIDTH - 1) - 1)
scaled = scaled.unsqueeze(-1)
expanded = lut.reshape([*[1 for _ in range(scaled.dim() - 1)], -1])
assignments = torch.argmin(torch.abs(scaled - expanded), dim=-1)
centers = lut.flatten()[assignments]
y = (centers / (2 ** (BITWIDTH - 1))) * threshold
print("torch lut arithmetic: %.3f s (%d threads)" % (time.perf_counter() - start, torch.get_num_threads()), file=sys.stderr)
np.save(target, y.numpy())
