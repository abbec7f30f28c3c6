"""Builds the training reference the Swift training test compares against (run by a developer,
never by CI): a tiny convolutional autoencoder trained with torch.optim on world renders, from
fixed initial weights and a fixed batch order, with its loss at every step; and three steps of
each optimiser on fixed gradients.

The renders come from the project itself:
    .build/release/csd world dataset --count 16 --size 16 -o /tmp/renders.safetensors
    Tools/.venv/bin/python Tools/make_training_fixture.py /tmp/renders.safetensors

Writes Tests/CoreTests/Fixtures/training.safetensors:
- `images` [16, 3, 16, 16] in [-1, 1]; `init.<name>` the initial weights (diffusers-style names);
- `adamw.loss` and `sgd.loss` [steps]: the loss before each step's update, for AdamW and for SGD
  with momentum; `adamw.final.<name>` the weights after the last step;
- `optim.param`, `optim.grads` [3, …] and `optim.<kind>` [3, …]: the parameter after each of three
  steps of SGD with momentum and weight decay, Adam with L2 decay and AdamW.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
STEPS, BATCH = 300, 4


class TinyAutoencoder(nn.Module):
    """conv_in → GroupNorm+SiLU → stride-2 conv → SiLU → nearest ×2 → conv → SiLU → conv_out."""
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(4, 8)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.up = nn.Conv2d(16, 8, 3, padding=1)
        self.conv_out = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        h = F.silu(self.norm(self.conv_in(x)))
        h = F.silu(self.down(h))
        h = F.silu(self.up(F.interpolate(h, scale_factor=2, mode="nearest")))
        return self.conv_out(h)


def train(images, init, make_optimizer):
    net = TinyAutoencoder()
    net.load_state_dict(init)
    opt = make_optimizer(net.parameters())
    losses = []
    for step in range(STEPS):
        start = (step * BATCH) % images.shape[0]
        batch = images[start:start + BATCH]
        loss = F.mse_loss(net(batch), batch)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.tensor(losses), net.state_dict()


def main():
    shard = load_file(sys.argv[1])
    images = shard["images"].float().permute(0, 3, 1, 2).contiguous() / 127.5 - 1
    torch.manual_seed(3)
    init = {k: v.clone() for k, v in TinyAutoencoder().state_dict().items()}
    refs = {"images": images}
    refs.update({f"init.{k}": v for k, v in init.items()})
    adamw_losses, final = train(images, init, lambda p: torch.optim.AdamW(p, lr=3e-3, weight_decay=0.01))
    refs["adamw.loss"] = adamw_losses
    refs.update({f"adamw.final.{k}": v for k, v in final.items()})
    sgd_losses, _ = train(images, init, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))
    refs["sgd.loss"] = sgd_losses

    g = torch.Generator().manual_seed(5)
    param = torch.randn(7, generator=g)
    grads = torch.randn(3, 7, generator=g)
    refs["optim.param"], refs["optim.grads"] = param, grads
    for kind, make in {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    }.items():
        p = nn.Parameter(param.clone())
        opt = make([p])
        after = []
        for k in range(3):
            p.grad = grads[k].clone()
            opt.step()
            after.append(p.detach().clone())
        refs[f"optim.{kind}"] = torch.stack(after)

    path = os.path.join(FIXTURES, "training.safetensors")
    save_file({k: v.detach().float().clone().contiguous() for k, v in refs.items()}, path)
    print(f"AdamW loss {adamw_losses[0]:.4f} -> {adamw_losses[-10:].mean():.4f}; "
          f"SGD {sgd_losses[0]:.4f} -> {sgd_losses[-10:].mean():.4f}; wrote {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
