"""PyTorch CPU peer for csd-bench: runs the same UNet forward with the same weights and threads.

csd-bench writes a folder with config.json, diffusion_pytorch_model.safetensors and inputs.safetensors
(sample, timesteps, context, optional class_labels); this script loads them strictly, times the
forward (median of --runs after one warm-up; with --bf16 under PyTorch's bf16 autocast), or with --backward the forward and backward for the
cotangent in inputs.safetensors, writes output.safetensors there (the output, or the sample's
gradient), and prints one JSON line: {"torch_ms": ..., "threads": ..., "torch_version": ...}.
"""
import argparse
import json
import os
import statistics
import time

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file, save_file


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backward", action="store_true", help="time forward + backward (sample and parameters)")
    parser.add_argument("--bf16", action="store_true", help="run the forward under torch.autocast('cpu', torch.bfloat16)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.folder, "config.json")) as f:
        config = json.load(f)
    unet = UNet2DConditionModel.from_config(config)
    unet.load_state_dict(load_file(os.path.join(args.folder, "diffusion_pytorch_model.safetensors")), strict=True)
    unet.eval()
    inputs = load_file(os.path.join(args.folder, "inputs.safetensors"))
    kwargs = {"encoder_hidden_states": inputs["context"]}
    if "class_labels" in inputs:
        kwargs["class_labels"] = inputs["class_labels"]
    times = []
    if args.backward:
        # Forward + backward with respect to the sample and every parameter, for a fixed cotangent.
        sample = inputs["sample"].clone().requires_grad_(True)
        def step():
            unet.zero_grad(set_to_none=True)
            sample.grad = None
            out = unet(sample, inputs["timesteps"], **kwargs).sample
            out.backward(inputs["cotangent"])
        step()
        for _ in range(args.runs):
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1000)
        save_file({"grad_sample": sample.grad.contiguous()}, os.path.join(args.folder, "output.safetensors"))
    else:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16)
        with torch.inference_mode(), autocast:
            out = unet(inputs["sample"], inputs["timesteps"], **kwargs).sample
            for _ in range(args.runs):
                start = time.perf_counter()
                out = unet(inputs["sample"], inputs["timesteps"], **kwargs).sample
                times.append((time.perf_counter() - start) * 1000)
        save_file({"out": out.float().contiguous()}, os.path.join(args.folder, "output.safetensors"))
    print(json.dumps({"torch_ms": statistics.median(times), "threads": torch.get_num_threads(),
                      "torch_version": torch.__version__}))


if __name__ == "__main__":
    main()
