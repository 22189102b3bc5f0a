"""Every PNG fer-zoo draws, from plain data. Accuracies in percent, titles that say what is shown."""

from __future__ import annotations


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _wrapped(title: str, width: int) -> str:
    """A long title (dataset options, budget, machine) on as many lines as it needs, none cut off."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_on_hyphens=False, break_long_words=False)) or title


def _epoch_ticks(ax, last: int, first: float = 1.0) -> None:
    """Whole epochs only, even on a one-epoch axis (where MaxNLocator would fall back to 0.1 steps); from 0
    when the first point is a part of epoch 1 that the time box cut short."""
    from matplotlib.ticker import MaxNLocator

    start = 0 if first < 0.75 else 1
    ax.set_xlim(start - 0.5 if start else -0.1, last + 0.5)
    if last <= 10:
        ax.set_xticks(range(start, last + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def epoch_positions(rows: list[dict]) -> list[float]:
    """Where each history row sits on an epoch axis: a whole epoch at its number, one the time box cut
    short at the share of its images it trained (epoch 11 cut after 4 of 15 steps at 10.27). A history
    written before fer-zoo recorded ``epoch_images`` puts every row at its epoch number."""
    return [r["epoch"] - 1 + min(1.0, r["images"] / r["epoch_images"]) if r.get("epoch_images") else r["epoch"]
            for r in rows]


CUT_SHORT = "hollow: an epoch the time box cut short"


def _cut_short(rows: list[dict]) -> list[bool]:
    """Which history rows are epochs the time box ended before all their images."""
    return [bool(r.get("epoch_images")) and r["images"] < r["epoch_images"] for r in rows]


def _mark_cut_short(ax, epochs, values, cut, color) -> bool:
    """Redraw the points of cut-short epochs hollow; whether there were any."""
    points = [(x, y) for x, y, c in zip(epochs, values, cut) if c and y is not None]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, linestyle="none", marker="o", markerfacecolor="white", markeredgecolor=color, zorder=3)
    return bool(points)


def epochs_trained(rows: list[dict]) -> int | float:
    """How many epochs a history trained: 20 when each was whole, 2.14 when the time box cut the third
    after 256 of its 1,792 images."""
    if not rows:
        return 0
    last = epoch_positions(rows)[-1]
    return int(last) if last == int(last) else round(last, 2)


def _distinct_labels(values, least: int = 3, most: int = 8) -> list[str]:
    """Each tick value with the fewest significant digits (at least ``least``) that tell the labels apart and
    say where each tick is: 1.5, 2, 3 on a wide axis; 1.942, 1.944, 1.946 on a loss that moved by 0.01
    (where three digits would read 1.94, 1.94, 1.95)."""
    values = [float(v) for v in values]
    gaps = [b - a for a, b in zip(sorted(values), sorted(values)[1:]) if b > a]
    slack = 0.01 * min(gaps) if gaps else float("inf")
    for digits in range(least, most + 1):
        labels = [f"{v:.{digits}g}" for v in values]
        if len(set(labels)) == len(labels) and all(abs(float(t) - v) <= slack for t, v in zip(labels, values)):
            return labels
    return labels


def _plain_log_ticks(ax, labelsize: float = 10) -> None:
    """A log axis labelled 1.5, 2, 3 rather than 2×10⁰, with as many digits as its ticks need to differ,
    and a minor tick left unlabelled where its label would run into a neighbour's (9 under 10)."""
    from matplotlib.ticker import Formatter

    class Plain(Formatter):
        def __init__(self, minor: bool):
            self.minor = minor

        def __call__(self, value, pos=None):
            return f"{value:.3g}"

        def format_ticks(self, values):
            labels = _distinct_labels(values)
            if not self.minor or self.axis is None:
                return labels
            low, high = sorted(self.axis.get_view_interval())
            to_pixels = self.axis.axes.transData.transform
            room = 1.3 * labelsize * self.axis.figure.dpi / 72  # a label's height, and a little air
            taken = [to_pixels((0, v))[1] for v in self.axis.get_majorticklocs() if low <= v <= high]
            for index, value in enumerate(values):
                y = to_pixels((0, value))[1]
                if any(abs(y - other) < room for other in taken):
                    labels[index] = ""
                elif low <= value <= high:
                    taken.append(y)
            return labels

    ax.yaxis.set_major_formatter(Plain(minor=False))
    ax.yaxis.set_minor_formatter(Plain(minor=True))
    ax.tick_params(axis="y", which="both", labelsize=labelsize)


def curves_png(histories: dict[str, list[dict]], path, title: str = "", val_only: bool = False) -> None:
    """Accuracy (%) and loss per epoch, train dashed and val solid, like the seed paper's Figs. 2-4.

    The loss axis is logarithmic, so a diverging network does not flatten everyone else's curve, and
    every epoch is a marker, so a one-epoch run is a visible point on a sensible axis.
    """
    plt = _pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    longest, first, any_cut = 1, 1.0, False
    for name, rows in histories.items():
        epochs, cut = epoch_positions(rows), _cut_short(rows)
        longest = max([longest, *(r["epoch"] for r in rows)])
        first = min([first, *epochs])
        for ax, key, scale in ((acc_ax, "accuracy", 100), (loss_ax, "loss", 1)):
            values = [None if r.get(f"val_{key}") is None else scale * r[f"val_{key}"] for r in rows]
            line, = ax.plot(epochs, values, marker="o", label=f"{name} val")
            any_cut |= _mark_cut_short(ax, epochs, values, cut, line.get_color())
            if not val_only:
                ax.plot(epochs, [None if r.get(key) is None else scale * r[key] for r in rows], linestyle="--",
                        marker=".", color=line.get_color(), label=f"{name} train")
    loss_ax.set_yscale("log")
    _plain_log_ticks(loss_ax)
    for ax, label in ((acc_ax, "accuracy (%)"), (loss_ax, "cross-entropy loss (log scale)")):
        ax.set_xlabel(f"epoch ({CUT_SHORT})" if any_cut else "epoch")
        ax.set_ylabel(label)
        _epoch_ticks(ax, longest, first)  # no epoch 1.25
        ax.grid(alpha=0.3)
        if histories:
            ax.legend(fontsize=8)
    if not histories:
        acc_ax.text(0.5, 50, "no epoch completed", ha="center", va="center", color="grey")
    acc_ax.set_ylim(0, 100)
    fig.suptitle(_wrapped(title or "training curves", 100))
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def confusion_png(matrix, class_names, path, title: str = "") -> None:
    """The row-normalised confusion matrix (each true class sums to 1), counts in each cell."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{normalised[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center", fontsize=7,
                    color="white" if normalised[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    ax.set_title(_wrapped(title or "confusion matrix (row-normalised)", 60))
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


_LABEL_SPOTS = [((dx, dy), "left" if dx > 0 else "right", "bottom" if dy > 0 else "top")
                for dy in (4, -4, 14, -14, 26, -26) for dx in (6, -6)]


def _overlap(a, b) -> float:
    """The area two display boxes share, 0 when they do not touch."""
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _words(note, renderer):
    """Where an annotation's text is drawn, without its leader line (which its own extent includes)."""
    from matplotlib.text import Text

    note.update_positions(renderer)
    return Text.get_window_extent(note, renderer)


def _leader(box, point) -> tuple:
    """A label's leader line as matplotlib draws it: from the middle of its text (hidden under the text up
    to the text's edge) to its point, in display pixels."""
    return ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), tuple(point)


def _crossings(line, boxes) -> int:
    """How many of ``boxes`` the straight line runs through (sampled every few pixels)."""
    (x0, y0), (x1, y1) = line
    steps = max(2, int(max(abs(x1 - x0), abs(y1 - y0)) / 3))
    inside = [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps)]
    return sum(any(box.contains(x, y) for x, y in inside) for box in boxes)


def _place_labels(ax, notes, rounds: int = 4) -> None:
    """Moves each point's label to the first spot beside its point (right and above, then below, left,
    further out) where it covers no other label or point, its leader line crosses none and no other's
    crosses it, and it stays inside the axes; where none is free, to the spot that does least harm. Each
    label moves again while another's move left it worse off, a few rounds at most. Call it after the
    layout is final: it works in display pixels."""
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    half = 5 * ax.figure.dpi / 72  # a marker's half width
    points = [tuple(ax.transData.transform(note.xy)) for note in notes]
    markers = [Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in points]
    labels = [_words(note, renderer) for note in notes]

    def harm(index, box) -> float:
        others = markers[:index] + markers[index + 1:] + labels[:index] + labels[index + 1:]
        leaders = [_leader(label, point) for j, (label, point) in enumerate(zip(labels, points)) if j != index]
        crossed = _crossings(_leader(box, points[index]), others) + sum(_crossings(line, [box]) for line in leaders)
        return box.width * box.height - _overlap(box, frame) + sum(_overlap(box, o) for o in others) + 200 * crossed

    def put(note, spot) -> None:
        note.xyann, ha, va = spot
        note.set_horizontalalignment(ha)
        note.set_verticalalignment(va)

    for _ in range(rounds):
        moved = False
        for index, note in enumerate(notes):
            now = harm(index, labels[index].padded(3))
            if now == 0:
                continue
            best = None
            for spot in _LABEL_SPOTS:
                put(note, spot)
                cost = harm(index, _words(note, renderer).padded(3))  # a little air between labels
                if best is None or cost < best[0]:
                    best = (cost, spot)
                if cost == 0:
                    break
            put(note, best[1])
            moved |= best[0] < now
            labels[index] = _words(note, renderer)
        if not moved:
            break


def _accuracy_scatter_png(rows: list[dict], path, key: str, what: str, xlabel: str, title: str) -> None:
    """Test accuracy (val where a row has no test score, and its label says so) against ``key`` (``what``)
    on a log axis, one point per row, labelled with its status; a row without either is named under the axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    notes, missing = [], []
    for row in rows:
        split = "test" if row.get("test_acc") is not None else "val"
        accuracy = row.get(f"{split}_acc")
        if not row.get(key) or accuracy is None:
            why = ["no accuracy" if accuracy is None else f"no {what}", row.get("status")]
            missing.append(f"{row['model']} ({', '.join(filter(None, why))})")
            continue
        colour = ax.scatter(row[key], 100 * accuracy, s=60).get_facecolor()[0]
        status = ", ".join(filter(None, [row.get("status"), "val" if split == "val" else ""]))
        notes.append(ax.annotate(f"{row['model']} ({status})", (row[key], 100 * accuracy), color=colour,
                                 textcoords="offset points", xytext=(6, 4), fontsize=9,  # a leader line to
                                 arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6,  # its own point
                                             "shrinkA": 1, "shrinkB": 4}))
        notes[-1].set_in_layout(False)  # placed inside the axes once the layout is final
    ax.set_xscale("log")
    ax.set_xlabel(xlabel + ("\n" + _wrapped(f"not shown: {', '.join(missing)}", 70) if missing else ""))
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(_wrapped(title, 70), fontsize=10)
    fig.tight_layout()
    _place_labels(ax, notes)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def accuracy_vs_params_png(rows: list[dict], path, title: str = "") -> None:
    """Test (or val) accuracy against parameter count, log scale, one labelled point per architecture."""
    _accuracy_scatter_png(rows, path, "param_count", "parameter count", "parameters (log scale)",
                          title or "accuracy vs parameters")


def accuracy_vs_speed_png(rows: list[dict], path, title: str = "") -> None:
    """Test (or val) accuracy against inference images/s at batch 256, log scale: the trade-off a deployment
    makes."""
    _accuracy_scatter_png(rows, path, "infer_samples_per_sec", "inference speed",
                          "inference images/s at batch 256 (log scale)", title or "accuracy vs inference speed")


def bench_curves_png(histories: dict[str, list[dict]], path, title: str = "") -> None:
    """Every row's val accuracy on one shared percent axis (above), and each row's train and val loss on its
    own log scale (below, one panel per row), so one diverged row cannot flatten the others."""
    plt = _pyplot()
    names = list(histories)
    columns = max(1, min(len(names), 4))
    panel_rows = -(-len(names) // columns)
    fig = plt.figure(figsize=(3.2 * columns, 3.2 + 2.6 * panel_rows))
    grid = fig.add_gridspec(1 + panel_rows, columns, height_ratios=[1.3] + [1] * panel_rows)
    acc_ax = fig.add_subplot(grid[0, :])
    longest = max([1, *(r["epoch"] for rows in histories.values() for r in rows)])
    positions = {name: epoch_positions(rows) for name, rows in histories.items()}
    first = min([1.0, *(x for epochs in positions.values() for x in epochs)])
    any_cut = False
    for index, name in enumerate(names):
        rows, epochs, cut = histories[name], positions[name], _cut_short(histories[name])
        accuracies = [100 * r["val_accuracy"] for r in rows]
        line, = acc_ax.plot(epochs, accuracies, marker="o", label=name)
        any_cut |= _mark_cut_short(acc_ax, epochs, accuracies, cut, line.get_color())
        ax = fig.add_subplot(grid[1 + index // columns, index % columns])
        ax.plot(epochs, [r.get("loss") for r in rows], linestyle="--", marker=".", color=line.get_color(),
                label="train")
        val_losses = [r.get("val_loss") for r in rows]
        ax.plot(epochs, val_losses, marker="o", color=line.get_color(), label="val")
        _mark_cut_short(ax, epochs, val_losses, cut, line.get_color())
        ax.set_yscale("log")
        _plain_log_ticks(ax, labelsize=7)
        ax.set_title(f"{name}: loss (log)", fontsize=9)
        _epoch_ticks(ax, max(r["epoch"] for r in rows), min(epochs))
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    acc_ax.set_ylim(0, 100)
    _epoch_ticks(acc_ax, longest, first)
    acc_ax.set_xlabel(f"epoch ({CUT_SHORT})" if any_cut else "epoch")
    acc_ax.set_ylabel("val accuracy (%)")
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8)
    fig.suptitle(_wrapped(title or "learning curves", 30 * columns))
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def explanation_png(face, heat, path, title: str) -> None:
    """The face as the model saw it, and the heat map over it, with a colour bar of the map's scale."""
    import numpy as np

    plt = _pyplot()
    grey = face[..., 0] if face.shape[-1] == 1 else face
    fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 3.4))
    for ax in (left, right):
        ax.imshow(grey, cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
    overlay = right.imshow(np.asarray(heat), cmap="jet", alpha=0.45, vmin=0, vmax=1)
    left.set_title("face", fontsize=9)
    right.set_title("heat map", fontsize=9)
    bar = fig.colorbar(overlay, ax=right, fraction=0.046, pad=0.04)
    bar.set_label("evidence (0 = none, 1 = the most)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def heat_overlay_png(heat) -> bytes:
    """A heat map ``(H, W)`` in [0, 1] as a PNG to lay over the face: jet colours, opaque where the evidence is."""
    import io

    import numpy as np
    from PIL import Image

    h = np.clip(np.asarray(heat, np.float32), 0, 1)
    rgb = [np.clip(1.5 - np.abs(4 * h - k), 0, 1) for k in (3, 2, 1)]  # jet: blue, cyan, yellow, red
    rgba = np.stack([*rgb, 0.15 + 0.55 * h], axis=-1)
    out = io.BytesIO()
    Image.fromarray((rgba * 255).round().astype(np.uint8), mode="RGBA").save(out, format="PNG")
    return out.getvalue()
