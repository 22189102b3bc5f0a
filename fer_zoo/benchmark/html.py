"""report.html: one self-contained page for a bench directory (no network: inline CSS, script and PNGs).

The header (data, budget, device, backend, precision, versions, date), the comparison table (every
column, sortable by a click on its heading), accuracy against parameters and against speed, each row's
learning curves (accuracy on one shared percent axis, loss on each row's own scale), confusion matrices,
a grid of test faces with every model's answer, and why any row is not ok. Built from the bench's files:
results.json, and each row's run directory (history.csv, metrics.json, predictions.npz).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError, one_line

SAMPLE_FACES = 12
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem}th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right}
th{cursor:pointer;background:#f6f6f6;position:sticky;top:0}th:first-child,td:first-child{text-align:left}
td.status-ok{color:#18794e}td.status-bad{color:#b42318}td.status-warn{color:#9a6700}
.meta td{text-align:left}.grid img{width:72px;height:72px;image-rendering:pixelated}
.grid td{text-align:center;font-size:.75rem}.right{color:#18794e}.wrong{color:#b42318}
figure{display:inline-block;margin:.5rem}figcaption{font-size:.8rem;color:#555}
"""
SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.order !== 'asc'; th.dataset.order = up ? 'asc' : 'desc';
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      return up ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def build(bench_dir: str | Path) -> str:
    """The report's HTML for the bench in ``bench_dir``."""
    from fer_zoo.benchmark.bench import KINDS, RowSpec, train_row_again
    from fer_zoo.training.rundir import read_history, read_json, seed_dir
    from fer_zoo.report.terminal import bench_subject

    bench_dir = Path(bench_dir)
    results = bench_dir / "results.json"
    if not results.is_file():
        raise FerZooError(f"{bench_dir}: not a bench directory (no results.json); run `fer-zoo bench` first")
    try:
        data = json.loads(results.read_text())
        rows, env = data["rows"], data["environment"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FerZooError(f"{results}: not a fer-zoo bench result ({one_line(exc, 120)})") from None
    if not isinstance(env, dict) or not isinstance(rows, list):
        raise FerZooError(f"{results}: not a fer-zoo bench result (\"environment\" must be an object and "
                          f"\"rows\" a list)")
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("model"), str):
            raise FerZooError(f"{results}: row {number} of \"rows\" is not a bench row (an object with a "
                              f"\"model\" name); rerun `fer-zoo bench` with the same --out to write it again")
        _require_numbers(results, number, row)
    _require_environment(results, env)
    runs = {}
    for row in rows:
        kind = row.get("kind", "train")
        if kind in KINDS and kind != "pretrained" and isinstance(row.get("architecture"), str):
            folder = seed_dir(bench_dir, RowSpec(row["architecture"], kind).folder)
            if folder.is_dir():
                runs[row["model"]] = folder
    subject = bench_subject(env)
    histories = {name: read_history(folder / "history.csv") for name, folder in runs.items()}
    metrics = {name: read_json(folder / "metrics.json", train_row_again(folder)) or {} for name, folder in runs.items()}
    configs = {name: read_json(folder / "config.json", train_row_again(folder)) or {} for name, folder in runs.items()}
    parts = [f"<h1>fer-zoo bench: {_e(subject)}</h1>", _meta(env), "<h2>Comparison</h2>", results_table(rows),
             _reasons(rows), "<h2>Accuracy, size and speed</h2>", _scatter_plots(rows, subject),
             "<h2>Learning curves</h2>", _curves(histories, subject), "<h2>Confusion matrices (test)</h2>",
             _confusions(metrics, configs), "<h2>Test faces and each model's answer</h2>",
             _faces(runs, env)]
    return (HEAD + f"<style>{STYLE}</style></head><body>{''.join(parts)}<script>{SORT_SCRIPT}</script></body></html>")


# what the environment of results.json must hold for the report's title and sample faces: key -> its type
ENVIRONMENT_KEYS = {"data": str, "dataset": str, "device": str, "backend": str, "budget": dict}
HEAD = "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>fer-zoo bench report</title>"


def _require_environment(results: Path, env: dict) -> None:
    for key, kind in ENVIRONMENT_KEYS.items():
        if not isinstance(env.get(key), kind):
            what = "missing" if key not in env else f"not {'an object' if kind is dict else 'a string'}"
            raise FerZooError(f"{results}: \"environment\" key \"{key}\" is {what}; rerun `fer-zoo bench` with the "
                              f"same --out to write it again")
    if not isinstance(env["budget"].get("name"), str):
        raise FerZooError(f"{results}: \"environment\" key \"budget\" has no \"name\"; rerun `fer-zoo bench` "
                          f"with the same --out to write it again")


def _require_numbers(results: Path, number: int, row: dict) -> None:
    """Each column the tables format as a number (and its ``_std``) holds a number or nothing."""
    from fer_zoo.report.columns import COLUMNS

    for column in (c for c in COLUMNS if c.format):
        for key in (column.key, f"{column.key}_std"):
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problem = "not a number"
            elif not math.isfinite(value) or value < 0:
                problem = "not a finite measure, 0 or more"
            elif column.format == "pct" and key == column.key and value > 1:
                problem = "a fraction above 1"
            else:
                continue
            raise FerZooError(f"{results}: row {number} (\"{row['model']}\") has {key} {json.dumps(value)[:40]}, "
                              f"{problem}; rerun `fer-zoo bench` with the same --out to write it again")


def write(bench_dir: str | Path) -> Path:
    """``bench_dir``/report.html, rebuilt: a report.html there is replaced only if it is a regular file this
    module wrote (it starts with HEAD); a folder, a symlink or a user's own page is refused."""
    from fer_zoo import atomic, outputs

    target = Path(bench_dir) / "report.html"
    given = outputs.inputs(files=[Path(bench_dir) / "results.json"])
    if outputs.exists(target) and not (target.is_file() and not target.is_symlink() and _starts_with_head(target)):
        raise FerZooError(f"{target}: exists and is not a report fer-zoo wrote (a folder, a symlink or another "
                          f"file); move it away and run `fer-zoo report {bench_dir}` again")
    outputs.file(target, "report", given, force=True)
    page = build(bench_dir)
    outputs.write_with(target, "report", lambda tmp: tmp.write_text(page))
    return target


def _starts_with_head(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(HEAD)) == HEAD.encode()
    except OSError:
        return False


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _meta(env: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items())
    budget = env.get("budget", {})
    items = [("data", f"{env.get('data')} ({env.get('dataset')}), fingerprint {env.get('data_fingerprint')}"),
             ("budget", f"{budget.get('name')}: {budget.get('description', '')}"),
             ("device", f"{env.get('device')} (CPU: {env.get('cpu')})"), ("backend", env.get("backend")),
             ("precision", env.get("precision")), ("seeds", env.get("seeds")), ("versions", versions),
             ("date", env.get("date"))]
    return "<table class='meta'>" + "".join(f"<tr><td><b>{_e(k)}</b></td><td>{_e(v)}</td></tr>" for k, v in items) + \
        "</table>"


# report.html's class for each fer_zoo.status.Severity.tone
STATUS_CLASS = {"good": "status-ok", "warn": "status-warn", "bad": "status-bad"}


def results_table(rows: list[dict]) -> str:
    """The comparison table of report.html, its columns from report/columns.py (public: the column tests read it)."""
    from fer_zoo.report.columns import view
    from fer_zoo.report.terminal import cell_text
    from fer_zoo.status import severity

    columns = view("html")
    head = "".join(f"<th>{_e(c.heading)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            if column.key == "model":
                cells.append(f"<td data-value='{_e(row['model'])}'>{_e(row['model'])}</td>")
            elif column.key == "status":
                status = row.get("status", "?")
                css = STATUS_CLASS[severity(status).tone]
                cells.append(f"<td class='{css}' data-value='{_e(status)}'>{_e(status)}</td>")
            else:
                value = row.get(column.key)
                cells.append(f"<td data-value='{_e('' if value is None else value)}'>"
                             f"{_e(cell_text(row, column.key, column.format))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='sortable' id='comparison'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table><p><small>Click a heading to sort. † as the architecture's paper reported it on FER2013; ours are "
            "on the data named above.</small></p>")


def _reasons(rows: list[dict]) -> str:
    notes = [f"<li><b>{_e(r['model'])}</b> ({_e(r.get('status'))}): {_e(r['error'])}</li>" for r in rows if r.get("error")]
    return f"<ul id='reasons'>{''.join(notes)}</ul>" if notes else ""


def _png(draw) -> str:
    buffer = io.BytesIO()
    draw(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(draw, caption: str) -> str:
    return f"<figure><img alt='{_e(caption)}' src='{_png(draw)}'><figcaption>{_e(caption)}</figcaption></figure>"


def _scatter_plots(rows: list[dict], subject: str) -> str:
    from fer_zoo.report.figures import accuracy_vs_params_png, accuracy_vs_speed_png

    return (_figure(lambda f: accuracy_vs_params_png(rows, f, f"accuracy vs parameters · {subject}"),
                    "test accuracy against parameters") +
            _figure(lambda f: accuracy_vs_speed_png(rows, f, f"accuracy vs inference speed · {subject}"),
                    "test accuracy against inference speed"))


def _curves(histories: dict[str, list[dict]], subject: str) -> str:
    from fer_zoo.report.figures import bench_curves_png

    shown = {name: rows for name, rows in histories.items() if rows}
    if not shown:
        return "<p>No row completed an epoch.</p>"
    return _figure(lambda f: bench_curves_png(shown, f, f"learning curves · {subject}"),
                   "val accuracy on one shared axis; each row's loss on its own scale")


def _confusions(metrics: dict[str, dict], configs: dict[str, dict]) -> str:
    from fer_zoo.report.figures import confusion_png

    figures = [_figure(lambda f, m=m, c=configs[name], n=name: confusion_png(
        m["test_confusion_matrix"], c.get("class_names", []), f, f"{n} (test, row-normalised)"), name)
        for name, m in metrics.items() if m.get("test_confusion_matrix")]
    return "".join(figures) or "<p>No row was scored on a test split.</p>"


def _faces(runs: dict[str, Path], env: dict) -> str:
    from PIL import Image

    from fer_zoo.benchmark.bench import train_row_again
    from fer_zoo.data import load_dataset
    from fer_zoo.training.rundir import read_predictions

    answers = {}
    for name, folder in runs.items():
        path = folder / "predictions.npz"
        if path.is_file():
            saved = read_predictions(path, train_row_again(folder))
            if "test" in saved:
                answers[name] = (path, saved["test"].argmax(axis=1))
    if not answers:
        return "<p>No row saved test predictions.</p>"
    dataset = load_dataset(env["data"])
    budget = env["budget"]  # as the rows trained under it: the budget's subset, or the user's --subset
    if budget.get("subset"):
        dataset = dataset.subset(budget["subset"], 0, budget.get("eval_subset"))
    test, names = dataset.splits["test"], dataset.class_names
    for name, (path, predicted) in answers.items():
        if predicted.max(initial=0) >= len(names):
            raise FerZooError(f"{path}: its test answers name class {predicted.max()}, and this bench's data has "
                              f"{len(names)} classes; {train_row_again(path.parent)}")
        answers[name] = predicted
    header = "<tr><th>face</th><th>label</th>" + "".join(f"<th>{_e(n)}</th>" for n in answers) + "</tr>"
    lines = []
    for i in range(min(SAMPLE_FACES, len(test))):
        image = Image.fromarray(test.x[i].squeeze(-1) if test.x.shape[-1] == 1 else test.x[i])
        src = _png(lambda f, im=image: im.save(f, format="PNG"))
        truth = int(test.hard_labels[i])
        cells = "".join(f"<td class='{'right' if a[i] == truth else 'wrong'}'>{_e(names[a[i]])}</td>"
                        for a in answers.values() if i < len(a))
        lines.append(f"<tr><td><img alt='test face {i}' src='{src}'></td><td>{_e(names[truth])}</td>{cells}</tr>")
    return f"<table class='grid' id='faces'>{header}{''.join(lines)}</table>"
