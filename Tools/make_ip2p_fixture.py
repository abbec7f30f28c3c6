"""Builds a tiny random-weight InstructPix2Pix pipeline in the diffusers layout and its references
(run by a developer, never by CI).

Tests/CoreTests/Fixtures/tiny-ip2p/: `StableDiffusionInstructPix2PixPipeline` as `save_pretrained`
writes it: a UNet with in_channels 8 (the noisy latents and the image's latents), tiny-sd's VAE, text
encoder, tokenizer and DDIM scheduler, linked (run Tools/make_fixtures.py first).

References (tiny-ip2p-references.safetensors): the image conditioning (the VAE's posterior mode,
unscaled), and a 10-step sample of the pipeline itself from given latents (guidance 7.5, image
guidance 1.5, the three-branch batch [text + image, image only, neither]), as latents and decoded.

Usage: Tools/.venv/bin/python Tools/make_ip2p_fixture.py
"""
import json
import os
import shutil

import torch
from fixture_weights import randomize
from diffusers import (AutoencoderKL, DDIMScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel)
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")
SD = os.path.join(FIXTURES, "tiny-sd")
OUT = os.path.join(FIXTURES, "tiny-ip2p")
torch.set_grad_enabled(False)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for part in ("vae", "text_encoder", "tokenizer", "scheduler"):
        os.symlink(os.path.join("..", "tiny-sd", part), os.path.join(OUT, part))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=8, out_channels=4, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=1, attention_head_dim=4, norm_num_groups=8, cross_attention_dim=16)
    randomize(unet, 21)
    unet.save_pretrained(os.path.join(OUT, "unet"))
    with open(os.path.join(OUT, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionInstructPix2PixPipeline", "_diffusers_version": "0.42.1",
                   "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                   "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", "DDIMScheduler"], "safety_checker": [None, None],
                   "feature_extractor": [None, None], "image_encoder": [None, None]}, f, indent=2)

    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=AutoencoderKL.from_pretrained(os.path.join(OUT, "vae"), torch_dtype=torch.float32),
        text_encoder=CLIPTextModel.from_pretrained(os.path.join(OUT, "text_encoder"), torch_dtype=torch.float32),
        tokenizer=CLIPTokenizer.from_pretrained(os.path.join(OUT, "tokenizer")),
        unet=UNet2DConditionModel.from_pretrained(os.path.join(OUT, "unet")),
        scheduler=DDIMScheduler.from_pretrained(os.path.join(OUT, "scheduler")),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    g = torch.Generator().manual_seed(5)
    image01 = torch.rand(1, 3, 16, 16, generator=g)
    noise = torch.randn(1, 4, 8, 8, generator=g)
    instruction, guidance, image_guidance = "make the ball blue", 7.5, 1.5
    latents = pipe(instruction, image=image01, num_inference_steps=10, guidance_scale=guidance,
                   image_guidance_scale=image_guidance, latents=noise.clone(), output_type="latent").images
    image = image01 * 2 - 1
    refs = {"image": image, "image_latents": pipe.vae.encode(image).latent_dist.mode(), "noise": noise,
            "latents": latents, "decoded": pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample}
    save_file({k: v.contiguous().float() for k, v in refs.items()}, os.path.join(FIXTURES, "tiny-ip2p-references.safetensors"),
              metadata={"instruction": instruction, "guidance": str(guidance), "image_guidance": str(image_guidance)})
    print(f"wrote {OUT} and its references")


if __name__ == "__main__":
    main()
