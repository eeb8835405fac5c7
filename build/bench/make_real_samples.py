"""Sample inputs for build/bench/float-to-smaller.sh, as each model's own preprocessing makes them.

Photos and text come from Debian's python3-skimage (its bundled images) and DejaVu fonts (python3-pil renders the
lines); audio is synthetic. Seeded; one .npy (one-input models) or .npz (silero VAD) per run, in <out>/<model>/{calib,eval}.
"""
import os, random, sys
import numpy as np
from PIL import Image, ImageDraw, ImageFont
import skimage.data as data

out = sys.argv[1]
rng = np.random.default_rng(11)
random.seed(11)


def save(model, split, index, array):
    folder = os.path.join(out, model, split)
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, f"sample{index:02d}.npy"), array)


# ISNet (img.ly background removal): RGB resized to 1024x1024, (x/255 - 0.5) / 1, NCHW float32.
photos = {"calib": ["astronaut.png", "rocket.jpg", "motorcycle_left.png", "ihc.png"],
          "eval": ["chelsea.png", "coffee.png", "motorcycle_right.png"]}
bundled = os.path.dirname(data.__file__)
for split, names in photos.items():
    for i, name in enumerate(names):
        img = Image.open(os.path.join(bundled, name)).convert("RGB").resize((1024, 1024), Image.BILINEAR)
        x = (np.asarray(img, np.float32) / 255 - 0.5).transpose(2, 0, 1)[None]
        save("isnet", split, i, np.ascontiguousarray(x))

fonts = [f"/usr/share/fonts/truetype/dejavu/{f}.ttf" for f in ("DejaVuSans", "DejaVuSerif", "DejaVuSansMono")]
words = ("the quick brown fox jumps over lazy dog invoice total amount date number street city receipt price "
         "quantity 2024 12.50 ORDER Shipping Address").split()


def text_line():
    text = " ".join(random.choice(words) for _ in range(random.randint(1, 3)))
    font = ImageFont.truetype(random.choice(fonts), random.randint(18, 30))
    img = Image.new("RGB", (int(font.getlength(text)) + 10, 48), tuple(int(c) for c in rng.integers(200, 256, 3)))
    ImageDraw.Draw(img).text((5, 24), text, fill=tuple(int(c) for c in rng.integers(0, 60, 3)), font=font, anchor="lm")
    return img


# PaddleOCR direction classifier: lines resized to height 48 (width <= 192, padded), (x/255 - 0.5) / 0.5; half upside down.
for split, count in (("calib", 8), ("eval", 8)):
    for f in range(count):
        batch = np.zeros((4, 3, 48, 192), np.float32)
        for n in range(4):
            img = text_line()
            if random.random() < 0.5:
                img = img.rotate(180)
            width = min(192, int(np.ceil(48 * img.width / img.height)))
            arr = (np.asarray(img.resize((width, 48)), np.float32) / 255 - 0.5) / 0.5
            batch[n, :, :, :width] = arr.transpose(2, 0, 1)
        save("ocr-cls", split, f, batch)

# PaddleOCR text detector: pages of text lines at 640x640, ImageNet mean/std; skimage's scanned page and text photo too.
mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def page():
    img = Image.new("RGB", (640, 640), tuple(int(c) for c in rng.integers(215, 256, 3)))
    draw = ImageDraw.Draw(img)
    y = int(rng.integers(10, 40))
    while y < 600:
        font = ImageFont.truetype(random.choice(fonts), random.randint(16, 34))
        text = " ".join(random.choice(words) for _ in range(random.randint(2, 6)))
        draw.text((int(rng.integers(10, 120)), y), text, fill=tuple(int(c) for c in rng.integers(0, 70, 3)), font=font)
        y += random.randint(40, 80)
    return img


def det_input(img):
    img = img.convert("RGB").resize((640, 640), Image.BILINEAR)
    return (((np.asarray(img, np.float32) / 255).transpose(2, 0, 1) - mean) / std)[None].astype(np.float32)


det = {"calib": [page() for _ in range(5)] + [Image.open(os.path.join(bundled, "page.png"))],
       "eval": [page() for _ in range(4)] + [Image.open(os.path.join(bundled, "text.png"))]}
for split, images in det.items():
    for i, img in enumerate(images):
        save("ocr-det", split, i, det_input(img))

# silero VAD legacy: 512 samples at 16 kHz (tones with tremolo, noise, silence), sr int64, zero LSTM state.
for split, count in (("calib", 16), ("eval", 16)):
    for f in range(count):
        t = np.arange(512) / 16000.0
        kind = f % 3
        if kind == 0:
            audio = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
            audio = audio + rng.normal(0, 0.02, 512)
        elif kind == 1:
            audio = rng.normal(0, 0.05, 512)
        else:
            audio = rng.normal(0, 0.002, 512)
        folder = os.path.join(out, "vad", split)
        os.makedirs(folder, exist_ok=True)
        np.savez(os.path.join(folder, f"sample{f:02d}.npz"), input=audio.astype(np.float32)[None],
                 sr=np.array(16000, np.int64), h=np.zeros((2, 1, 64), np.float32), c=np.zeros((2, 1, 64), np.float32))
