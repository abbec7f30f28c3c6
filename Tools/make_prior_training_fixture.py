"""Writes Tests/CoreTests/Fixtures/prior-training.safetensors: a small shard of captioned world
renders (as `csd world dataset` writes it) with the losses of PyTorch's first steps of
Tools/train_prior.py's recipe on it, from Models/prior, with the batches `csd train prior` draws
(`--plan-seed`), in fp32.

    .build/release/csd world dataset --count 16 --first-seed 9100000 -o /tmp/fixture-shard.safetensors
    Tools/.venv/bin/python Tools/make_prior_training_fixture.py --shard /tmp/fixture-shard.safetensors
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

STEPS, BATCH, LR, SEED = 4, 4, 1e-4, 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shard", required=True)
    p.add_argument("--model", default="Models/prior")
    p.add_argument("--out", default="Tests/CoreTests/Fixtures/prior-training.safetensors")
    args = p.parse_args()
    import json
    with open(os.path.join(args.model, "training.json")) as f:
        start = json.load(f)["steps"]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "loss.tsv")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "train_prior.py"), "--data", args.shard,
                        "--tokenizer", os.path.join(args.model, "tokenizer"), "--init", args.model,
                        "--beta-schedule", "scaled_linear", "--out", os.path.join(tmp, "out"),
                        "--checkpoint", os.path.join(tmp, "state.pt"), "--log", os.path.join(tmp, "log"),
                        "--steps", str(start + STEPS), "--batch", str(BATCH), "--lr", str(LR), "--plan-seed", str(SEED),
                        "--precision", "fp32", "--loss-log", log, "--threads", "2"], check=True)
        losses = [float(line.split("\t")[1]) for line in open(log).read().splitlines()[1:]]
    with safe_open(args.shard, "np") as f:
        tensors = {"images": f.get_tensor("images")}
        metadata = dict(f.metadata())
    tensors["reference_losses"] = np.array(losses, dtype=np.float32)
    metadata.update({"reference": f"train_prior.py --init {args.model} --batch {BATCH} --lr {LR} --plan-seed {SEED} "
                                  f"--precision fp32, {STEPS} steps"})
    save_file(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out}: losses {losses}")


if __name__ == "__main__":
    main()
