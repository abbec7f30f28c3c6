"""Builds the reverse-mode references the Swift gradient tests compare against (run by a developer,
never by CI): torch.autograd's vector-Jacobian products for a fixed random cotangent.

- every layer Core has, alone, with respect to its input(s) and each of its parameters;
- the fixture UNets (unet-pixel, tiny-sd/unet), the tiny-sd VAE (encoder and decoder) and the
  tiny-sd CLIP text model, loaded from the committed folders, with respect to their inputs and to
  every parameter (the text model's token embedding only at the rows the ids use);
- a partial graph: the output of unet-pixel's first up-block self-attention, back to the sample.

Writes Tests/CoreTests/Fixtures/gradients.safetensors. Each case `NAME` stores its inputs
(`NAME.x`, …), the cotangent (`NAME.cotangent`), the output (`NAME.out`) and the gradients
(`NAME.grad.x`, `NAME.grad.weight`, `NAME.grad.param.<diffusers name>`).

Usage: Tools/.venv/bin/python Tools/make_gradient_fixtures.py   (needs torch, diffusers, transformers 5)
"""
import os

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
refs = {}
g = torch.Generator().manual_seed(29)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).requires_grad_(True)


def record(name, out, inputs, cotangent_scale=1.0):
    """Stores the inputs, output, a random cotangent and the gradient of <out, cotangent>."""
    cot = torch.randn(out.shape, generator=g) * cotangent_scale
    grads = torch.autograd.grad(out, list(inputs.values()), cot, allow_unused=True)
    refs[f"{name}.out"] = out.detach()
    refs[f"{name}.cotangent"] = cot
    for (key, value), grad in zip(inputs.items(), grads):
        refs[f"{name}.{key}"] = value.detach()
        refs[f"{name}.grad.{key}"] = torch.zeros_like(value) if grad is None else grad


def layers():
    x = randn(2, 3, 5)
    w, b = randn(4, 5), randn(4)
    record("linear", F.linear(x, w, b), {"x": x, "weight": w, "bias": b})

    # Convolutions: square and non-square kernels, strides, symmetric and the VAE's asymmetric
    # padding, padding wider than the kernel, and one image (the per-image weight gradient).
    for name, (n, cin, cout, kh, kw, stride, pad, h, wd) in {
        "conv3": (2, 3, 4, 3, 3, 1, (1, 1, 1, 1), 7, 9),
        "conv1": (2, 5, 3, 1, 1, 1, (0, 0, 0, 0), 4, 6),
        "conv3_s2_asym": (2, 3, 5, 3, 3, 2, (0, 1, 0, 1), 9, 8),
        "conv4_s2": (2, 2, 3, 4, 4, 2, (1, 1, 1, 1), 8, 10),
        "conv3x2_s3": (2, 3, 2, 3, 2, 3, (2, 1, 2, 1), 10, 11),
        "conv3_s1_asym": (2, 3, 4, 3, 3, 1, (0, 2, 1, 0), 6, 7),
        "conv1_pad1": (2, 3, 2, 1, 1, 1, (1, 1, 1, 1), 5, 4),
        "conv3_one_image": (1, 4, 3, 3, 3, 1, (1, 1, 1, 1), 8, 7),
        "conv3_s1_asym_one_image": (1, 3, 4, 3, 3, 1, (0, 2, 1, 0), 6, 7),
        "conv3_s2_one_image": (1, 3, 2, 3, 3, 2, (1, 0, 1, 0), 9, 8),
    }.items():
        x = randn(n, cin, h, wd)
        w, b = randn(cout, cin, kh, kw, scale=0.5), randn(cout)
        left, right, top, bottom = pad
        out = F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride)
        record(name, out, {"x": x, "weight": w, "bias": b})
        refs[f"{name}.geometry"] = torch.tensor([float(stride), top, left, bottom, right])

    x = randn(2, 6, 5, 7, scale=2)
    w, b = 1 + 0.3 * randn(6), randn(6)
    record("group_norm", F.group_norm(x, 3, w, b, eps=1e-6), {"x": x, "weight": w, "bias": b})
    record("group_norm_silu", F.silu(F.group_norm(x, 2, w, b, eps=1e-5)), {"x": x, "weight": w, "bias": b})
    x = randn(3, 4, 11, scale=2)
    w, b = 1 + 0.3 * randn(11), randn(11)
    record("layer_norm", F.layer_norm(x, (11,), w, b, eps=1e-5), {"x": x, "weight": w, "bias": b})

    x = randn(2, 3, 37, scale=3)
    record("silu", F.silu(x), {"x": x})
    record("gelu", F.gelu(x), {"x": x})
    record("gelu_tanh", F.gelu(x, approximate="tanh"), {"x": x})
    record("quick_gelu", x * torch.sigmoid(1.702 * x), {"x": x})
    record("softmax", torch.softmax(x, dim=-1), {"x": x})
    xg = randn(2, 3, 24, scale=2)
    value, gate = xg.chunk(2, dim=-1)
    record("geglu", value * F.gelu(gate), {"x": xg})

    def attention(q, k, v, heads, causal):
        b, lq, c = q.shape
        split = lambda t: t.view(b, t.shape[1], heads, c // heads).transpose(1, 2)
        o = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
        return o.transpose(1, 2).reshape(b, lq, c)
    q, k, v = randn(2, 13, 12), randn(2, 13, 12), randn(2, 13, 12)
    record("attention_self", attention(q, q, q, 3, False), {"x": q})
    record("attention_causal", attention(q, k, v, 3, True), {"q": q, "k": k, "v": v})
    kc, vc = randn(2, 5, 12), randn(2, 5, 12)
    record("attention_cross", attention(q, kc, vc, 2, False), {"q": q, "k": kc, "v": vc})

    x = randn(2, 3, 5, 7)
    record("upsample2x", F.interpolate(x, scale_factor=2, mode="nearest"), {"x": x})
    record("upsample_odd", F.interpolate(x, size=(9, 17), mode="nearest"), {"x": x})

    a, c = randn(2, 3, 4, 5), randn(2, 2, 4, 5)
    record("concat", torch.cat([a, c], dim=1), {"a": a, "b": c})
    t = torch.tensor([0.0, 3.0, 417.5, 999.0], requires_grad=True)
    from diffusers.models.embeddings import get_timestep_embedding
    record("timestep_embedding", get_timestep_embedding(t, 10, flip_sin_to_cos=True, downscale_freq_shift=0), {"t": t})


def model_gradients(name, module, run, inputs, cotangent_scale=1.0, only=None):
    """Gradients of <run(), cotangent> for the inputs and every parameter."""
    params = dict(module.named_parameters())
    for p in params.values():
        p.requires_grad_(True)
    out = run()
    cot = torch.randn(out.shape, generator=g) * cotangent_scale
    keys = list(inputs.keys()) + list(params.keys())
    tensors = list(inputs.values()) + list(params.values())
    grads = torch.autograd.grad(out, tensors, cot, allow_unused=True)
    refs[f"{name}.out"] = out.detach()
    refs[f"{name}.cotangent"] = cot
    for key, value, grad in zip(keys, tensors, grads):
        grad = torch.zeros_like(value) if grad is None else grad
        if key in inputs:
            refs[f"{name}.{key}"] = value.detach()
            refs[f"{name}.grad.{key}"] = grad
        elif only is None or only(key):
            refs[f"{name}.grad.param.{key}"] = grad
    return grads


def models():
    torch.set_grad_enabled(True)
    pixel = UNet2DConditionModel.from_pretrained(os.path.join(FIXTURES, "unet-pixel")).float()
    x, ctx, pooled = randn(2, 3, 16, 24), randn(2, 5, 16), randn(2, 16)
    t = torch.tensor([10.0, 873.0])
    refs["unet_pixel.timesteps"] = t
    model_gradients("unet_pixel", pixel, lambda: pixel(x, t, encoder_hidden_states=ctx, class_labels=pooled).sample,
                    {"x": x, "context": ctx, "class_labels": pooled})

    latent = UNet2DConditionModel.from_pretrained(os.path.join(FIXTURES, "tiny-sd", "unet")).float()
    xl, ctxl = randn(2, 4, 8, 8), randn(2, 7, 16)
    tl = torch.tensor([1.0, 999.0])
    refs["unet_latent.timesteps"] = tl
    model_gradients("unet_latent", latent, lambda: latent(xl, tl, encoder_hidden_states=ctxl).sample,
                    {"x": xl, "context": ctxl})

    vae = AutoencoderKL.from_pretrained(os.path.join(FIXTURES, "tiny-sd", "vae")).float()
    s = vae.config.scaling_factor
    image = (torch.rand(2, 3, 16, 16, generator=g) * 2 - 1).requires_grad_(True)
    model_gradients("vae_encode", vae, lambda: vae.encode(image).latent_dist.mean * s, {"x": image},
                    only=lambda k: k.startswith(("encoder.", "quant_conv.")))
    latents = randn(2, 4, 8, 8)
    model_gradients("vae_decode", vae, lambda: vae.decode(latents / s).sample, {"x": latents},
                    only=lambda k: k.startswith(("decoder.", "post_quant_conv.")))

    text = CLIPTextModel.from_pretrained(os.path.join(FIXTURES, "tiny-sd", "text_encoder")).float()
    ids = torch.tensor([[49406, 320, 736, 1069, 525, 3914, 49407] + [49407] * 3,
                        [49406, 49407] + [49407] * 8])
    refs["clip.ids"] = ids.float()
    grads = model_gradients("clip", text, lambda: text(ids).last_hidden_state, {},
                            only=lambda k: "token_embedding" not in k)
    # The token table's gradient only at the rows the ids use (the rest is zero).
    table = dict(text.named_parameters())
    names = list(table.keys())
    used = sorted(set(ids.flatten().tolist()))
    token_grad = grads[next(i for i, n in enumerate(names) if n.endswith("embeddings.token_embedding.weight"))]
    refs["clip.used_ids"] = torch.tensor(used).float()
    refs["clip.grad.token_rows"] = token_grad[used]


def partial_graph():
    """From the output of one self-attention layer in an up-block (a forward hook) back to the sample."""
    pixel = UNet2DConditionModel.from_pretrained(os.path.join(FIXTURES, "unet-pixel")).float()
    features = {}
    layer = pixel.up_blocks[0].attentions[0].transformer_blocks[0].attn1
    hook = layer.register_forward_hook(lambda module, args, out: features.__setitem__("attn1", out))
    x, ctx, pooled = randn(2, 3, 16, 24), torch.randn(2, 5, 16, generator=g), torch.randn(2, 16, generator=g)
    t = torch.tensor([10.0, 873.0])
    pixel(x, t, encoder_hidden_states=ctx, class_labels=pooled)
    hook.remove()
    refs.update({"unet_pixel_attn1.context": ctx, "unet_pixel_attn1.class_labels": pooled, "unet_pixel_attn1.timesteps": t})
    record("unet_pixel_attn1", features["attn1"], {"x": x})


def main():
    layers()
    models()
    partial_graph()
    path = os.path.join(FIXTURES, "gradients.safetensors")
    save_file({k: v.detach().float().clone().contiguous() for k, v in refs.items()}, path)
    print(f"wrote {len(refs)} tensors to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
