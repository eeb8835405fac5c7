#!/usr/bin/python3
"""Writes the example inputs the README's blocks use that are not .npy tensors of the seed, once, with real torch
(1.13) and numpy: examples/batch1.npy and batch2.npy (activations to calibrate on), examples/model.pt (a torch.save
state dict) and examples/model.safetensors (the same tensors), and copies MCT's exported ONNX model mctq_0.onnx from the
shared reference cases as examples/model_mctq.onnx. The results are committed; nothing needs Python to run them.

Run with the Debian python that has torch and numpy: /usr/bin/python3 build/make-examples.py [SHARED]
(SHARED defaults to $QUANTSHELL_SHARED, else ../shared beside the repository).
"""
import collections
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QUANTSHELL_SHARED", os.path.join(ROOT, "..", "shared"))

rng = np.random.default_rng(20261204)

# Two batches of a layer's activations (8 samples x 16 features), centred a little above 0, so that a calibrated
# activation quantizer has a range that is not symmetric.
for index in (1, 2):
    batch = (rng.standard_normal((8, 16)) * 0.8 + 0.4).astype(np.float32)
    np.save(os.path.join(EXAMPLES, f"batch{index}.npy"), batch, allow_pickle=False)

# A small network's state dict: the weights of examples/weights/*.npy with their biases.
state = collections.OrderedDict()
for name in ("conv1", "conv2", "fc"):
    weight = np.load(os.path.join(EXAMPLES, "weights", name + ".npy"))
    state[name + ".weight"] = torch.from_numpy(weight)
    state[name + ".bias"] = torch.from_numpy((rng.standard_normal(weight.shape[0]) * 0.05).astype(np.float32))
torch.save(state, os.path.join(EXAMPLES, "model.pt"))


# safetensors, written per the format's description (no safetensors package here): header length, JSON, data.
def write_safetensors(path, tensors, metadata):
    header, data, offset = {"__metadata__": metadata}, b"", 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


write_safetensors(os.path.join(EXAMPLES, "model.safetensors"),
                  collections.OrderedDict((name, tensor.numpy()) for name, tensor in state.items()), {"format": "pt"})

shutil.copyfile(os.path.join(SHARED, "onnx-mctq", "mctq_0.onnx"), os.path.join(EXAMPLES, "model_mctq.onnx"))
