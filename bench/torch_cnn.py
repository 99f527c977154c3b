#!/usr/bin/python3
"""torch_cnn.py MODEL THREADS [EPOCHS] [BATCH] -- issue 15's CNN recipes in PyTorch.

MODEL is cnn or cnn-bn, the networks of `tg train --model cnn|cnn-bn`:

    cnn:    Conv2d(1,32,3,padding=1) ReLU MaxPool2d(2) Conv2d(32,64,3,padding=1)
            ReLU MaxPool2d(2) Flatten Linear(3136,128) ReLU Linear(128,10)
    cnn-bn: the same with BatchNorm2d after each convolution

trained with Adam (lr 1e-3), batch 64 by default, on the 60,000 FashionMNIST
training images as ToTensor() gives them (pixel / 255), reshuffled every
epoch. After each epoch it prints

    torch MODEL epoch E test_accuracy A train_samples_per_s R

with the rate over the training loop only (as tg train's metric), and at
the end the time to evaluate the 10,000 test images in batches of 1,000.
The numbers to put beside tg's (`make accuracy`, docs/PERFORMANCE.md);
never used by the build or the tests.
"""
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_mlp import idx  # noqa: E402


def network(kind):
    def block(c_in, c_out):
        norm = [nn.BatchNorm2d(c_out)] if kind == "cnn-bn" else []
        return [nn.Conv2d(c_in, c_out, 3, padding=1), *norm, nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def main():
    kind, threads = sys.argv[1], int(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = lambda name: torch.from_numpy(idx(name).reshape(-1, 1, 28, 28).astype("float32") / 255)
    labels = lambda name: torch.from_numpy(idx(name).astype("int64"))
    x, y = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    xt, yt = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    model = network(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            rows = order[i:i + batch]
            loss = loss_fn(model(x[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        rate = len(x) / (time.perf_counter() - start)
        model.eval()
        start = time.perf_counter()
        with torch.no_grad():
            correct = sum((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                          for i in range(0, len(xt), 1000))
        eval_s = time.perf_counter() - start
        print(f"torch {kind} epoch {epoch} test_accuracy {correct / len(xt):.4f} train_samples_per_s {rate:.0f} "
              f"eval_s {eval_s:.2f}", flush=True)


main()
