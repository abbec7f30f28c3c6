"""Builds the references the Swift Contrastive Denoising Score tests compare against (run by a
developer, never by CI), with torch.autograd:

- `cut.*`: the patch-contrastive (PatchNCE) loss alone, as the CDS repository's `utils/loss.py`
  defines it (average pooling at sizes 1 and 2, L2 normalisation over channels, positives at the
  same location, the other drawn locations as negatives, the diagonal masked to -10, τ = 0.07,
  the mean over locations, summed over sizes), on random features, and its gradient with respect
  to the edited features;
- `cds.*`: the CDS gradient on the tiny-sd fixture (the latents, source and noise of the DDS
  references in references.safetensors, t = 600, "a red ball on grass" → "a blue ball on grass",
  guidance 7.5): the loss on every up-block `attn1` output (forward hooks) of the edited branch
  (x_t, target prompt) against the source branch (x̂_t, source prompt), its gradient with respect
  to the latents, and DDS + w_cut·(h·w/2000)·that gradient with w_cut = 3.

The drawn locations follow the Swift code exactly: SplitMix64 (Core's RandomGenerator), one
Fisher–Yates permutation per item, layer and patch size, in that order, the first 256 kept.

Writes Tests/CoreTests/Fixtures/cds.safetensors.
Usage: Tools/.venv/bin/python Tools/make_cds_fixtures.py   (needs torch, diffusers, transformers 5)
"""
import os

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPTextModel, CLIPTokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
MASK = 2 ** 64 - 1
TAU = 0.07


class SplitMix64:
    def __init__(self, seed):
        self.state = (seed + 0x9E3779B97F4A7C15) & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def permutation(self, count):
        order = list(range(count))
        for i in range(count - 1, 0, -1):
            j = self.next() % (i + 1)
            order[i], order[j] = order[j], order[i]
        return order


def cut_loss(source, edited, height, width, rng, patches=256, sizes=(1, 2)):
    """source, edited: [L, C] tokens, row-major on a height×width grid."""
    channels = source.shape[1]
    src = source.detach().reshape(1, height, width, channels).permute(0, 3, 1, 2)
    trg = edited.reshape(1, height, width, channels).permute(0, 3, 1, 2)
    loss = 0
    for s in sizes:
        ids = rng.permutation((height // s) * (width // s))[:patches]
        ps, pt = (F.avg_pool2d(src, s), F.avg_pool2d(trg, s)) if s > 1 else (src, trg)
        k = F.normalize(ps, dim=1).permute(0, 2, 3, 1).flatten(0, 2)[ids]
        q = F.normalize(pt, dim=1).permute(0, 2, 3, 1).flatten(0, 2)[ids]
        positive = (k * q).sum(1, keepdim=True)
        negative = k @ q.T
        negative = negative.masked_fill(torch.eye(len(ids), dtype=torch.bool), -10.0)
        logits = torch.cat([positive, negative], 1) / TAU
        loss = loss + F.cross_entropy(logits, torch.zeros(len(ids), dtype=torch.long))
    return loss


def main():
    refs = {}
    g = torch.Generator().manual_seed(31)

    # The loss alone: 6×8 tokens of 5 channels, 20 locations per size (all 12 at size 2).
    source, edited = torch.randn(48, 5, generator=g), torch.randn(48, 5, generator=g).requires_grad_(True)
    loss = cut_loss(source, edited, 6, 8, SplitMix64(7), patches=20)
    (grad,) = torch.autograd.grad(loss, [edited])
    refs.update({"cut.source": source, "cut.edited": edited.detach(), "cut.loss": loss.detach().reshape(1), "cut.grad": grad})

    # CDS on tiny-sd.
    root = os.path.join(FIXTURES, "tiny-sd")
    unet = UNet2DConditionModel.from_pretrained(os.path.join(root, "unet")).float()
    text = CLIPTextModel.from_pretrained(os.path.join(root, "text_encoder")).float()
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(root, "tokenizer"))
    scheduler = DDIMScheduler.from_pretrained(os.path.join(root, "scheduler"))

    def encode(prompt):
        ids = torch.tensor([tokenizer(prompt, padding="max_length", max_length=77, truncation=True).input_ids])
        return text(ids).last_hidden_state.detach()

    red, blue, empty = encode("a red ball on grass"), encode("a blue ball on grass"), encode("")
    dist = load_file(os.path.join(FIXTURES, "references.safetensors"))
    x, x_src, eps = dist["dist.x"].clone().requires_grad_(True), dist["dist.source"], dist["dist.noise"]
    t = 600
    a_t = scheduler.alphas_cumprod[t]
    n = x.shape[0]

    layers = [(name, module) for name, module in unet.named_modules()
              if name.startswith("up_blocks") and name.endswith("attn1")]
    features = {}
    hooks = [module.register_forward_hook(lambda m, args, out, name=name: features.__setitem__(name, out)) for name, module in layers]

    def guided(sample, cond):
        out = unet(torch.cat([sample, sample]), t, encoder_hidden_states=torch.cat([empty.expand(n, -1, -1), cond.expand(n, -1, -1)])).sample
        u, c = out.chunk(2)
        return u + 7.5 * (c - u)

    with torch.no_grad():
        xt = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        st = a_t.sqrt() * x_src + (1 - a_t).sqrt() * eps
        dds = guided(xt, blue) - guided(st, red)
        source_features = {name: features[name][n:].clone() for name, _ in layers}  # the conditional half

    xt = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
    unet(xt, t, encoder_hidden_states=blue.expand(n, -1, -1))
    for h in hooks:
        h.remove()
    rng = SplitMix64(11)
    h, w = x.shape[2], x.shape[3]
    total = 0
    for item in range(n):
        for name, _ in layers:
            tokens = features[name][item]
            side = int(round(tokens.shape[0] ** 0.5))
            assert side * side == tokens.shape[0] and side == h, "tiny-sd's up-block attn1 runs at the latent's size"
            total = total + cut_loss(source_features[name][item], tokens, h, w, rng)
    (cut_grad,) = torch.autograd.grad(total, [x])
    refs.update({"cds.x": x.detach(), "cds.source": x_src, "cds.noise": eps, "cds.dds": dds,
                 "cds.cut_loss": total.detach().reshape(1), "cds.cut_grad": cut_grad,
                 "cds.gradient": dds + 3.0 * (h * w / 2000) * cut_grad})
    print("layers:", [name for name, _ in layers])
    path = os.path.join(FIXTURES, "cds.safetensors")
    save_file({k: v.detach().float().contiguous() for k, v in refs.items()}, path)
    print(f"wrote {len(refs)} tensors to {os.path.normpath(path)}; cut loss {loss.item():.6f}, cds cut loss {total.item():.6f}")


if __name__ == "__main__":
    main()
