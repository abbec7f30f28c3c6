"""Builds LoRA fixtures for the tiny-sd pipeline and diffusers' outputs with them loaded (run by a
developer, never by CI).

- kohya.safetensors: kohya/sd-scripts naming (`lora_unet_…`/`lora_te_…` module paths with
  underscores, `lora_down`/`lora_up`/`alpha`): attention projections, a feed-forward, a 1×1
  `proj_in` convolution, a 3×3 resnet convolution (LoCon) and two text-encoder layers.
- peft.safetensors: diffusers/PEFT naming (`unet.….lora_A.weight`/`lora_B.weight`,
  `text_encoder.…`), as `save_lora_weights` writes it.

References (Tests/CoreTests/Fixtures/lora/references.safetensors), for kohya at scale 0.7 alone and
with peft at 1.0 beside it (and a 2-step sample of diffusers' pipeline on the merged weights):
- the UNet output of diffusers' StableDiffusionPipeline after `load_lora_weights`, `set_adapters`
  and `fuse_lora`;
- the text encoder's output with each LoRA merged as W + scale·(alpha/rank)·up·down. diffusers 0.42
  with transformers 5 drops kohya's text-encoder attention LoRAs without a word (its load report
  lists `encoder.layers.0.self_attn.to_q_lora.*` as unexpected), so its text encoder cannot be the
  reference there. Every weight diffusers does merge is checked against that formula first.

Usage: Tools/.venv/bin/python Tools/make_lora_fixtures.py   (torch, diffusers, transformers, peft, safetensors)
"""
import os

import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
OUT = os.path.join(FIXTURES, "lora")
torch.set_grad_enabled(False)


def pipeline():
    return StableDiffusionPipeline.from_pretrained(os.path.join(FIXTURES, "tiny-sd"), safety_checker=None,
                                                   torch_dtype=torch.float32)


def module(pipe, path):
    root, rest = path.split(".", 1)
    m = pipe.unet if root == "unet" else pipe.text_encoder
    for part in rest.split("."):
        m = getattr(m, part) if not part.isdigit() else m[int(part)]
    return m


def factors(m, rank, g):
    """Random down/up factors shaped as kohya and PEFT store them for module `m`."""
    w = m.weight
    if w.dim() == 4:
        down = torch.randn(rank, w.shape[1], w.shape[2], w.shape[3], generator=g) * 0.3
        up = torch.randn(w.shape[0], rank, 1, 1, generator=g) * 0.3
    else:
        down = torch.randn(rank, w.shape[1], generator=g) * 0.3
        up = torch.randn(w.shape[0], rank, generator=g) * 0.3
    return down.half().float(), up.half().float()


KOHYA = [
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k",
    "unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0",
    "unet.up_blocks.1.attentions.2.proj_in",
    "unet.up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj",
    "unet.down_blocks.1.resnets.0.conv1",
    "text_encoder.text_model.encoder.layers.0.self_attn.q_proj",
    "text_encoder.text_model.encoder.layers.1.mlp.fc1",
]
PEFT = [
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_v",
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
    "unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_out.0",
    "text_encoder.text_model.encoder.layers.1.self_attn.out_proj",
]


def text_module_path(path):
    # transformers 5 flattens CLIPTextModel (no .text_model); the saved names keep it.
    return path.replace("text_encoder.text_model.", "text_encoder.") if not hasattr(pipeline_cache.text_encoder, "text_model") else path


pipeline_cache = pipeline()


def merge(pipe, path, scale):
    """W += scale · (alpha / rank) · up · down for every LoRA module in the file (kohya or PEFT names)."""
    from safetensors.torch import load_file
    lora = load_file(path)
    for key in lora:
        if key.endswith(".lora_down.weight"):
            stem = key[: -len(".lora_down.weight")]
            down, up = lora[key].float(), lora[stem + ".lora_up.weight"].float()
            alpha = lora[stem + ".alpha"].float().item() if stem + ".alpha" in lora else down.shape[0]
            root = "unet." if stem.startswith("lora_unet_") else "text_encoder."
            mangled = stem.split("_", 2)[2]
            target = next(p for p in KOHYA if p.startswith(root) and p[len(root):].replace(".", "_") == mangled)
        elif key.endswith(".lora_A.weight"):
            stem = key[: -len(".lora_A.weight")]
            down, up, alpha, target = lora[key].float(), lora[stem + ".lora_B.weight"].float(), lora[key].shape[0], stem
        else:
            continue
        m = module(pipe, text_module_path(target))
        r = down.shape[0]
        delta = (up.reshape(up.shape[0], r) @ down.reshape(r, -1)).reshape(m.weight.shape)
        m.weight += scale * alpha / r * delta


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(5)
    kohya = {}
    for path in KOHYA:
        m = module(pipeline_cache, text_module_path(path))
        down, up = factors(m, 4 if "conv1" not in path else 2, g)
        root, rest = path.split(".", 1)
        name = ("lora_unet_" if root == "unet" else "lora_te_") + rest.replace(".", "_")
        kohya[name + ".lora_down.weight"] = down.half()
        kohya[name + ".lora_up.weight"] = up.half()
        kohya[name + ".alpha"] = torch.tensor(2.0 if "conv1" not in path else 1.0).half()
    save_file(kohya, os.path.join(OUT, "kohya.safetensors"))
    peft = {}
    for path in PEFT:
        m = module(pipeline_cache, text_module_path(path))
        down, up = factors(m, 3, g)
        peft[path + ".lora_A.weight"] = down
        peft[path + ".lora_B.weight"] = up
    save_file(peft, os.path.join(OUT, "peft.safetensors"))

    x = torch.randn(2, 4, 8, 8, generator=g)
    t = torch.tensor([700.0, 80.0])
    ids = torch.tensor([pipeline_cache.tokenizer("a red ball on grass", padding="max_length", max_length=77).input_ids])
    noise = torch.randn(1, 4, 8, 8, generator=g)
    refs = {"unet.sample": x, "unet.timesteps": t, "text.ids": ids.float(), "ddim.noise": noise}
    base = pipeline()
    context = base.text_encoder(ids).last_hidden_state.repeat(2, 1, 1)
    refs["unet.context"] = context
    refs["base.unet"] = base.unet(x, t, encoder_hidden_states=context).sample
    refs["base.text"] = base.text_encoder(ids).last_hidden_state

    for case, loras in (("kohya", [("kohya", 0.7)]), ("both", [("kohya", 0.7), ("peft", 1.0)])):
        pipe = pipeline()
        for name, _ in loras:
            pipe.load_lora_weights(OUT, weight_name=f"{name}.safetensors", adapter_name=name)
        pipe.set_adapters([n for n, _ in loras], adapter_weights=[s for _, s in loras])
        pipe.fuse_lora(adapter_names=[n for n, _ in loras])
        refs[f"{case}.unet"] = pipe.unet(x, t, encoder_hidden_states=context).sample
        manual = pipeline()
        for name, scale in loras:
            merge(manual, os.path.join(OUT, f"{name}.safetensors"), scale)
        for path in {p for n, _ in loras for p in (KOHYA if n == "kohya" else PEFT)}:
            fused = module(pipe, text_module_path(path))
            fused = getattr(fused, "base_layer", fused).weight
            if path.startswith("text_encoder") and not hasattr(module(pipe, text_module_path(path)), "base_layer"):
                print("diffusers did not merge", path)
                continue
            err = (fused - module(manual, text_module_path(path)).weight).abs().max().item()
            assert err < 1e-5, (path, err)
        refs[f"{case}.text"] = manual.text_encoder(ids).last_hidden_state
        # A 2-step sample by diffusers' own pipeline on the merged weights.
        latents = manual("a red ball on grass", num_inference_steps=2, guidance_scale=7.5, latents=noise.clone(),
                         height=16, width=16, output_type="latent").images
        refs[f"{case}.ddim.image"] = manual.vae.decode(latents / manual.vae.config.scaling_factor).sample
        assert torch.allclose(manual.unet(x, t, encoder_hidden_states=context).sample, refs[f"{case}.unet"], atol=1e-5)
        moved = (refs[f"{case}.unet"] - refs["base.unet"]).abs().max().item()
        moved_text = (refs[f"{case}.text"] - refs["base.text"]).abs().max().item()
        print(case, "moves the UNet by", moved, "the text encoder by", moved_text)
        assert moved > 1e-3 and moved_text > 1e-3
    save_file({k: v.float().contiguous() for k, v in refs.items()}, os.path.join(OUT, "references.safetensors"))


if __name__ == "__main__":
    main()
