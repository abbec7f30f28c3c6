"""Reference for the Swift tiled VAE: diffusers' AutoencoderKL with enable_tiling() on the tiny
fixture VAE (Tests/CoreTests/Fixtures/tiny-sd/vae, sample_size 16 so 16-pixel / 8-cell tiles),
on an image and latents several tiles wide whose sides are not multiples of the tile.
Writes Tests/CoreTests/Fixtures/vae-tiled.safetensors. Run from the repository root:
    Tools/.venv/bin/python Tools/make_tiled_vae_reference.py
"""
import os

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CoreTests", "Fixtures")


def main():
    torch.manual_seed(0)
    vae = AutoencoderKL.from_pretrained(os.path.join(ROOT, "tiny-sd", "vae")).to(torch.float32).eval()
    vae.enable_tiling()
    assert vae.tile_sample_min_size == 16 and vae.tile_latent_min_size == 8
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 40), torch.linspace(-1, 1, 58), indexing="ij")
    image = torch.stack([torch.sin(3 * xs + ys), torch.cos(2 * ys - xs), xs * ys]).unsqueeze(0) * 0.8
    image = image + 0.1 * torch.randn_like(image)
    latents = torch.randn(1, 4, 21, 30)
    with torch.no_grad():
        encoded = vae.encode(image).latent_dist.mean * vae.config.scaling_factor
        decoded = vae.decode(latents / vae.config.scaling_factor).sample
    save_file({"image": image.contiguous(), "encoded": encoded.contiguous(), "latents": latents.contiguous(),
               "decoded": decoded.contiguous()}, os.path.join(ROOT, "vae-tiled.safetensors"))
    print("encoded", tuple(encoded.shape), "decoded", tuple(decoded.shape))


if __name__ == "__main__":
    main()
