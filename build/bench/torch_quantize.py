# The baseline a user runs today: import torch, np.load, fake-quantize, np.save (per tensor or per channel on axis 0).
import sys
import numpy as np
import torch

source, target, layout = sys.argv[1], sys.argv[2], sys.argv[3]
x = torch.from_numpy(np.load(source))
if layout == "tensor":
    y = torch.fake_quantize_per_tensor_affine(x, 2.0 / 128, 0, -128, 127)
else:
    channels = x.shape[0]
    scales = torch.tensor([(1.0 + 0.01 * c) / 128 for c in range(channels)], dtype=torch.float32)
    y = torch.fake_quantize_per_channel_affine(x, scales, torch.zeros(channels, dtype=torch.int32), 0, -128, 127)
np.save(target, y.numpy())
