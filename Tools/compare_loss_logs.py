"""Prints two trainers' loss logs (TSV `step<TAB>loss`, as `csd train prior --loss-log` and
`Tools/train_prior.py --loss-log` write them) side by side as means over spans of steps, with
the gap of the first against the second.

    python3 Tools/compare_loss_logs.py swift.tsv torch.tsv [--span 25]
"""
import argparse


def read(path):
    rows = [line.split("\t") for line in open(path).read().splitlines()[1:] if line.strip()]
    return {int(step): float(loss) for step, loss in rows}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--span", type=int, default=25)
    args = p.parse_args()
    a, b = read(args.first), read(args.second)
    steps = sorted(set(a) & set(b))
    if not steps:
        raise SystemExit(f"{args.first} and {args.second} share no steps")
    print(f"| steps | {args.first} | {args.second} | gap |")
    print("| --- | --- | --- | --- |")
    worst = 0.0
    for i in range(0, len(steps), args.span):
        span = steps[i:i + args.span]
        ma, mb = sum(a[s] for s in span) / len(span), sum(b[s] for s in span) / len(span)
        gap = (ma - mb) / mb
        worst = max(worst, abs(gap))
        print(f"| {span[0]}–{span[-1]} | {ma:.5f} | {mb:.5f} | {100 * gap:+.2f}% |")
    print(f"largest gap over {len(steps)} shared steps: {100 * worst:.2f}%")


if __name__ == "__main__":
    main()
