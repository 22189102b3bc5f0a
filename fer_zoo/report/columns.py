"""The bench's columns, once: each one's key in a row, its heading, its format, and the views that show it.
results.csv, results.md, the rich tables (narrow and ``--wide``), report.html and the seeds' means in
results.json all read this table; a column added here is in each view it names.

The full tables (``--wide``, results.md, report.html) show the ``row`` group, then ``accuracy``, then
``speed``, then the ``verdict``; ``--wide`` draws accuracy and speed as two tables, each between the row's
name and its status. results.csv and the 80-column table keep the table's own order.
"""

from __future__ import annotations

from dataclasses import dataclass

VIEWS = ("narrow", "wide", "csv", "markdown", "html")
GROUPS = ("row", "accuracy", "speed", "verdict")
FULL = frozenset({"wide", "markdown", "html"})


@dataclass(frozen=True)
class Column:
    key: str
    heading: str = ""  # in the full tables
    format: str = ""  # fer_zoo.report.terminal.cell_text's kind; "" for text
    group: str = ""  # one of GROUPS: where the full tables put it; "" for a column only results.csv has
    views: frozenset = frozenset({"csv"})
    numeric: bool = False  # measured: each bench row holds its seeds' mean, and _std beside it (results.json)
    narrow: tuple[str, str] | None = None  # (heading, format) in the 80-column table

    def shown_in(self, view: str) -> bool:
        return view in self.views


def _measure(key: str, heading: str, format: str, group: str, narrow: tuple[str, str] | None = None) -> Column:
    views = FULL | {"csv"} | ({"narrow"} if narrow else set())
    return Column(key, heading, format, group, frozenset(views), numeric=True, narrow=narrow)


COLUMNS = [
    Column("model", "model", group="row", views=FULL | {"csv", "narrow"}, narrow=("model", "")),
    Column("architecture"),
    Column("kind"),
    Column("plugin"),
    _measure("param_count", "params", "count", "accuracy", narrow=("params", "count")),
    _measure("macs", "MACs", "count", "accuracy"),
    Column("infer_batch_size"),
    _measure("train_acc", "train acc", "pct", "accuracy"),
    _measure("val_acc", "val acc", "pct", "accuracy", narrow=("val %", "pct")),
    _measure("test_acc", "test acc", "pct", "accuracy", narrow=("test %", "pct")),
    _measure("top2_val", "top-2 val", "pct", "accuracy"),
    _measure("macro_f1_test", "F1 test", "f3", "accuracy"),
    # with the test-time views the row's recipe declares (fer_zoo.models.tta); None where it declares none
    Column("tta", "TTA", group="accuracy", views=FULL | {"csv"}),
    _measure("val_tta_acc", "val TTA", "pct", "accuracy"),
    _measure("test_tta_acc", "test TTA", "pct", "accuracy"),
    _measure("epochs", "epochs", "epochs", "accuracy"),
    _measure("train_samples_per_sec", "train img/s", "int", "speed", narrow=("train img/s", "count")),
    _measure("infer_samples_per_sec", "infer img/s (b256)", "int", "speed"),
    _measure("latency_ms", "latency ms (b1)", "f1", "speed"),
    _measure("seconds_per_epoch", "s/epoch", "f1", "speed"),
    _measure("total_seconds", "total s", "int", "speed"),
    Column("reported_val_acc", "reported val†", "pct", "accuracy", FULL | {"csv"}),
    Column("reported_test_acc", "reported test†", "pct", "accuracy", FULL | {"csv"}),
    Column("status", "status", group="verdict", views=FULL | {"csv", "narrow"}, narrow=("status", "")),
    Column("seeds"),
    Column("error"),
]


def view(name: str, group: str | None = None) -> list[Column]:
    """The columns ``name`` (one of VIEWS) shows, in its order; ``group`` keeps only that group's."""
    if name not in VIEWS:
        raise ValueError(f"no bench view {name!r}; views: {', '.join(VIEWS)}")
    shown = [c for c in COLUMNS if c.shown_in(name) and (group is None or c.group == group)]
    if name in FULL and group is None:
        shown.sort(key=lambda c: GROUPS.index(c.group))  # stable: the table's order within a group
    return shown


def numeric() -> list[str]:
    """The keys of the measured columns, each a mean over a row's seeds."""
    return [c.key for c in COLUMNS if c.numeric]
