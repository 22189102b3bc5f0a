"""What `fer-zoo data inspect` reports: counts, image format, pixel statistics, cross-split duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xxhash

from fer_zoo import outputs
from fer_zoo.data.dataset import Dataset


def summary(dataset: Dataset) -> dict:
    height, width, channels = dataset.image_shape
    pixels = {
        split_name: {
            "mean": round(float(split.x.mean()), 2) if len(split) else None,
            "std": round(float(split.x.std()), 2) if len(split) else None,
            "min": int(split.x.min()) if len(split) else None,
            "max": int(split.x.max()) if len(split) else None,
        }
        for split_name, split in dataset.splits.items()
    }
    return {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "classes": list(dataset.class_names),
        "soft_labels": any(s.y.ndim == 2 for s in dataset.splits.values()),
        "image": {"height": height, "width": width, "channels": channels},
        "splits": dataset.counts(),
        "pixels": pixels,
        "duplicates_across_splits": duplicates_across_splits(dataset),
        "notes": dataset.notes,
    }


def duplicates_across_splits(dataset: Dataset) -> dict[str, int]:
    """For each pair of splits, how many images of the second are byte-identical to one in the first."""
    hashes = {
        name: {xxhash.xxh3_64_intdigest(image.tobytes()) for image in split.x}
        for name, split in dataset.splits.items()
    }
    names = list(hashes)
    return {f"{a}/{b}": len(hashes[a] & hashes[b]) for i, a in enumerate(names) for b in names[i + 1:]}


def sample_grid(dataset: Dataset, path: Path, per_class: int = 8, seed: int = 0, scale: int = 2) -> Path:
    """A grid like the seed paper's Fig. 1: one row per class, random training images, labelled; ``path`` is
    checked by the caller (fer_zoo/outputs.py)."""
    from PIL import Image, ImageDraw

    split = dataset.splits.get("train") or next(iter(dataset.splits.values()))
    rng = np.random.default_rng(seed)
    height, width, _ = dataset.image_shape
    label_width, cell_h, cell_w = 80, height * scale, width * scale
    grid = Image.new("L", (label_width + per_class * (cell_w + 2), len(dataset.class_names) * (cell_h + 2)), 255)
    draw = ImageDraw.Draw(grid)
    labels = split.hard_labels
    for row, name in enumerate(dataset.class_names):
        members = np.flatnonzero(labels == row)
        draw.text((4, row * (cell_h + 2) + cell_h // 2 - 6), f"{row} {name}", fill=0)
        for col, index in enumerate(rng.choice(members, min(per_class, len(members)), replace=False)):
            image = Image.fromarray(split.x[index].squeeze(-1) if split.x.shape[-1] == 1 else split.x[index])
            image = image.convert("L").resize((cell_w, cell_h), Image.NEAREST)
            grid.paste(image, (label_width + col * (cell_w + 2), row * (cell_h + 2)))
    return outputs.write_with(Path(path), "--grid", lambda tmp: grid.save(tmp, format="PNG"))
