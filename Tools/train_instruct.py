"""Trains the bundled instruction model (InstructPix2Pix-style) on world edit pairs (CPU, resumable).

The model is the bundled prior's pixel-space UNet with 6 input channels: the noisy edited image and
the source image, concatenated on the channel axis as diffusers' StableDiffusionInstructPix2PixPipeline
does with latents. It starts from the prior's weights (the text encoder too), the three new input
channels' conv_in weights set to zero, as InstructPix2Pix starts from Stable Diffusion. Epsilon
prediction on the prior's noise schedule, min-SNR-gamma=5 loss weights, AdamW, bf16 autocast, EMA
weights. 10% of the instructions are dropped to "" and, independently, 10% of the source images to
zeros, so that both guidances (text and image) work.

    .build/release/csd world instruct-dataset --count 100000 -o Tools/cache/instruct-64.safetensors
    Tools/.venv/bin/python Tools/train_instruct.py --data Tools/cache/instruct-64.safetensors --resume

Every --checkpoint-every steps the whole state goes to --checkpoint (temporary file, then renamed);
every --export-every steps the EMA weights go to --out as a diffusers folder.
"""
import argparse
import json
import os
import time

import torch
from diffusers import UNet2DConditionModel
from safetensors import safe_open
from safetensors.numpy import load_file
from transformers import CLIPTextModel, CLIPTokenizer

from train_prior import StepLog, export, learning_rate, optimizer_step, save_atomically, scheduler


def widened(unet):
    """The prior's UNet with conv_in taking 6 channels; the new channels' weights start at zero."""
    config = dict(unet.config)
    config["in_channels"] = 6
    wide = UNet2DConditionModel.from_config(config)
    state = unet.state_dict()
    w = state["conv_in.weight"]
    state["conv_in.weight"] = torch.cat([w, torch.zeros_like(w)], dim=1)
    wide.load_state_dict(state)
    return wide


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--init", default="Models/prior", help="the prior folder the model starts from")
    p.add_argument("--out", default="Models/instruct")
    p.add_argument("--checkpoint", default="Tools/cache/instruct-checkpoint.pt")
    p.add_argument("--log", default="Tools/cache/instruct-train.log")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--cooldown-from", type=int, default=None)
    p.add_argument("--cooldown-steps", type=int, default=2_000)
    p.add_argument("--cooldown-to", type=float, default=2e-5)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--min-snr-gamma", type=float, default=5.0)
    p.add_argument("--text-dropout", type=float, default=0.1)
    p.add_argument("--image-dropout", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--export-every", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export-only", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
    tokenizer_dir = os.path.join(args.init, "tokenizer")
    with open(os.path.join(args.init, "training.json")) as f:
        beta_schedule = json.load(f).get("beta_schedule", "linear")

    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    data = load_file(args.data)
    sources = torch.from_numpy(data["sources"])  # N, H, W, 3 uint8
    targets = torch.from_numpy(data["targets"])
    with safe_open(args.data, "np") as f:
        instructions = json.loads(f.metadata()["instructions"])
    ids = tokenizer(instructions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    empty = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    n = sources.shape[0]

    unet = widened(UNet2DConditionModel.from_pretrained(os.path.join(args.init, "unet")))
    text = CLIPTextModel.from_pretrained(os.path.join(args.init, "text_encoder"))
    ema_unet = UNet2DConditionModel.from_config(unet.config)
    ema_text = CLIPTextModel(text.config)
    ema_unet.load_state_dict(unet.state_dict())
    ema_text.load_state_dict(text.state_dict())
    for m in (ema_unet, ema_text):
        m.requires_grad_(False)
    params = list(unet.parameters()) + list(text.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    step, seen, started, elapsed_before = 0, 0, time.time(), 0.0
    if args.resume and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint, weights_only=False)
        unet.load_state_dict(state["unet"]); text.load_state_dict(state["text"])
        ema_unet.load_state_dict(state["ema_unet"]); ema_text.load_state_dict(state["ema_text"])
        optimizer.load_state_dict(state["optimizer"])
        step, seen, elapsed_before = state["step"], state["seen"], state["elapsed"]
        torch.set_rng_state(state["rng"])
        print(f"resumed at step {step}")

    def write_export(loss):
        export(args.out, ema_unet, ema_text, tokenizer_dir, beta_schedule, pipeline="StableDiffusionInstructPix2PixPipeline")
        with open(os.path.join(args.out, "training.json"), "w") as f:
            json.dump({"init": args.init, "steps": step, "pairs_seen": seen, "batch": args.batch, "lr": args.lr,
                       "lr_now": learning_rate(args, step), "cooldown_from": args.cooldown_from,
                       "cooldown_steps": args.cooldown_steps, "cooldown_to": args.cooldown_to, "ema": args.ema,
                       "min_snr_gamma": args.min_snr_gamma, "beta_schedule": beta_schedule,
                       "text_dropout": args.text_dropout, "image_dropout": args.image_dropout, "loss_ema": loss,
                       "wall_minutes": (elapsed_before + time.time() - started) / 60, "pairs": n,
                       "threads": args.threads}, f, indent=2)

    if args.export_only:
        loss = torch.load(args.checkpoint, weights_only=False).get("loss") if os.path.exists(args.checkpoint) else None
        started = time.time()
        write_export(loss)
        print(f"exported step {step} to {args.out}")
        return

    alphas = scheduler(beta_schedule).alphas_cumprod.float()
    snr = alphas / (1 - alphas)
    weights = torch.clamp(snr, max=args.min_snr_gamma) / snr
    print(f"{n} pairs; UNet {sum(p.numel() for p in unet.parameters()):,} parameters")
    log = StepLog(args.log, "pairs")
    while step < args.steps:
        index = torch.randint(0, n, (args.batch,))
        x0 = targets[index].permute(0, 3, 1, 2).float() / 127.5 - 1
        source = sources[index].permute(0, 3, 1, 2).float() / 127.5 - 1
        flip = torch.rand(args.batch) < 0.5
        x0[flip] = x0[flip].flip(-1)
        source[flip] = source[flip].flip(-1)
        tokens = ids[index].clone()
        tokens[torch.rand(args.batch) < args.text_dropout] = empty[0]
        source[torch.rand(args.batch) < args.image_dropout] = 0
        t = torch.randint(0, 1000, (args.batch,))
        noise = torch.randn_like(x0)
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = text(tokens)
            pred = unet(torch.cat([xt, source], dim=1), t, encoder_hidden_states=out.last_hidden_state,
                        class_labels=out.pooler_output).sample
        loss = ((pred.float() - noise) ** 2).mean(dim=(1, 2, 3))
        loss = (loss * weights[t]).mean()
        warm = min(1.0, (step + 1) / 200)
        optimizer_step(loss, params, optimizer, learning_rate(args, step) * warm, ((unet, ema_unet), (text, ema_text)),
                       args.ema, step + 1)
        step += 1
        seen += args.batch
        log.add(step, loss.item(), args.batch, learning_rate(args, step), (elapsed_before + time.time() - started) / 60)
        running = log.loss
        if step % args.checkpoint_every == 0 or step == args.steps:
            save_atomically({"unet": unet.state_dict(), "text": text.state_dict(), "ema_unet": ema_unet.state_dict(),
                             "ema_text": ema_text.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "seen": seen,
                             "elapsed": elapsed_before + time.time() - started, "rng": torch.get_rng_state(),
                             "loss": running}, args.checkpoint)
        if step % args.export_every == 0 or step == args.steps:
            write_export(running)


if __name__ == "__main__":
    main()
