"""Builds single-file (original LDM key names) Stable Diffusion fixtures and their diffusers references
(run by a developer, never by CI).

Each fixture is one F16 `.safetensors` laid out as the checkpoints users download for A1111/ComfyUI:
`model.diffusion_model.*` (UNet), `first_stage_model.*` (VAE) and the text encoder as
`cond_stage_model.transformer.text_model.*` (SD 1.x, transformers' CLIP, with an I64 position_ids
buffer) or `cond_stage_model.model.*` (SD 2.x, OpenCLIP: fused in_proj, 24 resblocks of which
diffusers drops the last), plus the LDM schedule buffers (`betas`, `alphas_cumprod`) nobody reads.

The models are built with the configs the Swift loader infers from such a file (8 heads for SD 1.x,
head dim 64 for SD 2.x and for CLIP, at least one head, 32 norm groups), so the fixture checks the inference too. Before
anything is written, diffusers' own single-file converters (`diffusers.loaders.single_file_utils`)
map each file back and must give the models' state dicts exactly: the files are what diffusers'
`from_single_file` reads.

References (Tests/CoreTests/Fixtures/single-file/references.safetensors), per fixture `sd1.`/`sd2.`:
a UNet forward, the text encoder's hidden states, and a 2-step DDIM sample with guidance 7.5.

Usage: Tools/.venv/bin/python Tools/make_single_file_fixtures.py   (torch, diffusers, transformers,
safetensors; reads the CLIP tokenizer of Tests/CoreTests/Fixtures/tiny-sd.)
"""
import os

import torch
from fixture_weights import randomize
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                 convert_ldm_vae_checkpoint, convert_open_clip_checkpoint)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
OUT = os.path.join(FIXTURES, "single-file")
torch.set_grad_enabled(False)


RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
          "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def ldm_unet(unet):
    """diffusers UNet names -> LDM names (the inverse of convert_ldm_unet_checkpoint)."""
    c = unet.config
    per = c.layers_per_block + 1
    out = {}
    for name, t in unet.state_dict().items():
        p = name.split(".")
        if p[0] == "time_embedding":
            key = {"linear_1": "time_embed.0", "linear_2": "time_embed.2"}[p[1]] + "." + p[2]
        elif p[0] in ("conv_in", "conv_norm_out", "conv_out"):
            key = {"conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}[p[0]] + "." + p[1]
        elif p[0] == "down_blocks":
            i = int(p[1])
            if p[2] == "resnets":
                j = int(p[3])
                key = f"input_blocks.{1 + i * per + j}.0.{RESNET[p[4]]}." + ".".join(p[5:])
            elif p[2] == "attentions":
                key = f"input_blocks.{1 + i * per + int(p[3])}.1." + ".".join(p[4:])
            else:  # downsamplers.0.conv.X
                key = f"input_blocks.{1 + i * per + c.layers_per_block}.0.op." + p[-1]
        elif p[0] == "mid_block":
            if p[1] == "resnets":
                key = f"middle_block.{2 * int(p[2])}.{RESNET[p[3]]}." + ".".join(p[4:])
            else:
                key = "middle_block.1." + ".".join(p[3:])
        elif p[0] == "up_blocks":
            i = int(p[1])
            if p[2] == "resnets":
                key = f"output_blocks.{i * per + int(p[3])}.0.{RESNET[p[4]]}." + ".".join(p[5:])
            elif p[2] == "attentions":
                key = f"output_blocks.{i * per + int(p[3])}.1." + ".".join(p[4:])
            else:
                has_attention = "CrossAttn" in c.up_block_types[i]
                key = f"output_blocks.{i * per + c.layers_per_block}.{2 if has_attention else 1}.conv." + p[-1]
        else:
            raise ValueError(name)
        out["model.diffusion_model." + key] = t
    return out


def ldm_vae(vae):
    """diffusers VAE names -> LDM names (the inverse of convert_ldm_vae_checkpoint)."""
    n = len(vae.config.block_out_channels)
    out = {}
    for name, t in vae.state_dict().items():
        p = name.split(".")
        side = p[0]
        if p[1] in ("down_blocks", "up_blocks"):
            i = int(p[2])
            level = i if side == "encoder" else n - 1 - i
            kind = "down" if side == "encoder" else "up"
            if p[3] == "resnets":
                rest = ".".join(p[5:]).replace("conv_shortcut", "nin_shortcut")
                key = f"{side}.{kind}.{level}.block.{p[4]}.{rest}"
            else:
                key = f"{side}.{kind}.{level}.{'downsample' if kind == 'down' else 'upsample'}.conv.{p[-1]}"
        elif p[1] == "mid_block":
            if p[2] == "resnets":
                key = f"{side}.mid.block_{int(p[3]) + 1}." + ".".join(p[4:]).replace("conv_shortcut", "nin_shortcut")
            else:
                leaf = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}[p[4]]
                key = f"{side}.mid.attn_1.{leaf}.{p[-1]}"
                if t.dim() == 2:
                    t = t[:, :, None, None]  # LDM's 1x1 convolutions
        elif p[1] == "conv_norm_out":
            key = f"{side}.norm_out.{p[2]}"
        else:
            key = name
        out["first_stage_model." + key] = t
    return out


def open_clip(text, extra_layer_seed):
    """diffusers CLIPTextModel -> OpenCLIP names, with the 24th resblock SD 2.x carries and diffusers drops."""
    out = {}
    d = text.config.hidden_size
    sd = text_state(text)
    layers = text.config.num_hidden_layers
    g = torch.Generator().manual_seed(extra_layer_seed)
    for i in range(layers + 1):
        def get(n, shape):
            if i < layers:
                return sd[f"text_model.encoder.layers.{i}.{n}"]
            return (0.1 * torch.randn(shape, generator=g)).half().float()
        pre = f"cond_stage_model.model.transformer.resblocks.{i}."
        out[pre + "attn.in_proj_weight"] = torch.cat([get(f"self_attn.{k}_proj.weight", (d, d)) for k in "qkv"])
        out[pre + "attn.in_proj_bias"] = torch.cat([get(f"self_attn.{k}_proj.bias", (d,)) for k in "qkv"])
        out[pre + "attn.out_proj.weight"] = get("self_attn.out_proj.weight", (d, d))
        out[pre + "attn.out_proj.bias"] = get("self_attn.out_proj.bias", (d,))
        for a, b in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2")):
            out[pre + a + ".weight"] = get(b + ".weight", (d,))
            out[pre + a + ".bias"] = get(b + ".bias", (d,))
        m = text.config.intermediate_size
        out[pre + "mlp.c_fc.weight"] = get("mlp.fc1.weight", (m, d))
        out[pre + "mlp.c_fc.bias"] = get("mlp.fc1.bias", (m,))
        out[pre + "mlp.c_proj.weight"] = get("mlp.fc2.weight", (d, m))
        out[pre + "mlp.c_proj.bias"] = get("mlp.fc2.bias", (d,))
    out["cond_stage_model.model.token_embedding.weight"] = sd["text_model.embeddings.token_embedding.weight"]
    out["cond_stage_model.model.positional_embedding"] = sd["text_model.embeddings.position_embedding.weight"]
    out["cond_stage_model.model.ln_final.weight"] = sd["text_model.final_layer_norm.weight"]
    out["cond_stage_model.model.ln_final.bias"] = sd["text_model.final_layer_norm.bias"]
    out["cond_stage_model.model.text_projection"] = (0.1 * torch.randn(d, d, generator=g)).half().float()
    out["cond_stage_model.model.logit_scale"] = torch.tensor(4.6)
    return out


def text_state(text):
    """The text encoder's weights under transformers' saved names (`text_model.…`; transformers 5 flattens the module)."""
    return {k if k.startswith("text_model.") else "text_model." + k: v for k, v in text.state_dict().items()}


def same(a, b, what):
    assert set(a) == set(b), f"{what}: {sorted(set(a) ^ set(b))[:5]}"
    for k in a:
        assert a[k].shape == b[k].shape and torch.equal(a[k].float(), b[k].float()), f"{what}: {k}"


def build(family, seed):
    g = torch.Generator().manual_seed(seed)
    if family == "sd1":
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32)
        text_config = CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                     num_attention_heads=1, max_position_embeddings=77, hidden_act="quick_gelu",
                                     bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    else:
        unet = UNet2DConditionModel(
            sample_size=96, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32, attention_head_dim=[1, 1], use_linear_projection=True, norm_num_groups=32)
        text_config = CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=23,
                                     num_attention_heads=1, max_position_embeddings=77, hidden_act="gelu",
                                     bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    vae = AutoencoderKL(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
                        norm_num_groups=32, sample_size=64, scaling_factor=0.18215)
    text = CLIPTextModel(text_config)
    for i, m in enumerate((unet, vae, text)):
        randomize(m, seed * 10 + i, half=True)
        m.eval()

    checkpoint = {}
    checkpoint.update(ldm_unet(unet))
    checkpoint.update(ldm_vae(vae))
    if family == "sd1":
        for k, v in text_state(text).items():
            checkpoint["cond_stage_model.transformer." + k] = v
        checkpoint["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
    else:
        checkpoint.update(open_clip(text, seed * 10 + 7))
    checkpoint["betas"] = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    checkpoint["alphas_cumprod"] = torch.cumprod(1 - checkpoint["betas"], 0)

    # diffusers' own converters must map the file back to the models exactly.
    same(convert_ldm_unet_checkpoint(checkpoint, unet.config), unet.state_dict(), f"{family} unet")
    same(convert_ldm_vae_checkpoint(checkpoint, vae.config), vae.state_dict(), f"{family} vae")
    if family == "sd1":
        text_dict = convert_ldm_clip_checkpoint(checkpoint)
        text_dict.pop("text_model.embeddings.position_ids")
    else:
        text_dict = convert_open_clip_checkpoint(text, checkpoint)
        text_dict = {k: v for k, v in text_dict.items() if not k.startswith("text_model.encoder.layers.23.") and k != "text_projection.weight"}
    expected_text = {k: v for k, v in text_state(text).items() if not k.endswith("position_ids")}
    same(text_dict, expected_text, f"{family} text encoder")

    stored = {k: (v if v.dtype in (torch.int64, torch.float64) else v.half()).contiguous() for k, v in checkpoint.items()}
    save_file(stored, os.path.join(OUT, f"{family}.safetensors"))

    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(FIXTURES, "tiny-sd", "tokenizer"),
                                              pad_token="<|endoftext|>" if family == "sd1" else "!")
    prompt = "a red ball on grass"

    def encode(p):
        ids = torch.tensor([tokenizer(p, padding="max_length", max_length=77, truncation=True).input_ids])
        return text(ids).last_hidden_state

    cond, uncond = encode(prompt), encode("")
    refs = {}
    x = torch.randn(2, 4, 8, 8, generator=g)
    t = torch.tensor([999.0, 250.0])
    refs[f"{family}.unet.sample"] = x
    refs[f"{family}.unet.timesteps"] = t
    refs[f"{family}.unet.out"] = unet(x, t, encoder_hidden_states=torch.cat([cond, uncond])).sample
    refs[f"{family}.text.cond"] = cond
    refs[f"{family}.text.uncond"] = uncond

    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                              prediction_type="epsilon" if family == "sd1" else "v_prediction", timestep_spacing="leading")
    scheduler.set_timesteps(2)
    noise = torch.randn(1, 4, 8, 8, generator=g)
    latents = noise.clone()
    for step_t in scheduler.timesteps:
        pred = unet(torch.cat([latents, latents]), step_t, encoder_hidden_states=torch.cat([uncond, cond])).sample
        u, c = pred.chunk(2)
        latents = scheduler.step(u + 7.5 * (c - u), step_t, latents).prev_sample
    refs[f"{family}.ddim.noise"] = noise
    refs[f"{family}.ddim.image"] = vae.decode(latents / 0.18215).sample
    return refs, prompt


def main():
    os.makedirs(OUT, exist_ok=True)
    refs = {}
    for seed, family in enumerate(("sd1", "sd2"), start=1):
        r, prompt = build(family, seed)
        refs.update(r)
    save_file({k: v.float().contiguous() for k, v in refs.items()}, os.path.join(OUT, "references.safetensors"),
              metadata={"prompt": prompt})
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
