# Inputs of build/bench/speed.sh: float32 Gaussian weights (seeded), the same bytes as one .npy (64, N, 1024) and as a
# model file of 16 tensors (64, N/16, 1024) named layerK.weight: safetensors (written here with numpy: 8-byte header
# length, JSON header, data) or a PyTorch checkpoint (torch.save of a state dict).
#   speed_inputs.py npy PATH MIB | safetensors PATH MIB | pt PATH MIB | folder DIR COUNT
import json, os, struct, sys
import numpy as np

def rows(mib, parts=1):
    return mib * 1024 * 1024 // 4 // 64 // 1024 // parts

def tensors(mib):
    rng = np.random.default_rng(15)
    n = rows(mib, 16)
    for k in range(16):
        yield "layer%d.weight" % k, (rng.standard_normal(64 * n * 1024, dtype=np.float32) * 0.5).reshape(64, n, 1024)

kind, path = sys.argv[1], sys.argv[2]
if kind == "npy":
    mib = int(sys.argv[3])
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(64, rows(mib), 1024))
    n = rows(mib, 16)
    for k, (_, t) in enumerate(tensors(mib)):
        out[:, k * n:(k + 1) * n, :] = t
    out.flush()
elif kind == "safetensors":
    mib = int(sys.argv[3])
    items = list(tensors(mib))
    header, offset = {}, 0
    for name, t in items:
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, t in items:
            f.write(t.tobytes())
elif kind == "pt":
    import torch
    mib = int(sys.argv[3])
    torch.save({name: torch.from_numpy(t) for name, t in tensors(mib)}, path)
elif kind == "folder":
    count = int(sys.argv[3])
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(count):
        np.save(os.path.join(path, "t%04d.npy" % i), rng.standard_normal(16384, dtype=np.float32))
else:
    sys.exit("unknown kind " + kind)
