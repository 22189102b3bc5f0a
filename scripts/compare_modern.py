"""Compare the modern nets with the seed paper's: vggnet and resnet18_fer under their recipes, custom under the paper's.

Usage: python scripts/compare_modern.py [--data synthetic] [--epochs N] [--subset N] [--seeds 3]
                                        [--precision float32] [--runs DIR] [--out docs/compare_modern.md]

For each seed 0 .. N-1 it trains (``fer_zoo.train``, exactly `fer-zoo train`):

- ``vggnet`` under Khaireddin & Chen's recipe ("khaireddin", docs/architectures.md),
- ``resnet18_fer`` under its recipe ("resnet18-fer"),
- ``custom`` under the paper's recipe ("seed").

The recipes are registered by name (the modern ones by the fer-zoo-modern plugin); ``--epochs`` shortens any
of them. Each run's best checkpoint (chosen on val, as fer-zoo always does) is then scored with
``fer_zoo.evaluate`` on all of the data's val and test images, once as it is and once with the test-time
augmentation its recipe declares (ten 40x40 crops and their mirrors for the modern two; none for the seed's). It prints and writes
(``--out``, a Markdown table) the mean ± std over the seeds, with the machine it ran on.

Only fer-zoo's public API (``import fer_zoo``) is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (architecture, recipe): each a registered recipe (`fer-zoo recipes`); the modern ones are fer-zoo-modern's
PLAN = (("vggnet", "khaireddin"), ("resnet18_fer", "resnet18-fer"), ("custom", "seed"))
# each split as it is and with the test-time augmentation the run's recipe declares (none for the seed's)
SCORES = (("val", "none"), ("val", "recipe"), ("test", "none"), ("test", "recipe"))


def mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| net | recipe | TTA | seeds | val % | val % TTA | test % | test % TTA | epochs |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = [mean_std(row["scores"][key]) for key in SCORES]
        lines.append(f"| {row['arch']} | {row['recipe']} | {row['tta']} | {row['seeds']} | " + " | ".join(cells)
                     + f" | {row['epochs']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="a --data spec (default: the synthetic faces)")
    parser.add_argument("--epochs", type=int, default=None, help="default: each recipe's own (300; the seed's 450)")
    parser.add_argument("--subset", type=int, default=None, help="train on a seeded subset of this many images")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--precision", default="float32", help="mixed_bfloat16 on a GPU")
    parser.add_argument("--runs", type=Path, default=None, help="keep the run directories here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("docs/compare_modern.md"), help="the Markdown table")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    import fer_zoo

    env = fer_zoo.describe_environment()
    machine = f"{fer_zoo.device_name()}, Keras backend {env['backend']}, {args.precision}"
    print(f"device: {machine}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or Path(tmp) / "runs"
        for arch, recipe in PLAN:
            declared = fer_zoo.get_recipe(recipe).tta
            scores = {key: [] for key in SCORES}
            epochs = None
            for seed in range(args.seeds):
                out = runs / arch / f"seed{seed}"
                try:
                    result = fer_zoo.train(arch, data=args.data, out=out, force=True, recipe=recipe, seed=seed,
                                           epochs=args.epochs, subset=args.subset, precision=args.precision)
                    epochs = len(result.history)
                    for split, tta in SCORES:
                        if tta == "recipe" and declared == "none":
                            continue
                        scored = fer_zoo.evaluate(str(result.run_dir), data=args.data, split=split, tta=tta)
                        scores[(split, tta)].append(scored["accuracy"])
                except fer_zoo.FerZooError as exc:
                    print(f"{arch} seed {seed}: {exc}", file=sys.stderr, flush=True)
                    continue
                print(f"{arch} ({recipe}) seed {seed}: " + ", ".join(
                    f"{split}{f' {declared}' if tta != 'none' else ''} {100 * scores[(split, tta)][-1]:.2f}%"
                    for split, tta in SCORES if scores[(split, tta)]), flush=True)
            rows.append({"arch": arch, "recipe": recipe, "tta": declared, "seeds": len(scores[SCORES[0]]), "scores": scores,
                         "epochs": epochs if epochs is not None else "—"})
    dataset = fer_zoo.load_dataset(args.data)
    counts = dataset.counts()
    majority = {split: max(counts[split].values()) / sum(counts[split].values()) for split in ("val", "test")}
    header = (f"Mean ± std over seeds of accuracy on all of `{args.data}`'s val and test images"
              f"{f' (trained on a subset of {args.subset})' if args.subset else ''}; each run's checkpoint is its "
              f"best val epoch, so val is the selecting split and test the held-out one; always answering the "
              f"most common class scores {100 * majority['val']:.2f}% val, {100 * majority['test']:.2f}% test. "
              f"Ran on: {machine}. "
              f"`python scripts/compare_modern.py --data {args.data} --seeds {args.seeds}"
              f"{f' --epochs {args.epochs}' if args.epochs else ''}{f' --subset {args.subset}' if args.subset else ''}`.")
    text = table(rows, header)
    print(text)
    write_atomically(args.out, "# Modern nets against the seed paper's\n\n" + text)
    print(f"wrote {args.out}")
    return 0 if all(row["seeds"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
