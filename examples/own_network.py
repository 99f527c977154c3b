#!/usr/bin/python3
"""own_network.py — examples/own_network.c in PyTorch, for the comparison
in docs/MODULES.md: 784-256-128-10 with LayerNorm, GELU, dropout and a
residual block; AdamW without weight decay on biases and norms; linear
warmup then cosine; gradient clipping; saved as a state dict, loaded into
a fresh copy, which predicts. Debian has no torchvision, so the IDX files
are read with numpy (tg reads them itself).

    /usr/bin/python3 examples/own_network.py [epochs] [data dir]
"""
import gzip
import math
import sys

import numpy as np
import torch
from torch import nn

BATCH = 64


def load(directory, kind):
    with gzip.open(f"{directory}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{directory}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(x, dtype=torch.float32) / 255, torch.tensor(y, dtype=torch.int64)


class Residual(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


def network():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LayerNorm(256), nn.GELU(), nn.Dropout(0.1),
                         nn.Linear(256, 128), Residual(nn.Linear(128, 128), nn.LayerNorm(128), nn.GELU()),
                         nn.Linear(128, 10))


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    directory = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    (x_train, y_train), (x_test, y_test) = load(directory, "train"), load(directory, "t10k")
    torch.manual_seed(0)
    net = network()

    norms = {name for name, m in net.named_modules() if isinstance(m, nn.LayerNorm)}
    plain = [p for name, p in net.named_parameters() if name.endswith("bias") or name.rsplit(".", 1)[0] in norms]
    decayed = [p for name, p in net.named_parameters() if all(p is not q for q in plain)]
    opt = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0}],
                            lr=1e-3)
    total = epochs * math.ceil(len(x_train) / BATCH)
    warmup = total // 10
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))))

    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        order, total_loss = torch.randperm(len(x_train)), 0.0
        for start in range(0, len(x_train), BATCH):
            rows = order[start:start + BATCH]
            loss = loss_fn(net(x_train[rows]), y_train[rows])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += loss.item() * len(rows)
        print(f"epoch {epoch}: train loss {total_loss / len(x_train):.4f}")

    torch.save(net.state_dict(), "own_network.pt")
    copy = network()
    copy.load_state_dict(torch.load("own_network.pt"))
    copy.eval()
    with torch.no_grad():
        correct = sum((copy(x_test[s:s + BATCH]).argmax(1) == y_test[s:s + BATCH]).sum().item()
                      for s in range(0, len(x_test), BATCH))
    print(f"reloaded from own_network.pt: test accuracy {100 * correct / len(x_test):.2f}%")


main()
