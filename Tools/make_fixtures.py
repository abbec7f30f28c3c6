"""Builds the reference fixtures the Swift tests compare against (run by a developer, never by CI).

Small randomly initialised diffusers/transformers models are saved in the diffusers folder layout
under Tests/CoreTests/Fixtures, with their inputs and PyTorch's outputs in references.safetensors:

- unet-pixel/: a pixel-space UNet (3 channels), linear projection, per-block head counts, pooled
  text added to the time embedding (class_embed_type "projection"), DownBlock2D first.
- tiny-sd/: a latent pipeline (model_index.json, unet with conv projection and an int head count,
  a VAE stored as BF16, a CLIP text encoder stored as F16, the real CLIP BPE tokenizer, a DDIM
  scheduler config), and a 10-step DDIM sample with classifier-free guidance from fixed noise.
- scheduler-trailing-v/: a DDIM config with trailing spacing and v-prediction, run for 6 steps
  on unet-pixel.
- tokenizer-cases.json: transformers 5 CLIPTokenizer ids (the tokenizers-backed one) for 200+ strings.

Usage: Tools/.venv/bin/python Tools/make_fixtures.py   (needs torch, diffusers, transformers 5,
safetensors, and open-clip-torch for its copy of the CLIP BPE merges.)
"""
import gzip
import json
import os
import shutil
import sys

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
torch.set_grad_enabled(False)
refs = {}


def randomize(module, seed, scale=0.2):
    """Random weights everywhere (diffusers zero-initialises some layers), so every path counts."""
    g = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight") and p.dim() == 1:
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(scale * torch.randn(p.shape, generator=g))


def clip_vocabulary(folder):
    """vocab.json + merges.txt in transformers' layout, from open_clip's bpe_simple_vocab_16e6."""
    import importlib.util
    spec = importlib.util.find_spec("open_clip")
    path = os.path.join(os.path.dirname(spec.origin), "bpe_simple_vocab_16e6.txt.gz")
    merges = gzip.open(path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "pad_token": "<|endoftext|>", "bos_token": "<|startoftext|>",
                   "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer"}, f, indent=1)


def tokenizer_cases(tokenizer):
    words = ["a", "red", "ball", "on", "grass", "photo", "of", "the", "cat", "dog", "astronaut", "riding", "horse", "mars"]
    texts = [
        "", " ", "a", "A", "a red ball on grass", "A RED BALL ON GRASS", "a blue ball on grass",
        "a photograph of an astronaut riding a horse", "Hello, world!", "hello,world", "hello...world", "what?!",
        "don't", "it's", "we're", "they've", "I'm", "you'll", "he'd", "DON'T", "IT'S", "rock'n'roll", "'s", "''quoted''",
        "1", "12", "123", "3.14159", "1,000,000", "2024-11-22", "x2", "4k", "8K uhd", "f/1.8", "100%", "$5.99", "#hashtag", "@user",
        "café", "naïve", "résumé", "Ångström", "crème brûlée", "São Paulo", "Zürich", "Ærø", "ﬁne", "Straße", "İstanbul",
        "ΣΊΣΥΦΟΣ", "ΟΔΟΣ", "Москва", "東京タワー", "北京", "한국어", "ภาษาไทย", "עברית", "العربية", "हिन्दी",
        "🙂", "a cat 🐱 on a mat", "🔥🔥🔥", "👍🏽", "👨‍👩‍👧", "🇫🇷 flag", "♥ love ♥", "★★★☆☆", "→ arrow", "©2024 ™",
        "tab\tseparated", "new\nline", "carriage\rreturn", "  leading and trailing  ", "many     spaces",
        "non\u00a0breaking", "zero\u200bwidth", "soft\u00adhyphen", "em—dash", "en–dash", "“smart quotes”", "‘single’",
        "<|startoftext|>", "a <|endoftext|> b", "trending on artstation, highly detailed, 8k, octane render",
        "masterpiece, best quality, (detailed:1.2), [background]", "a_b-c.d/e\\f", "C++ & C#", "e=mc^2", "x*y+z",
        "oil painting by Vincent van Gogh", "cyberpunk city at night, neon lights", "ﾊﾝｶｸ", "ｆｕｌｌｗｉｄｔｈ", "Ⅻ roman", "½ half",
        "²³ superscripts", "٣ arabic digit", "🄰 squared", "mixed中文english", "done.Next", "x\x00y", "control\x07bell",
    ]
    long_prompt = ", ".join(words[i % len(words)] + str(i) for i in range(120))
    texts += [long_prompt, " ".join(["word"] * 80), "a" * 300, "🙂" * 100]
    g = torch.Generator().manual_seed(7)
    pieces = words + ["!", "?", ",", "'s", "'t", "42", "é", "ß", "🙂", "東", "-", "...", "(", ")", "Σ", "ω", "\t", "  "]
    while len(texts) < 230:
        n = int(torch.randint(1, 14, (1,), generator=g))
        idx = torch.randint(0, len(pieces), (n,), generator=g).tolist()
        seps = torch.randint(0, 3, (n,), generator=g).tolist()
        texts.append("".join(pieces[i] + ("" if s == 0 else " ") for i, s in zip(idx, seps)))
    cases = []
    for t in texts:
        ids = tokenizer(t, padding="max_length", max_length=77, truncation=True).input_ids
        cases.append({"text": t, "ids": ids})
    return cases


def text_encoder_config():
    return CLIPTextConfig(vocab_size=49408, hidden_size=16, intermediate_size=37, num_hidden_layers=2,
                          num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)


def kernel_references(g):
    """Single kernels on random inputs, for paths the model fixtures do not reach."""
    import torch.nn.functional as F
    from diffusers.models.embeddings import get_timestep_embedding
    x = torch.randn(2, 6, 9, 11, generator=g) * 3
    refs["k.x"] = x
    refs["k.gelu"] = F.gelu(x)
    refs["k.gelu_tanh"] = F.gelu(x, approximate="tanh")
    refs["k.quick_gelu"] = x * torch.sigmoid(1.702 * x)
    refs["k.silu"] = F.silu(x)
    refs["k.softmax"] = torch.softmax(x, dim=-1)
    w5 = torch.randn(4, 6, 5, 5, generator=g)
    b5 = torch.randn(4, generator=g)
    refs.update({"k.w5": w5, "k.b5": b5, "k.conv5_s2": F.conv2d(x, w5, b5, stride=2, padding=2)})
    w3 = torch.randn(5, 6, 3, 3, generator=g)
    refs.update({"k.w3": w3, "k.conv3_asym": F.conv2d(F.pad(x, (0, 1, 0, 1)), w3, None, stride=2)})
    gw, gb = torch.randn(6, generator=g), torch.randn(6, generator=g)
    refs.update({"k.gn_w": gw, "k.gn_b": gb, "k.group_norm": F.group_norm(x, 3, gw, gb, eps=1e-6)})
    lw, lb = torch.randn(11, generator=g), torch.randn(11, generator=g)
    refs.update({"k.ln_w": lw, "k.ln_b": lb, "k.layer_norm": F.layer_norm(x, (11,), lw, lb, eps=1e-5)})
    refs["k.upsample_odd"] = F.interpolate(x, size=(19, 23), mode="nearest")
    q, k, v = (torch.randn(2, 13, 12, generator=g) for _ in range(3))
    heads = 3
    def split(t):
        return t.view(2, 13, heads, 4).transpose(1, 2)
    causal = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=True).transpose(1, 2).reshape(2, 13, 12)
    refs.update({"k.q": q, "k.k": k, "k.v": v, "k.attention_causal": causal})
    t = torch.tensor([0.0, 3.0, 999.0])
    refs["k.timesteps"] = t
    refs["k.temb_noflip_shift1"] = get_timestep_embedding(t, 10, flip_sin_to_cos=False, downscale_freq_shift=1)


def main():
    import transformers
    if int(transformers.__version__.split(".")[0]) < 5:
        sys.exit("transformers 5 is needed: its CLIPTokenizer is the tokenizers-backed one the Swift code matches")
    if os.path.exists(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)

    # --- pixel UNet: linear projection, list heads, class projection, DownBlock2D first
    pixel = UNet2DConditionModel(
        sample_size=16, in_channels=3, out_channels=3, block_out_channels=(16, 32, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1, attention_head_dim=(1, 2, 4), use_linear_projection=True, norm_num_groups=8,
        cross_attention_dim=16, class_embed_type="projection", projection_class_embeddings_input_dim=16,
        flip_sin_to_cos=True, freq_shift=0)
    randomize(pixel, 1)
    pixel.save_pretrained(os.path.join(ROOT, "unet-pixel"))
    g = torch.Generator().manual_seed(11)
    x = torch.randn(2, 3, 16, 24, generator=g)
    ctx = torch.randn(2, 5, 16, generator=g)
    pooled = torch.randn(2, 16, generator=g)
    t = torch.tensor([10.0, 873.0])
    refs.update({"unet_pixel.sample": x, "unet_pixel.timesteps": t, "unet_pixel.context": ctx,
                 "unet_pixel.class_labels": pooled,
                 "unet_pixel.out": pixel(x, t, encoder_hidden_states=ctx, class_labels=pooled).sample})

    # --- latent pipeline
    sd = os.path.join(ROOT, "tiny-sd")
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=2, attention_head_dim=4, use_linear_projection=False, norm_num_groups=8, cross_attention_dim=16)
    randomize(unet, 2)
    unet.save_pretrained(os.path.join(sd, "unet"))
    xl = torch.randn(2, 4, 8, 8, generator=g)
    ctxl = torch.randn(2, 7, 16, generator=g)
    tl = torch.tensor([1.0, 999.0])
    refs.update({"unet_latent.sample": xl, "unet_latent.timesteps": tl, "unet_latent.context": ctxl,
                 "unet_latent.out": unet(xl, tl, encoder_hidden_states=ctxl).sample})

    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), block_out_channels=(16, 32),
                        layers_per_block=1, latent_channels=4, norm_num_groups=8, sample_size=16, scaling_factor=0.18215)
    randomize(vae, 3, scale=0.15)
    vae = vae.to(torch.bfloat16)
    vae.save_pretrained(os.path.join(sd, "vae"))
    vae = vae.to(torch.float32)
    image = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    latents_in = torch.randn(1, 4, 8, 8, generator=g)
    refs.update({"vae.image": image, "vae.encoded": vae.encode(image).latent_dist.mean * vae.config.scaling_factor,
                 "vae.latents": latents_in, "vae.decoded": vae.decode(latents_in / vae.config.scaling_factor).sample})

    text = CLIPTextModel(text_encoder_config())
    randomize(text, 4)
    text = text.to(torch.float16)
    text.save_pretrained(os.path.join(sd, "text_encoder"))
    text = text.to(torch.float32)
    clip_vocabulary(os.path.join(sd, "tokenizer"))
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(sd, "tokenizer"))
    ids = torch.tensor([tokenizer("a red ball on grass", padding="max_length", max_length=77, truncation=True).input_ids,
                        tokenizer("", padding="max_length", max_length=77, truncation=True).input_ids])
    out = text(ids)
    refs.update({"text.ids": ids.float(), "text.last": out.last_hidden_state, "text.pooled": out.pooler_output})

    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon",
                              timestep_spacing="leading")
    scheduler.save_pretrained(os.path.join(sd, "scheduler"))
    with open(os.path.join(sd, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
                   "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                   "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", "DDIMScheduler"], "safety_checker": [None, None],
                   "feature_extractor": [None, None]}, f, indent=2)

    # 10-step DDIM with classifier-free guidance, as StableDiffusionPipeline runs it.
    prompt, guidance = "a red ball on grass", 7.5
    cond = text(ids[:1]).last_hidden_state
    uncond = text(ids[1:]).last_hidden_state
    noise = torch.randn(1, 4, 8, 8, generator=g)
    scheduler.set_timesteps(10)
    latents = noise.clone()
    for step_t in scheduler.timesteps:
        both = torch.cat([latents, latents])
        pred = unet(both, step_t, encoder_hidden_states=torch.cat([uncond, cond])).sample
        u, c = pred.chunk(2)
        latents = scheduler.step(u + guidance * (c - u), step_t, latents).prev_sample
    refs.update({"ddim.noise": noise, "ddim.latents": latents,
                 "ddim.image": vae.decode(latents / vae.config.scaling_factor).sample,
                 "ddim.timesteps": scheduler.timesteps.float()})

    # SDS and DDS gradients (guidance 7.5, t = 600, uniform weighting) on the latent pipeline
    def tokens(text_):
        return torch.tensor([tokenizer(text_, padding="max_length", max_length=77, truncation=True).input_ids])
    red, blue, empty = (text(tokens(p)).last_hidden_state for p in ("a red ball on grass", "a blue ball on grass", ""))
    x_edit = torch.randn(2, 4, 8, 8, generator=g)
    x_src = torch.randn(2, 4, 8, 8, generator=g)
    eps = torch.randn(2, 4, 8, 8, generator=g)
    t_d = 600
    a_t = scheduler.alphas_cumprod[t_d]

    def guided(x, cond):
        xt = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        out = unet(torch.cat([xt, xt]), t_d, encoder_hidden_states=torch.cat([empty.expand(2, -1, -1), cond.expand(2, -1, -1)])).sample
        u, c = out.chunk(2)
        return u + 7.5 * (c - u)
    refs.update({"dist.x": x_edit, "dist.source": x_src, "dist.noise": eps,
                 "dist.sds": guided(x_edit, blue) - eps, "dist.dds": guided(x_edit, blue) - guided(x_src, red)})

    # trailing spacing + v-prediction + clip_sample, on the pixel UNet with given conditioning
    trailing = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=True, set_alpha_to_one=True,
                             prediction_type="v_prediction", timestep_spacing="trailing")
    trailing.save_pretrained(os.path.join(ROOT, "scheduler-trailing-v"))
    trailing.set_timesteps(6)
    xs = torch.randn(1, 3, 16, 16, generator=g)
    sample = xs.clone()
    for step_t in trailing.timesteps:
        v = pixel(sample, step_t, encoder_hidden_states=ctx[:1], class_labels=pooled[:1]).sample
        sample = trailing.step(v, step_t, sample).prev_sample
    refs.update({"trailing.noise": xs, "trailing.out": sample, "trailing.timesteps": trailing.timesteps.float()})

    kernel_references(g)
    save_file({k: v.contiguous().float() for k, v in refs.items()}, os.path.join(ROOT, "references.safetensors"),
              metadata={"ddim.prompt": prompt, "ddim.guidance": str(guidance)})
    cases = tokenizer_cases(tokenizer)
    with open(os.path.join(ROOT, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    print(f"wrote {len(refs)} reference tensors and {len(cases)} tokenizer cases to {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
