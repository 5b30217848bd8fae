"""PyTorch twin of bench/trainStep.ts: the same reference CNN, Adam 1e-3, batch 64, 28x28x1,
one thread (--threads, 0 = PyTorch's default), on fixed random batches after a warm-up.

    python3 bench/pytorch_cnn.py [--steps N] [--repeats R] [--batch B] [--threads T] [--json]
                                 [--pool N] [--pool-batch B]

--pool N also times eval-mode softmax over a pool of N random images in chunks of --pool-batch
(500, the product's CNN inference batch), like the product's predict() (used by bench/run.ts).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.d1 = nn.Linear(1600, 128)
        self.d2 = nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.c1(x)), 2)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)
        h = F.dropout(torch.flatten(h, 1), 0.25, self.training)
        return self.d2(F.relu(self.d1(h)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    # 0: PyTorch's own default (what a user gets), reported as "threads" in --json.
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--pool", type=int, default=0)
    p.add_argument("--pool-batch", type=int, default=500)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    torch.manual_seed(1)
    model = Cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.rand(a.batch, 1, 28, 28), torch.randint(0, 10, (a.batch,))) for _ in range(4)]

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for i in range(3):
        step(*batches[i % 4])
    train, infer = [], []
    loss = float("nan")
    for _ in range(a.repeats):
        model.train()
        t0 = time.perf_counter()
        for s in range(a.steps):
            loss = step(*batches[s % 4])
        train.append(a.steps * a.batch / (time.perf_counter() - t0))
        model.eval()
        t1 = time.perf_counter()
        with torch.no_grad():
            for s in range(a.steps):
                model(batches[s % 4][0]).sum().item()
        infer.append(a.steps * a.batch / (time.perf_counter() - t1))
    res = {
        "backend": f"pytorch {torch.__version__} ({threads} thread{'s' if threads > 1 else ''})",
        "threads": threads,
        "trainSamplesPerSec": {"best": max(train), "median": statistics.median(train), "all": train},
        "inferSamplesPerSec": {"best": max(infer), "median": statistics.median(infer), "all": infer},
        "finalLoss": loss,
    }
    if a.pool > 0:
        pool = torch.rand(a.pool, 1, 28, 28)
        model.eval()

        def over_pool():
            with torch.no_grad():
                for s in range(0, a.pool, a.pool_batch):
                    F.softmax(model(pool[s : s + a.pool_batch]), 1).numpy()

        with torch.no_grad():
            F.softmax(model(pool[: a.pool_batch]), 1).numpy()  # warm-up
        t0 = time.perf_counter()
        over_pool()
        res["poolInferSamplesPerSec"] = a.pool / (time.perf_counter() - t0)
        res["pool"] = a.pool
        res["poolBatch"] = a.pool_batch
    if a.json:
        print(json.dumps(res))
    else:
        print(
            f"{res['backend']}: train {max(train):.0f} samples/s best, {statistics.median(train):.0f} median; "
            f"infer {max(infer):.0f} best, {statistics.median(infer):.0f} median "
            f"(batch {a.batch}, {a.steps} steps x {a.repeats}; loss {loss:.4f})"
        )


if __name__ == "__main__":
    main()
