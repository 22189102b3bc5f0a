"""What the PNGs show can be read: tick labels that differ and do not collide, point labels that do not
cover each other."""

import itertools

import pytest

from fer_zoo.report.figures import accuracy_vs_params_png, bench_curves_png


@pytest.fixture
def drawn(monkeypatch):
    """The figures the drawing functions close, kept open to be looked at."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", lambda fig: figures.append(fig))
    yield figures
    for fig in figures:
        fig.clf()


def _shown(labels, axis):
    """The tick labels drawn: in view, with text."""
    low, high = sorted(axis.get_view_interval())
    return [t for t in labels if t.get_text() and t.get_visible() and low <= t.get_position()[1] <= high]


def _words(note, renderer):
    """The box of an annotation's text alone (its own extent takes in the leader line too)."""
    from matplotlib.text import Text

    note.update_positions(renderer)
    return Text.get_window_extent(note, renderer)


def _clashes(boxes):
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]


def test_every_loss_panel_labels_its_ticks_distinctly_without_collisions(drawn, tmp_path):
    def rows(losses):
        return [{"epoch": e + 1, "loss": v, "val_loss": v * 1.01, "accuracy": 0.2, "val_accuracy": 0.2}
                for e, v in enumerate(losses)]

    histories = {"flat": rows([1.955, 1.948, 1.941]),  # moved by 0.014: three digits would read 1.95, 1.95
                 "blew_up": rows([1.9, 13.0, 30.0]),  # 9 and 10 would sit on each other
                 "learning": rows([1.9, 0.9, 0.05])}
    bench_curves_png(histories, tmp_path / "curves.png")
    fig, = drawn
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_yscale() == "log"]
    assert len(panels) == 3
    for ax in panels:
        labels = _shown(ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels(), ax.yaxis)
        texts = [t.get_text() for t in labels]
        assert len(texts) >= 3 and len(set(texts)) == len(texts), (ax.get_title(), texts)
        ticks = sorted(t.get_position()[1] for t in labels)
        gap = min(b - a for a, b in zip(ticks, ticks[1:]))
        assert all(abs(float(t.get_text()) - t.get_position()[1]) < 0.05 * gap for t in labels), texts
        assert not _clashes([t.get_window_extent(renderer) for t in labels]), (ax.get_title(), texts)


def test_point_labels_in_the_scatter_stay_apart_and_inside_the_axes(drawn, tmp_path):
    rows = [{"model": "mini_xception", "param_count": 58_423, "test_acc": 0.14, "status": "too slow"},
            {"model": "lenet", "param_count": 168_971, "test_acc": 0.167, "status": "chance"},
            {"model": "plugin_a", "param_count": 120_000, "test_acc": 0.15, "status": "ok"},
            {"model": "custom", "param_count": 2_140_231, "test_acc": 0.207, "status": "too slow"},
            {"model": "alexnet48", "param_count": 10_545_735, "test_acc": 0.14, "status": "too slow"},
            {"model": "only_val", "param_count": 9_000_000, "test_acc": None, "val_acc": 0.16, "status": "ok"},
            {"model": "vgg16_48", "param_count": 33_088_519, "test_acc": None, "status": "too slow"},
            {"model": "uncounted", "param_count": None, "test_acc": 0.3, "status": "ok"}]
    accuracy_vs_params_png(rows, tmp_path / "scatter.png", "accuracy vs parameters")
    fig, = drawn
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax, = fig.axes
    notes = {note.get_text(): note for note in ax.texts}
    assert set(notes) == {"mini_xception (too slow)", "lenet (chance)", "plugin_a (ok)", "custom (too slow)",
                          "alexnet48 (too slow)", "only_val (ok, val)"}  # a val score says it is one
    assert "not shown: vgg16_48 (no accuracy, too slow), uncounted (no parameter count, ok)" in \
        " ".join(ax.get_xlabel().split())  # wrapped to the figure's width
    boxes = [_words(note, renderer) for note in notes.values()]
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    assert not _clashes(boxes), [note.get_text() for note in notes.values()]
    for name, note in notes.items():  # each label beside its own point, its leader line clear of the others
        x, y = ax.transData.transform(note.xy)
        box = _words(note, renderer)
        assert min(abs(x - box.x0), abs(x - box.x1)) < 12 and min(abs(y - box.y0), abs(y - box.y1)) < 40
        mx, my = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2  # matplotlib draws it from the text's middle
        along = [(mx + (x - mx) * i / 50, my + (y - my) * i / 50) for i in range(51)]
        crossed = [other for other, b in zip(notes, boxes) if other != name and any(b.contains(*p) for p in along)]
        assert not crossed, (name, crossed)


def test_an_epoch_the_time_box_cut_short_is_drawn_hollow_and_the_axis_says_so(drawn, tmp_path):
    from matplotlib.colors import same_color

    from fer_zoo.report.figures import curves_png

    def row(epoch, images, accuracy):
        return {"epoch": epoch, "images": images, "epoch_images": 1984, "loss": 2 - accuracy, "val_loss": 2 - accuracy,
                "accuracy": accuracy, "val_accuracy": accuracy}

    cut = [row(1, 1984, 0.15), row(2, 1984, 0.30), row(3, 64, 0.35)]  # epoch 3: one step of 31
    whole = [row(1, 1984, 0.2), row(2, 1984, 0.25)]
    bench_curves_png({"cut": cut, "whole": whole}, tmp_path / "bench.png")
    curves_png({"cut": cut}, tmp_path / "run.png")
    curves_png({"whole": whole}, tmp_path / "whole.png")
    bench_fig, run_fig, whole_fig = drawn

    def hollow(ax):
        return sorted((round(float(x), 3), round(float(y), 3)) for line in ax.get_lines()
                      if same_color(line.get_markerfacecolor(), "white") for x, y in zip(*line.get_data()))

    acc_ax = bench_fig.axes[0]
    assert hollow(acc_ax) == [(2.032, 35.0)]  # only the cut epoch, where it sits, and not the whole ones
    assert "cut short" in acc_ax.get_xlabel()
    for ax in run_fig.axes:  # accuracy and loss
        assert [x for x, _ in hollow(ax)] == [2.032] and "cut short" in ax.get_xlabel()
    assert all(not hollow(ax) and ax.get_xlabel() == "epoch" for ax in whole_fig.axes)
