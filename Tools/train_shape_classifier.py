"""Trains the analyser's shape classifier (`Sources/World/ShapeClassifier.swift`) on CPU.

The inputs are made by the Swift code itself (`csd world shapes`), so the network sees exactly
what the analyser gives it. Writes the weights to Sources/World/Resources/shape-classifier.safetensors
and a reference fixture (inputs and this script's logits) that the Swift tests match.

    .build/release/csd world shapes -o Tools/cache/shapes.safetensors
    .build/release/csd world shapes --count 1440 --first-seed 30000000 -o Tools/cache/shapes-val.safetensors
    Tools/.venv/bin/python Tools/train_shape_classifier.py --data Tools/cache/shapes.safetensors \
        --validation Tools/cache/shapes-val.safetensors
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


class ShapeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.head = nn.Linear(64, 4)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.silu(conv(x))
        return self.head(x.mean(dim=(2, 3)))


def accuracy(net, data):
    with torch.no_grad():
        predicted = net(data["inputs"]).argmax(1)
    right = predicted == data["labels"].long()
    return {int(b): round(right[data["blurs"] == b].float().mean().item(), 4) for b in data["blurs"].unique()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--out", default="Sources/World/Resources/shape-classifier.safetensors")
    p.add_argument("--fixture", default="Tests/WorldTests/Fixtures/shape-classifier-reference.safetensors")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train, val = load_file(args.data), load_file(args.validation)
    x, y = train["inputs"], train["labels"].long()
    net = ShapeNet()
    batches = (len(x) + 127) // 128
    opt = torch.optim.AdamW(net.parameters(), args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * batches)
    started = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            index = order[i:i + 128]
            xb = x[index].clone()
            flip = torch.rand(len(index)) < 0.5  # a mirrored silhouette is the same shape
            xb[flip] = xb[flip].flip(-1)
            loss = F.cross_entropy(net(xb), y[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, validation accuracy by blur {accuracy(net, val)}, "
              f"{time.time() - started:.0f} s", flush=True)
    result = {"epochs": args.epochs, "train_inputs": len(x), "validation_accuracy_by_blur": accuracy(net, val)}
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, args.out,
              metadata={"training": json.dumps(result)})
    pick = torch.arange(0, len(val["inputs"]), len(val["inputs"]) // 16)[:16]
    with torch.no_grad():
        save_file({"inputs": val["inputs"][pick].contiguous(), "logits": net(val["inputs"][pick]).contiguous()}, args.fixture)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
