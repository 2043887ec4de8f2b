"""PyTorch reference of the seed article's DCGAN (32x32x3, z 100, widths 64), driven by bench/run.ts.

Reads JSON commands from stdin, one per line, and answers each with one JSON line on stdout:
  {"cmd": "load", "weights": PATH}          generator weights exported from TensorFlow.js (see below)
  {"cmd": "forward", "input": B64, "n": N}  generator output for N latents, NHWC float32 (base64)
  {"cmd": "time_forward", "batch": N, "reps": K, "threads": T}   milliseconds per forward pass
  {"cmd": "time_train", "batch": N, "reps": K, "threads": T}     milliseconds per training iteration
  (both answer {"ms": [...], "cpu_ms": [...]}: wall-clock time, and the process's CPU time, which other
  work on the same cores inflates less)
  {"cmd": "info"}                            versions and BLAS
The weights file is JSON: {name: {"shape": [...], "data": base64 float32 little-endian}} with the
tfjs layer weight names; conv2dTranspose kernels [kh, kw, out, in] become ConvTranspose2d weights
[in, out, kh, kw].
Run it with Debian's python (/usr/bin/python3) and python3-torch + libopenblas0-pthread.
"""
import base64
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn

NZ, NGF, NDF, NC = 100, 64, 64, 3


class Generator(nn.Module):
    """The article's generator; nz, ngf and nc default to its sizes (bench/pytorch/train_reference.py varies them)."""

    def __init__(self, nz=NZ, ngf=NGF, nc=NC):
        super().__init__()
        NGF, NC = ngf, nc  # noqa: N806 (the article's names)
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, NGF * 4, 4, 1, 0, bias=False),  # 1 -> 4
            nn.BatchNorm2d(NGF * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),  # 4 -> 8
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),  # 8 -> 16
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False),  # 16 -> 32
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z.view(z.shape[0], self.nz, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, ndf=NDF, nc=NC):
        super().__init__()
        NDF, NC = ndf, nc  # noqa: N806
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False),  # 32 -> 16
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),  # 16 -> 8
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),  # 8 -> 4
            nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False),  # 4 -> 1: a logit
        )

    def forward(self, x):
        return self.main(x).view(-1, 1)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def decode(b64, shape):
    return np.frombuffer(base64.b64decode(b64), dtype="<f4").reshape(shape)


def load_generator(path):
    with open(path) as f:
        named = json.load(f)
    g = Generator()
    convs = [m for m in g.main if isinstance(m, nn.ConvTranspose2d)]
    bns = [m for m in g.main if isinstance(m, nn.BatchNorm2d)]
    conv_names = ["project", "up1", "up2", "to_image"]
    with torch.no_grad():
        for conv, name in zip(convs, conv_names):
            w = named[f"{name}/kernel"]
            k = decode(w["data"], w["shape"])  # [kh, kw, out, in]
            conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
        for bn, name in zip(bns, conv_names[:3]):
            get = lambda w: torch.from_numpy(decode(named[f"{name}_bn/{w}"]["data"], [-1]).copy())
            bn.weight.copy_(get("gamma"))
            bn.bias.copy_(get("beta"))
            bn.running_mean.copy_(get("moving_mean"))
            bn.running_var.copy_(get("moving_variance"))
    return g.eval()


def timed(fn, reps):
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"ms": wall, "cpu_ms": cpu}


class Trainer:
    """The article's iteration: D on real (1) and detached fake (0) with BCE, then G on fresh noise."""

    def __init__(self, batch):
        torch.manual_seed(0)
        self.g, self.d = Generator(), Discriminator()
        self.g.apply(init_weights)
        self.d.apply(init_weights)
        self.loss = nn.BCEWithLogitsLoss()
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.batch = batch
        self.real = torch.rand(batch, NC, 32, 32) * 2 - 1
        self.ones = torch.ones(batch, 1)
        self.zeros = torch.zeros(batch, 1)

    def step(self):
        self.d.zero_grad()
        fake = self.g(torch.randn(self.batch, NZ))
        d_loss = self.loss(self.d(self.real), self.ones) + self.loss(self.d(fake.detach()), self.zeros)
        d_loss.backward()
        self.opt_d.step()
        self.g.zero_grad()
        g_loss = self.loss(self.d(self.g(torch.randn(self.batch, NZ))), self.ones)
        g_loss.backward()
        self.opt_g.step()
        return d_loss.item(), g_loss.item()


def main():
    generator = None
    trainers = {}
    torch.set_grad_enabled(True)
    for line in sys.stdin:
        cmd = json.loads(line)
        kind = cmd["cmd"]
        if "threads" in cmd:
            torch.set_num_threads(int(cmd["threads"]))
        if kind == "info":
            reply = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": torch.__config__.show().count("OpenBLAS") > 0}
        elif kind == "load":
            generator = load_generator(cmd["weights"])
            reply = {"ok": True}
        elif kind == "forward":
            z = torch.from_numpy(decode(cmd["input"], [cmd["n"], NZ]).copy())
            with torch.no_grad():
                y = generator(z).permute(0, 2, 3, 1).contiguous().numpy()
            reply = {"output": base64.b64encode(y.astype("<f4").tobytes()).decode()}
        elif kind == "time_forward":
            if generator is None:  # timing only: any weights do
                generator = Generator().apply(init_weights).eval()
            z = torch.randn(cmd["batch"], NZ)
            with torch.no_grad():
                generator(z)
                reply = timed(lambda: generator(z), cmd["reps"])
        elif kind == "time_train":
            t = trainers.get(cmd["batch"])
            if t is None:
                t = trainers[cmd["batch"]] = Trainer(cmd["batch"])
                t.step()
            reply = timed(t.step, cmd["reps"])
        else:
            reply = {"error": f"unknown command {kind}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
