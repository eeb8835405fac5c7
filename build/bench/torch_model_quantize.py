# The Python baseline for a model file (build/bench/speed.sh): every float tensor of rank >= 2 fake-quantized per channel
# on axis 0, symmetric 8 bits, thresholds 1.00, 1.01, ... (scale t/128), as `dotnet-quant quantize FILE --method
# symmetric --threshold ... --per-channel --channel-axis 0` does; everything else kept.
#   torch_model_quantize.py IN OUT      (.safetensors: read and written with numpy, header bytes kept; .pt: torch.load/save)
import json, struct, sys
import numpy as np
import torch

source, target = sys.argv[1], sys.argv[2]

def fake_quantize(x):
    channels = x.shape[0]
    scales = torch.tensor([(1.0 + 0.01 * c) / 128 for c in range(channels)], dtype=torch.float32)
    return torch.fake_quantize_per_channel_affine(x, scales, torch.zeros(channels, dtype=torch.int32), 0, -128, 127)

if source.endswith(".safetensors"):
    with open(source, "rb") as f, open(target, "wb") as out:
        (length,) = struct.unpack("<Q", f.read(8))
        text = f.read(length)
        out.write(struct.pack("<Q", length))
        out.write(text)
        header = json.loads(text)
        entries = sorted(((v["data_offsets"], k, v) for k, v in header.items() if k != "__metadata__"), key=lambda e: e[0][0])
        for (begin, end), name, info in entries:
            data = f.read(end - begin)
            if info["dtype"] == "F32" and len(info["shape"]) >= 2:
                x = torch.from_numpy(np.frombuffer(data, dtype="<f4").reshape(info["shape"]).copy())
                data = fake_quantize(x).numpy().tobytes()
            out.write(data)
else:
    state = torch.load(source)
    torch.save({k: fake_quantize(v) if v.is_floating_point() and v.dim() >= 2 else v for k, v in state.items()}, target)
