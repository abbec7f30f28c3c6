"""Builds a tiny random-weight SDXL pipeline in the diffusers layout and its references (run by a
developer, never by CI).

Tests/CoreTests/Fixtures/tiny-sdxl/: `StableDiffusionXLPipeline` as `save_pretrained` writes it: a
UNet with `addition_embed_type: "text_time"` (pooled text and the six time ids through
`add_embedding`), per-block transformer depths, linear projections; `text_encoder` (CLIPTextModel)
and `text_encoder_2` (CLIPTextModelWithProjection), F16 like the UNet, with the real CLIP BPE tokenizers
(tokenizer_2 pads with "!"); a VAE with SDXL's scaling factor 0.13025; a DDIM scheduler.

References (tiny-sdxl-references.safetensors): the pipeline's `encode_prompt` (both encoders'
penultimate states concatenated, the second's projected pooled state; zeros for the empty negative
prompt, `force_zeros_for_empty_prompt`), a UNet forward with the time ids, and a 2-step sample of
the pipeline itself (guidance 7.5, 8x8 pixels from given 4x4 latents) decoded by the VAE.

Usage: Tools/.venv/bin/python Tools/make_sdxl_fixture.py
"""
import os
import shutil

import torch
from fixture_weights import randomize
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
OUT = os.path.join(FIXTURES, "tiny-sdxl")
torch.set_grad_enabled(False)


def main():
    unet = UNet2DConditionModel(
        sample_size=4, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=[1, 2], attention_head_dim=[2, 4], cross_attention_dim=64, norm_num_groups=8,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8)
    vae = AutoencoderKL(block_out_channels=(16, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
                        norm_num_groups=8, sample_size=32, scaling_factor=0.13025)
    common = dict(vocab_size=49408, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                  max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    text = CLIPTextModel(CLIPTextConfig(**common, hidden_act="quick_gelu"))
    text2 = CLIPTextModelWithProjection(CLIPTextConfig(**common, hidden_act="gelu", projection_dim=32))
    for i, m in enumerate((unet, vae, text, text2)):
        randomize(m, 40 + i, half=m is not vae)
        m.eval()
    tokenizer_folder = os.path.join(FIXTURES, "tiny-sd", "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
    tokenizer_2 = CLIPTokenizer.from_pretrained(tokenizer_folder, pad_token="!")
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text, text_encoder_2=text2, tokenizer=tokenizer,
                                     tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler)
    shutil.rmtree(OUT, ignore_errors=True)
    pipe.save_pretrained(OUT)
    from safetensors.torch import load_file
    for sub, name in (("text_encoder", "model"), ("text_encoder_2", "model"), ("unet", "diffusion_pytorch_model")):
        path = os.path.join(OUT, sub, f"{name}.safetensors")   # F16, as published SDXL weights are
        save_file({k: v.half() for k, v in load_file(path).items()}, path, metadata={"format": "pt"})
    for sub in ("tokenizer", "tokenizer_2"):   # vocab.json and merges.txt, as published SDXL folders hold them
        os.remove(os.path.join(OUT, sub, "tokenizer.json"))
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(tokenizer_folder, f), os.path.join(OUT, sub, f))

    prompt = "a red ball on grass"
    g = torch.Generator().manual_seed(3)
    embeds, negative, pooled, negative_pooled = pipe.encode_prompt(prompt, do_classifier_free_guidance=True)
    assert negative.abs().max() == 0 and negative_pooled.abs().max() == 0
    refs = {"prompt_embeds": embeds, "pooled": pooled}
    x = torch.randn(2, 4, 4, 4, generator=g)
    t = torch.tensor([900.0, 100.0])
    time_ids = torch.tensor([[32.0, 32.0, 0.0, 0.0, 32.0, 32.0]] * 2)
    refs.update({"unet.sample": x, "unet.timesteps": t, "unet.time_ids": time_ids,
                 "unet.out": unet(x, t, encoder_hidden_states=embeds.repeat(2, 1, 1),
                                  added_cond_kwargs={"text_embeds": pooled.repeat(2, 1), "time_ids": time_ids}).sample})
    noise = torch.randn(1, 4, 4, 4, generator=g)
    latents = pipe(prompt, height=8, width=8, num_inference_steps=2, guidance_scale=7.5, latents=noise.clone(),
                   output_type="latent").images
    refs.update({"ddim.noise": noise, "ddim.image": vae.decode(latents / vae.config.scaling_factor).sample})
    save_file({k: v.float().contiguous() for k, v in refs.items()}, os.path.join(FIXTURES, "tiny-sdxl-references.safetensors"),
              metadata={"prompt": prompt})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("tiny-sdxl", total, "bytes")


if __name__ == "__main__":
    main()
