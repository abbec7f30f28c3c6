"""PyTorch CPU peer for `csd-bench --nerf`: the same grid radiance field, trained and rendered.

csd-bench writes a folder with field.safetensors (the field as `csd nerf fit` writes it: values
[r, r, r, 4] as [z][y][x][density, r, g, b] logits, environment [16, 32, 3], metadata center and
radius), occupancy.safetensors (the occupancy grid [64, 64, 64] as 0/1, x fastest) and
rays.safetensors (origins, directions, jitter and target colours of one training batch, and the
rays of every pixel of the views to render). This script marches the same samples (half-cell
steps inside the unit cube, growing as ‖p‖∞^1.5 outside, to ‖p‖∞ = 64; empty cells skipped;
the mip-NeRF 360 contraction), vectorised over rays as nerfacc does (no early termination),
composites them with the environment, checks its render against the Swift one, and times a\ntraining step (forward, MSE, backward, Adam) and a render. Prints one JSON line:\ntrain_rays_per_s, render_rays_per_s, max_abs_render_difference, threads, torch_version.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def samples(origins, directions, jitter, resolution, occupancy):
    """Sample points (contracted), step lengths and their rays, ray-major."""
    base = 2.0 / (resolution - 1)
    n_rays = origins.shape[0]
    t = torch.zeros(n_rays)
    alive = torch.ones(n_rays, dtype=torch.bool)
    points, steps, rays = [], [], []
    first = True
    ids = torch.arange(n_rays)
    while alive.any():
        p = origins + directions * t[:, None]
        n = p.abs().amax(dim=1)
        alive = alive & (n <= 64)
        dt = torch.where(n <= 1, torch.full_like(n, base), base * n * n.sqrt())
        if first:
            t = t + jitter * dt
            first = False
            continue
        q = torch.where((n <= 1)[:, None], p, p * ((2 - 1 / n) / n)[:, None])
        cell = ((q + 2) * 16).long().clamp(0, 63)
        occupied = occupancy[cell[:, 2], cell[:, 1], cell[:, 0]] & alive
        points.append(q[occupied]); steps.append(dt[occupied]); rays.append(ids[occupied])
        t = t + dt
    points, steps, rays = torch.cat(points), torch.cat(steps), torch.cat(rays)
    order = torch.sort(rays, stable=True).indices
    return points[order], steps[order], rays[order]


def trilinear(grid, q):
    """grid [r, r, r, 4] ([z][y][x]), q [S, 3] in [-2, 2]: trilinear values [S, 4]."""
    r = grid.shape[0]
    g = ((q + 2) * ((r - 1) / 4)).clamp(0, r - 1)
    i0 = g.floor().long().clamp(max=r - 2)
    f = g - i0
    out = 0
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                w = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1]) * (f[:, 2] if dz else 1 - f[:, 2])
                out = out + w[:, None] * grid[i0[:, 2] + dz, i0[:, 1] + dy, i0[:, 0] + dx]
    return out


def environment_colour(env, d):
    h, w, _ = env.shape
    azimuth = torch.atan2(d[:, 0], -d[:, 2]) / (2 * math.pi) + 0.5
    polar = torch.acos(d[:, 1].clamp(-1, 1)) / math.pi
    u = azimuth * w - 0.5
    v = (polar * h - 0.5).clamp(0, h - 1)
    u0 = u.floor()
    v0 = v.floor().clamp(max=h - 2)
    fu, fv = u - u0, v - v0
    u0, v0 = u0.long(), v0.long()
    a, b = u0 % w, (u0 + 1) % w
    k = ((1 - fu) * (1 - fv))[:, None] * env[v0, a] + (fu * (1 - fv))[:, None] * env[v0, b] \
        + ((1 - fu) * fv)[:, None] * env[v0 + 1, a] + (fu * fv)[:, None] * env[v0 + 1, b]
    return torch.sigmoid(k)


def render(grid, env, origins, directions, jitter, occupancy):
    q, dt, rays = samples(origins, directions, jitter, grid.shape[0], occupancy)
    v = trilinear(grid, q)
    sigma = torch.exp(v[:, 0].clamp(max=10))
    rgb = torch.sigmoid(v[:, 1:])
    tau = sigma * dt
    total = torch.zeros(origins.shape[0]).index_add(0, rays, tau)
    # Exclusive cumulative optical depth within each ray's run of samples.
    inclusive = torch.cumsum(tau, 0)
    starts = torch.cumsum(torch.bincount(rays, minlength=origins.shape[0]), 0) - torch.bincount(rays, minlength=origins.shape[0])
    before = inclusive - tau - torch.cat([torch.zeros(1), inclusive])[starts][rays]
    weights = torch.exp(-before) * (1 - torch.exp(-tau))
    colour = torch.zeros(origins.shape[0], 3).index_add(0, rays, weights[:, None] * rgb)
    return colour + torch.exp(-total)[:, None] * environment_colour(env, directions)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with safe_open(os.path.join(args.folder, "field.safetensors"), "pt") as f:
        meta = f.metadata()
    field = load_file(os.path.join(args.folder, "field.safetensors"))
    center = torch.tensor([float(x) for x in meta["center"].split(",")])
    radius = float(meta["radius"])
    occupancy = load_file(os.path.join(args.folder, "occupancy.safetensors"))["occupancy"].reshape(64, 64, 64) > 0.5
    rays = load_file(os.path.join(args.folder, "rays.safetensors"))
    grid = field["values"].clone().requires_grad_(True)
    env = field["environment"].clone().requires_grad_(True)
    optimiser = torch.optim.Adam([grid, env], lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    train_o = (rays["train_origins"] - center) / radius
    render_o = (rays["render_origins"] - center) / radius

    def train_step():
        optimiser.zero_grad()
        colour = render(grid, env, train_o, rays["train_directions"], rays["train_jitter"], occupancy)
        loss = ((colour - rays["train_targets"]) ** 2).mean()
        loss.backward()
        optimiser.step()

    def render_all():
        with torch.no_grad():
            return render(grid, env, render_o, rays["render_directions"], torch.full((render_o.shape[0],), 0.5), occupancy)

    # The same field renders the same colours as the Swift renderer (which stops at T < 1e-4).
    difference = (render_all() - rays["render_colours"]).abs().max().item()

    def timed(fn):
        fn()
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    rendering = timed(render_all)
    train = timed(train_step)
    print(json.dumps({"train_rays_per_s": train_o.shape[0] / train, "render_rays_per_s": render_o.shape[0] / rendering,
                      "threads": args.threads, "torch_version": torch.__version__,
                      "max_abs_render_difference": difference}))


if __name__ == "__main__":
    main()
