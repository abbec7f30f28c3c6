"""Trains the bundled text-to-image prior on renders of the procedural world (CPU, resumable).

The model is a pixel-space diffusers UNet2DConditionModel (3 channels, 64x64, channels 32/64/128,
one layer per block, attention only at 16x16 and in the mid block, pooled text added to the time
embedding) with a small transformers CLIPTextModel, trained together from scratch:
epsilon prediction on a linear DDPM schedule (or, with --beta-schedule scaled_linear, Stable Diffusion's),
min-SNR-gamma=5 loss weights, AdamW, bf16 autocast, 10% of captions dropped to "" so classifier-free
guidance works, EMA weights.

Every --checkpoint-every steps the whole state goes to --checkpoint (written to a temporary file
and renamed), so a stopped run continues with --resume; every --export-every steps the EMA
weights are written to --out in the diffusers folder layout the Swift runtime loads.

    .build/release/csd world dataset --count 100000 -o Tools/cache/world-64.safetensors
    .build/release/csd world vocab -o Tools/cache/tokenizer
    Tools/.venv/bin/python Tools/train_prior.py --data Tools/cache/world-64.safetensors \
        --tokenizer Tools/cache/tokenizer --out Models/prior --resume

Without the checkpoint (a new machine), `--init Models/prior` continues from the shipped weights.

`--plan-seed S` draws each step's batch (images, flips, dropped captions, timesteps, noise) as
`csd train prior --seed S` does (SplitMix64 seeded by S and the step, `TextToImageTraining.Draws`),
and `--loss-log FILE` writes every step's loss, so the two trainers can be compared step for step:

    Tools/.venv/bin/python Tools/train_prior.py --data SHARD --tokenizer Models/prior/tokenizer --init Models/prior \
        --beta-schedule scaled_linear --out /tmp/torch-prior --checkpoint /tmp/torch-prior.pt --steps 44550 \
        --lr 1e-4 --plan-seed 0 --loss-log torch-loss.tsv
"""
import argparse
import json
import os
import shutil
import time

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, UNet2DConditionModel
from safetensors import safe_open
from safetensors.numpy import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

TEXT_DIM = 128

MASK64 = (1 << 64) - 1


def swift_draws(seed, step, batch, count, size, dropout):
    """One step's draws as `TextToImageTraining.Draws` makes them: SplitMix64 from
    seed + step * 0xD1B54A32D192ED03, read in order as image indices (next % count), flips
    (uniform < 0.5), dropped captions (uniform < dropout, the dropout as a float32), timesteps
    (next % 1000), then Box-Muller noise [batch, 3, size, size] from pairs of uniforms."""
    import numpy as np
    state = (seed + step * 0xD1B54A32D192ED03 + 0x9E3779B97F4A7C15) & MASK64
    n_noise = batch * 3 * size * size
    k = np.arange(1, 4 * batch + n_noise + 1, dtype=np.uint64)
    z = np.uint64(state) + k * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    uniform = lambda v: ((v >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    indices = (z[:batch] % np.uint64(count)).astype(np.int64)
    flips = uniform(z[batch:2 * batch]) < 0.5
    dropped = uniform(z[2 * batch:3 * batch]) < float(np.float32(dropout))
    timesteps = (z[3 * batch:4 * batch] % np.uint64(1000)).astype(np.int64)
    u = uniform(z[4 * batch:])
    r = np.sqrt(-2 * np.log(u[0::2]))
    noise = np.empty(n_noise, dtype=np.float64)
    noise[0::2] = r * np.cos(2 * np.pi * u[1::2])
    noise[1::2] = r * np.sin(2 * np.pi * u[1::2])
    return (torch.from_numpy(indices), torch.from_numpy(flips), torch.from_numpy(dropped), torch.from_numpy(timesteps),
            torch.from_numpy(noise.astype(np.float32)).view(batch, 3, size, size))


def unet_config():
    return dict(sample_size=64, in_channels=3, out_channels=3, block_out_channels=(32, 64, 128),
                down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                layers_per_block=1, attention_head_dim=4, cross_attention_dim=TEXT_DIM, norm_num_groups=8,
                class_embed_type="projection", projection_class_embeddings_input_dim=TEXT_DIM)


def text_config(tokenizer):
    return CLIPTextConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=TEXT_DIM, intermediate_size=2 * TEXT_DIM,
                          num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=tokenizer.model_max_length,
                          hidden_act="quick_gelu", bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id)


BETAS = {"linear": (0.0001, 0.02),  # DDPM's, the bundled prior's
         "scaled_linear": (0.00085, 0.012)}  # Stable Diffusion 1.x's


def scheduler(beta_schedule="linear"):
    beta_start, beta_end = BETAS[beta_schedule]
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule=beta_schedule, beta_start=beta_start, beta_end=beta_end,
                         prediction_type="epsilon", clip_sample=True, set_alpha_to_one=True, timestep_spacing="leading")


def export(out, unet, text, tokenizer_dir, beta_schedule, pipeline="StableDiffusionPipeline"):
    """Writes a diffusers folder next to `out`, then swaps it into place."""
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    unet.save_pretrained(os.path.join(tmp, "unet"))
    text.save_pretrained(os.path.join(tmp, "text_encoder"))
    shutil.copytree(tokenizer_dir, os.path.join(tmp, "tokenizer"))
    scheduler(beta_schedule).save_pretrained(os.path.join(tmp, "scheduler"))
    with open(os.path.join(tmp, "model_index.json"), "w") as f:
        json.dump({"_class_name": pipeline, "_diffusers_version": "0.42.1",
                   "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"],
                   "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"],
                   "vae": [None, None], "safety_checker": [None, None], "feature_extractor": [None, None]}, f, indent=2)
    old = out.rstrip("/") + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(out):
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def learning_rate(args, step):
    """--lr, or on the cool-down's line from --lr to --cooldown-to once --cooldown-from is reached."""
    if args.cooldown_from is None or step < args.cooldown_from:
        return args.lr
    done = min(1.0, (step - args.cooldown_from) / max(1, args.cooldown_steps))
    return args.lr + (args.cooldown_to - args.lr) * done


def optimizer_step(loss, params, optimizer, lr, models, ema, step):
    """Backpropagates `loss`, clips the gradient norm to 1, takes an optimizer step at `lr`, then
    moves each EMA copy in `models` ((model, ema_model) pairs) towards its model with a decay that
    warms up to `ema` (`step` counts this step)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    decay = min(ema, (1 + step) / (10 + step))
    with torch.no_grad():
        for src, dst in models:
            for ps, pd in zip(src.parameters(), dst.parameters()):
                pd.mul_(decay).add_(ps.detach(), alpha=1 - decay)


def save_atomically(state, path):
    """torch.save to a temporary file, then renamed over `path`, so a kill leaves the old one."""
    tmp = path + ".partial"
    torch.save(state, tmp)
    os.replace(tmp, path)


class StepLog:
    """The loss smoothed over steps (EMA 0.99) and, every 50 steps, one line with it, the learning
    rate, `unit` per second and the minutes elapsed, to stdout and to the log file at `path`."""

    def __init__(self, path, unit):
        self.file, self.unit = open(path, "a"), unit
        self.loss, self.window_start, self.window_items = None, time.time(), 0

    def add(self, step, loss, items, lr, elapsed_minutes):
        self.loss = loss if self.loss is None else 0.99 * self.loss + 0.01 * loss
        self.window_items += items
        if step % 50 == 0:
            rate = self.window_items / (time.time() - self.window_start)
            self.window_start, self.window_items = time.time(), 0
            line = f"step {step} loss {self.loss:.4f} lr {lr:.2e} {self.unit}/s {rate:.1f} elapsed {elapsed_minutes:.1f} min"
            print(line, flush=True)
            self.file.write(line + "\n"); self.file.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", default="Models/prior")
    p.add_argument("--checkpoint", default="Tools/cache/prior-checkpoint.pt")
    p.add_argument("--log", default="Tools/cache/prior-train.log")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", help="start from the weights of an exported folder (e.g. Models/prior) when there is no "
                   "checkpoint to resume: both the model and its EMA take them, the step count continues from its "
                   "training.json, and a fresh optimizer warms up again")
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--cooldown-from", type=int, default=None,
                   help="from this step on, the learning rate falls linearly to --cooldown-to over --cooldown-steps "
                   "(a function of the step alone, so --resume continues it)")
    p.add_argument("--cooldown-steps", type=int, default=10_000)
    p.add_argument("--cooldown-to", type=float, default=5e-5)
    p.add_argument("--beta-schedule", choices=sorted(BETAS), default="linear",
                   help="noise schedule: DDPM's linear betas (the bundled prior) or Stable Diffusion's scaled_linear; "
                   "a checkpoint resumes only with the schedule it was trained on")
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--min-snr-gamma", type=float, default=5.0)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--export-every", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plan-seed", type=int, default=None,
                   help="draw each step's batch as `csd train prior --seed` does, for comparing the two trainers")
    p.add_argument("--loss-log", default=None, help="also write every step's loss here (TSV: step, loss)")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                   help="bf16 autocast (the recipe) or plain fp32 products")
    p.add_argument("--write-initial", default=None, metavar="FOLDER",
                   help="write freshly initialised weights (seeded by --seed) as a model folder at step 0 and stop; "
                        "both trainers can start from it with --init")
    p.add_argument("--export-only", action="store_true", help="export the EMA weights of --checkpoint to --out and stop")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)

    tokenizer = CLIPTokenizer.from_pretrained(args.tokenizer)
    images = torch.from_numpy(load_file(args.data)["images"])  # N, H, W, 3 uint8
    with safe_open(args.data, "np") as f:
        captions = json.loads(f.metadata()["captions"])
    ids = tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    empty = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    n = images.shape[0]

    unet = UNet2DConditionModel(**unet_config())
    text = CLIPTextModel(text_config(tokenizer))
    ema_unet = UNet2DConditionModel(**unet_config())
    ema_text = CLIPTextModel(text_config(tokenizer))
    ema_unet.load_state_dict(unet.state_dict())
    ema_text.load_state_dict(text.state_dict())
    for m in (ema_unet, ema_text):
        m.requires_grad_(False)
    params = list(unet.parameters()) + list(text.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    step, seen, started = 0, 0, time.time()
    elapsed_before = 0.0
    optimizer_start = 0  # the step the optimizer's state began at: its learning-rate warm-up counts from there
    if args.resume and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint, weights_only=False)
        unet.load_state_dict(state["unet"]); text.load_state_dict(state["text"])
        ema_unet.load_state_dict(state["ema_unet"]); ema_text.load_state_dict(state["ema_text"])
        optimizer.load_state_dict(state["optimizer"])
        step, seen, elapsed_before = state["step"], state["seen"], state["elapsed"]
        torch.set_rng_state(state["rng"])
        optimizer_start = state.get("optimizer_start", 0)
        if state.get("beta_schedule", "linear") != args.beta_schedule:
            raise SystemExit(f"{args.checkpoint}: trained with --beta-schedule {state.get('beta_schedule', 'linear')}, "
                             f"not {args.beta_schedule}")
        print(f"resumed at step {step}")
    elif args.init:
        unet.load_state_dict(UNet2DConditionModel.from_pretrained(os.path.join(args.init, "unet")).state_dict())
        text.load_state_dict(CLIPTextModel.from_pretrained(os.path.join(args.init, "text_encoder")).state_dict())
        ema_unet.load_state_dict(unet.state_dict()); ema_text.load_state_dict(text.state_dict())
        with open(os.path.join(args.init, "training.json")) as f:
            done = json.load(f)
        # `csd train prior` exports record no wall clock (their bytes do not depend on it).
        step = done["steps"]
        seen, elapsed_before = done.get("images_seen", step * args.batch), 60 * done.get("wall_minutes", 0)
        optimizer_start = step
        print(f"started from {args.init} at step {step}")

    if args.write_initial:
        export(args.write_initial, ema_unet, ema_text, args.tokenizer, args.beta_schedule)
        with open(os.path.join(args.write_initial, "training.json"), "w") as f:
            json.dump({"steps": 0, "images_seen": 0, "wall_minutes": 0, "beta_schedule": args.beta_schedule,
                       "seed": args.seed}, f, indent=2)
        print(f"wrote initial weights to {args.write_initial}")
        return

    def write_export(loss):
        export(args.out, ema_unet, ema_text, args.tokenizer, args.beta_schedule)
        with open(os.path.join(args.out, "training.json"), "w") as f:
            json.dump({"steps": step, "images_seen": seen, "batch": args.batch, "lr": args.lr,
                       "lr_now": learning_rate(args, step), "cooldown_from": args.cooldown_from,
                       "cooldown_steps": args.cooldown_steps, "cooldown_to": args.cooldown_to, "ema": args.ema,
                       "min_snr_gamma": args.min_snr_gamma, "beta_schedule": args.beta_schedule, "loss_ema": loss,
                       "wall_minutes": (elapsed_before + time.time() - started) / 60,
                       "renders": n, "threads": args.threads}, f, indent=2)

    if args.export_only:
        loss = torch.load(args.checkpoint, weights_only=False).get("loss") if os.path.exists(args.checkpoint) else None
        started = time.time()
        write_export(loss)
        print(f"exported step {step} to {args.out}")
        return

    sched = scheduler(args.beta_schedule)
    alphas = sched.alphas_cumprod.float()
    snr = alphas / (1 - alphas)
    weights = torch.clamp(snr, max=args.min_snr_gamma) / snr
    params_count = sum(p.numel() for p in unet.parameters()), sum(p.numel() for p in text.parameters())
    print(f"{n} renders; UNet {params_count[0]:,} parameters, text encoder {params_count[1]:,}")
    log = StepLog(args.log, "images")
    loss_log = None
    if args.loss_log:
        fresh = not os.path.exists(args.loss_log)
        loss_log = open(args.loss_log, "a")
        if fresh:
            loss_log.write("step\tloss\n")
    while step < args.steps:
        if args.plan_seed is not None:
            index, flip, dropped, t, noise = swift_draws(args.plan_seed, step, args.batch, n, images.shape[1],
                                                         args.caption_dropout)
        else:  # torch's generator, drawn in the order the script always drew it
            index = torch.randint(0, n, (args.batch,))
            flip = torch.rand(args.batch) < 0.5
            dropped = torch.rand(args.batch) < args.caption_dropout
            t = torch.randint(0, 1000, (args.batch,))
            noise = torch.randn(args.batch, 3, images.shape[1], images.shape[2])
        x0 = images[index].permute(0, 3, 1, 2).float() / 127.5 - 1
        x0[flip] = x0[flip].flip(-1)
        tokens = ids[index].clone()
        tokens[dropped] = empty[0]
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            out = text(tokens)
            pred = unet(xt, t, encoder_hidden_states=out.last_hidden_state, class_labels=out.pooler_output).sample
        loss = ((pred.float() - noise) ** 2).mean(dim=(1, 2, 3))
        loss = (loss * weights[t]).mean()
        warm = min(1.0, (step - optimizer_start + 1) / 500)
        optimizer_step(loss, params, optimizer, learning_rate(args, step) * warm, ((unet, ema_unet), (text, ema_text)),
                       args.ema, step + 1)
        step += 1
        seen += args.batch
        if loss_log:
            loss_log.write(f"{step}\t{loss.item()!r}\n")
            loss_log.flush()
        log.add(step, loss.item(), args.batch, learning_rate(args, step), (elapsed_before + time.time() - started) / 60)
        running = log.loss
        if step % args.checkpoint_every == 0 or step == args.steps:
            save_atomically({"unet": unet.state_dict(), "text": text.state_dict(), "ema_unet": ema_unet.state_dict(),
                             "ema_text": ema_text.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "seen": seen,
                             "elapsed": elapsed_before + time.time() - started, "rng": torch.get_rng_state(),
                             "optimizer_start": optimizer_start, "beta_schedule": args.beta_schedule,
                             "loss": running}, args.checkpoint)
        if step % args.export_every == 0 or step == args.steps:
            write_export(running)


if __name__ == "__main__":
    main()
