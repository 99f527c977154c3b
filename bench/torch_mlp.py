#!/usr/bin/python3
"""torch_mlp.py BATCH THREADS [EPOCHS] [adam|sgd] -- the workload of `make bench` in PyTorch.

The lecture MLP (784-512-512-10, ReLU) trained with Adam (lr 1e-3), or plain
SGD (lr 1e-3, no momentum: PyTorch's cheapest step) when asked, on the
60,000 FashionMNIST training images, standardised, reshuffled every epoch,
the last partial batch kept: what `tg train` does. Prints one line,

    torch BATCH THREADS train_samples_per_s eval_ms max_rss_mb

train_samples_per_s over the training loop only (as tg train's metric);
eval_ms the time to classify the 10,000 test images in batches of 1,000
(the best of five). Reads the IDX files of Debian's dataset-fashion-mnist.
Used only by bench/run.sh; never by the build or the tests.
"""
import gzip
import resource
import sys
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    for path in (f"{DATA}/{name}", f"{DATA}/{name}.gz"):
        try:
            with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                raw = f.read()
            break
        except FileNotFoundError:
            continue
    else:
        sys.exit(f"torch_mlp.py: no {name} under {DATA}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    batch, threads = int(sys.argv[1]), int(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    optimizer = sys.argv[4] if len(sys.argv) > 4 else "adam"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.from_numpy(idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
    mean, std = x.mean(), x.std()
    x = (x - mean) / std
    xt = (torch.from_numpy(idx("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255) - mean) / std
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    seconds = 0.0
    for _ in range(epochs):
        order = torch.randperm(n)
        start = time.perf_counter()
        for i in range(0, n, batch):
            rows = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[rows]), y[rows])
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - start
    with torch.no_grad():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for i in range(0, xt.shape[0], 1000):
                model(xt[i:i + 1000]).argmax(1)
            best = min(best, time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    print(f"torch {batch} {threads} {epochs * n / seconds:.1f} {1000 * best:.2f} {rss_mb:.1f}")


if __name__ == "__main__":
    main()
