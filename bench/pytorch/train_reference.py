"""Trains the seed article's DCGAN in PyTorch on one of the trainer's data sets and writes samples to score.

The quality half of the PyTorch comparison: the same images (exported by bench/export-data.ts),
batch size, optimiser, initialisation, widths and number of iterations as the project's run, then N
samples as PNGs for `gan evaluate --images <dir>`.

  # mnist (the defaults: .cache/bench/mnist-train-32, widths 32), scored with --classifier mnist-32
  /usr/bin/python3 bench/pytorch/train_reference.py --steps 4000 --sample-at 2000,3000 --out .cache/bench/reference-uncond
  /usr/bin/python3 bench/pytorch/train_reference.py --steps 4000 --sample-at 2000,3000 --conditional --out .cache/bench/reference-cond
  # emoji in eight styles, 32x32 RGB (bench/export-data.ts --data emoji --image-size 32), widths 64,
  # scored with --extractor mobilenet --data emoji --image-size 32
  /usr/bin/python3 bench/pytorch/train_reference.py --data .cache/bench/emoji-train-32 --gwidth 64 --dwidth 64 \
    --steps 4000 --sample-at 1000,2000,3000 --samples 2000 --conditional --out .cache/bench/reference-emoji

writes <out>/step-002000/, <out>/step-003000/ and <out>/step-004000/ from one run (the first 2000
steps of a 4000-step run are the 2000-step run: one seed drives data order, noise and classes).

--conditional is the project's conditional DCGAN (core/src/model.ts): the one-hot class appended to z
for G, and K constant class planes appended to D's input after the image channels; fake classes
drawn uniformly; K is the number of class names the export wrote. Without it the model is the
article's, unconditional. The models are bench/pytorch/dcgan.py's, at these widths, with as many
image channels as the data (1 for mnist, 3 for colour data sets).

Samples: G in eval mode (batch-norm moving averages), as the project's exported generator serves.
Unconditional samples go to <step dir>/NNNN.png; conditional ones to <step dir>/<class>/NNNN.png with
the class of sample i being i mod K, so an equal number per class (the sub-folder names are the class
names, which is how the evaluator reads the requested class of a folder's images). Pixels are
round((x + 1) * 127.5), clamped, as core/src/image.ts writes them: 8-bit greyscale PNGs for one
channel, 8-bit RGB for three. A summary goes to <out>/summary.json.
"""
import argparse
import json
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan import Discriminator, Generator, init_weights  # noqa: E402


def load_data(prefix):
    with open(f"{prefix}.json") as f:
        header = json.load(f)
    n, size, ch = header["count"], header["imageSize"], header["channels"]
    images = np.fromfile(f"{prefix}.f32", dtype="<f4").reshape(n, size, size, ch).transpose(0, 3, 1, 2)
    labels = np.fromfile(f"{prefix}.labels", dtype="<i4")
    assert labels.shape[0] == n, "labels and images disagree"
    return header, torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def write_png(path, pixels):
    """Minimal 8-bit PNG (no extra dependency): greyscale for [H, W] pixels, RGB for [H, W, 3]."""
    h, w = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def to_bytes(x):
    return np.clip(np.round((x + 1) * 127.5), 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=".cache/bench/mnist-train-32", help="prefix written by bench/export-data.ts (default: its mnist export)")
    ap.add_argument("--steps", type=int, required=True, help="training iterations (one D step + one G step each)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--latent", type=int, default=100)
    ap.add_argument("--gwidth", type=int, default=32, help="generator width (article: 64; the mnist run: 32)")
    ap.add_argument("--dwidth", type=int, default=32)
    ap.add_argument("--conditional", action="store_true")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sample-at", default="", help="comma-separated steps that also write samples (the last step always does)")
    ap.add_argument("--out", required=True, help="folder for step-NNNNNN/ sample folders and summary.json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    header, images, labels = load_data(args.data)
    n, nc = images.shape[0], images.shape[1]
    k = len(header["classNames"]) if args.conditional else 0
    if args.conditional and k < 2:
        sys.exit(f"--conditional needs class labels: {args.data}.json names {k} classes")
    steps_per_epoch = n // args.batch

    g = Generator(nz=args.latent + k, ngf=args.gwidth, nc=nc)
    d = Discriminator(ndf=args.dwidth, nc=nc + k)
    g.apply(init_weights)
    d.apply(init_weights)
    loss = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    ones, zeros = torch.ones(args.batch, 1), torch.zeros(args.batch, 1)
    eye = torch.eye(max(k, 1))

    def g_input(z, c):
        return z if k == 0 else torch.cat([z, eye[c]], dim=1)  # [N, latent + K]

    def d_input(x, c):
        if k == 0:
            return x
        planes = eye[c].view(-1, k, 1, 1).expand(-1, k, x.shape[2], x.shape[3])  # [N, K, H, W]
        return torch.cat([x, planes], dim=1)

    def write_samples(step):
        """N samples of G in eval mode; the sample noise has its own generator, so training is unaffected."""
        g.eval()
        gen = torch.Generator().manual_seed(args.seed + 1)
        out = os.path.join(args.out, f"step-{step:06d}")
        with torch.no_grad():
            z = torch.randn(args.samples, args.latent, generator=gen)
            c = torch.arange(args.samples) % max(k, 1)
            x = to_bytes(g(g_input(z, c)).numpy())  # [N, C, H, W]
        g.train()
        for i in range(args.samples):
            folder = out if k == 0 else os.path.join(out, header["classNames"][c[i]])
            os.makedirs(folder, exist_ok=True)
            pixels = x[i, 0] if nc == 1 else np.ascontiguousarray(x[i].transpose(1, 2, 0))  # [H, W] or [H, W, 3]
            write_png(os.path.join(folder, f"{i:04d}.png"), pixels)
        return out

    sample_at = sorted({int(s) for s in args.sample_at.split(",") if s} | {args.steps})
    written = []
    print(f"{header.get('name', 'data')}: {n} images {images.shape[2]}x{images.shape[3]}x{nc}, {steps_per_epoch} steps per epoch, {args.steps} steps, conditional={k > 0}, threads {torch.get_num_threads()}", file=sys.stderr)
    t0 = time.perf_counter()
    order = None
    for step in range(args.steps):
        epoch, pos = divmod(step, steps_per_epoch)
        if pos == 0:
            order = torch.randperm(n)
        idx = order[pos * args.batch:(pos + 1) * args.batch]
        real, real_c = images[idx], labels[idx]
        # D: real as 1, detached fake as 0 (two batch-norm batches, as the article).
        fake_c = torch.randint(0, max(k, 1), (args.batch,))
        fake = g(g_input(torch.randn(args.batch, args.latent), fake_c))
        d.zero_grad()
        out_real = d(d_input(real, real_c))
        out_fake = d(d_input(fake.detach(), fake_c))
        d_loss = loss(out_real, ones) + loss(out_fake, zeros)
        d_loss.backward()
        opt_d.step()
        # G: fresh noise (and classes), labelled real: the non-saturating loss.
        g.zero_grad()
        gen_c = torch.randint(0, max(k, 1), (args.batch,))
        out = d(d_input(g(g_input(torch.randn(args.batch, args.latent), gen_c)), gen_c))
        g_loss = loss(out, ones)
        g_loss.backward()
        opt_g.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(
                f"step {step} epoch {epoch} d_loss={d_loss.item():.4f} g_loss={g_loss.item():.4f} "
                f"D(x)={torch.sigmoid(out_real).mean().item():.3f} D(G(z))={torch.sigmoid(out_fake).mean().item():.3f} "
                f"{time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
            )
        if step + 1 in sample_at:
            pause = time.perf_counter()
            sample_dir = write_samples(step + 1)
            t0 += time.perf_counter() - pause  # training time excludes sampling
            written.append({"step": step + 1, "dir": sample_dir, "trainSeconds": round(time.perf_counter() - t0, 1)})
            print(f"samples at step {step + 1} → {sample_dir}", file=sys.stderr)
    train_s = time.perf_counter() - t0

    summary = {
        "data": os.path.abspath(args.data),
        "dataset": header.get("name"),
        "channels": nc,
        "classNames": header["classNames"] if k > 0 else [],
        "steps": args.steps,
        "epochs": args.steps / steps_per_epoch,
        "batch": args.batch,
        "conditional": k > 0,
        "generatorWidth": args.gwidth,
        "discriminatorWidth": args.dwidth,
        "latent": args.latent,
        "threads": torch.get_num_threads(),
        "trainSeconds": round(train_s, 1),
        "msPerStep": round(train_s / args.steps * 1000, 1),
        "samples": args.samples,
        "sampleDirs": written,
        "torch": torch.__version__,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
