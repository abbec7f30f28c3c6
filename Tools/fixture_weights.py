"""Random weights for the reference fixtures' small models (shared by the Tools/make_*.py scripts)."""
import torch


def randomize(module, seed, half=False, scale=0.2):
    """Random weights everywhere (diffusers zero-initialises some layers, so every path counts):
    norm scales near 1, other weights scaled by fan-in; with `half`, rounded to F16 so a file stored
    in F16 and the reference use the same values."""
    g = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        if p.dim() == 1 and "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(scale * torch.randn(p.shape, generator=g) / max(1, p[0].numel()) ** 0.25)
        if half:
            p.copy_(p.half().float())
