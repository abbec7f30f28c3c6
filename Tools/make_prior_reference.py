"""Runs the bundled prior (Models/prior) in PyTorch for the Swift agreement test.

20 DDIM steps with classifier-free guidance from fixed noise, as StableDiffusionPipeline would for a
pixel model but with `use_clipped_model_output=True` (what `csd sample` does: the prior's scheduler
clips x0), saved with the noise, prompt and the training step of the weights to
Tests/CoreTests/Fixtures/prior-reference.safetensors. Rerun after every export of Models/prior.

    Tools/.venv/bin/python Tools/make_prior_reference.py
"""
import json
import os

import torch
from diffusers import DDIMScheduler, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = os.path.join(ROOT, "Models", "prior")
OUT = os.path.join(ROOT, "Tests", "CoreTests", "Fixtures", "prior-reference.safetensors")


def main():
    torch.set_grad_enabled(False)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODEL, "unet"))
    text = CLIPTextModel.from_pretrained(os.path.join(MODEL, "text_encoder"))
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(MODEL, "tokenizer"))
    scheduler = DDIMScheduler.from_pretrained(os.path.join(MODEL, "scheduler"))
    with open(os.path.join(MODEL, "training.json")) as f:
        steps_trained = json.load(f)["steps"]
    prompt, guidance = "a red ball on grass", 5.0

    def encode(p):
        ids = tokenizer([p], padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids
        out = text(ids)
        return out.last_hidden_state, out.pooler_output
    cond, cond_pooled = encode(prompt)
    uncond, uncond_pooled = encode("")
    noise = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    scheduler.set_timesteps(20)
    x = noise.clone()
    for t in scheduler.timesteps:
        out = unet(torch.cat([x, x]), t, encoder_hidden_states=torch.cat([uncond, cond]),
                   class_labels=torch.cat([uncond_pooled, cond_pooled])).sample
        u, c = out.chunk(2)
        x = scheduler.step(u + guidance * (c - u), t, x, use_clipped_model_output=True).prev_sample
    save_file({"noise": noise, "image": x.contiguous()}, OUT,
              metadata={"prompt": prompt, "guidance": str(guidance), "steps": "20", "trained_steps": str(steps_trained),
                        "use_clipped_model_output": "true"})
    print(f"wrote {OUT} (weights after {steps_trained} training steps)")


if __name__ == "__main__":
    main()
