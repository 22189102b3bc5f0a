"""`fer-zoo bench`: every selected architecture on the same data, splits, seeds and budget.

Long because a bench's whole life is here, in order: budgets and flags, the rows it plans, reusing or
refusing an existing ``--out``, running the rows through an executor, aggregating seeds, the ensemble row,
and the result files; each step reads the one before's plain data.

Each (architecture, seed) row trains in its own process (``python -m fer_zoo.benchmark.worker``), so a crash,
an out-of-memory kill or a NaN ends only its row; an executor decides where those processes run
(fer_zoo.benchmark.executors: here, one or ``--jobs`` at a time; fer_zoo.benchmark.ray_executor: Ray tasks). Each row's
epochs reach :func:`run_bench` as events for a progress display; rows are plain data, and
fer_zoo.report.terminal draws them.

Long because the bench's whole configuration reads best in one place: the budgets and how a user's
--epochs, --subset and --time-box change them, the rows, their reuse across invocations, and the results.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fer_zoo import atomic, outputs
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.benchmark.executors import Bench, LocalExecutor, serialised
from fer_zoo.report import columns
from fer_zoo.metric_names import row_scores, split_scores
from fer_zoo.training.rundir import read_predictions, seed_dir, seed_dirs
from fer_zoo.status import Status, severity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    name: str
    epochs: int | None  # None: each architecture's recipe length
    subset: int | None  # training images; None: all
    eval_subset: int | None  # val and test images each; None: all
    time_box: float | None  # seconds per row, model building, validation and scoring included
    infer_repeats: int  # timed batch-256 inference calls
    latency_repeats: int  # timed batch-1 calls
    description: str
    data: str = "synthetic"  # what the budget trains on when --data is not given


BUDGETS = {
    "smoke": Budget("smoke", epochs=20, subset=2000, eval_subset=150, time_box=25, infer_repeats=1,
                    latency_repeats=10, description="a pipeline and speed check: 2,000 training images, "
                    "150 val and test, 25 s of training per architecture (at most 20 epochs)",
                    # FER2013-hard faces need more than a few short epochs; on the easy preset at low
                    # difficulty the rows that finish a few epochs in 25 s show whether they learn
                    # (docs/benchmarks.md). The time box, not the epochs, ends most rows on a CPU.
                    data="synthetic:preset=easy,difficulty=easy"),
    "quick": Budget("quick", epochs=10, subset=None, eval_subset=None, time_box=None, infer_repeats=5,
                    latency_repeats=50, description="10 epochs of all the data"),
    "paper": Budget("paper", epochs=None, subset=None, eval_subset=None, time_box=None, infer_repeats=10,
                    latency_repeats=100, description="each architecture's full recipe (450 epochs for custom)"),
}


@dataclass
class BenchConfig:
    data: str
    budget: str
    seeds: int
    epochs: int | None
    batch_size: int | None
    precision: str
    pretrained: bool = False  # add a row scoring each architecture's shipped weights as they are
    fine_tune: bool = False  # ... and one fine-tuning them under the budget
    ensemble: bool = False  # add a row averaging the trained rows' probabilities
    track: tuple[str, ...] = ()  # fer_zoo.training.tracking's trackers for each trained row
    track_uri: str | None = None
    recipe: str | None = None  # every row's recipe (a name or a .toml file); None: each architecture's own
    devices: int | str = 1  # each row data parallel over this many devices, or "all" (fer_zoo.training.parallel)
    subset: int | None = None  # each row's training images; None: the budget's
    time_box: float | None = None  # seconds per row; None: the budget's

    def comparable(self) -> dict:
        """What must match for an earlier invocation's rows to be reused (where results go does not; a bench
        written before --recipe, --devices, --subset or --time-box existed matches one without them)."""
        return {k: v for k, v in asdict(self).items()
                if k not in ("track", "track_uri") and not (k in ("recipe", "subset", "time_box") and v is None)
                and not (k == "devices" and v == 1)}


# The kinds of row: trained from scratch, shipped weights scored as they are, shipped weights fine-tuned.
KINDS = {"train": "", "pretrained": "/pretrained", "fine-tune": "/fine-tuned"}


@dataclass(frozen=True)
class RowSpec:
    arch: str
    kind: str = "train"

    @property
    def label(self) -> str:
        return self.arch + KINDS[self.kind]

    @property
    def folder(self) -> str:
        return self.arch if self.kind == "train" else f"{self.arch}-{self.kind}"


def row_specs(names: list[str], config: BenchConfig) -> list[RowSpec]:
    """Every row of the comparison: each architecture trained, and with --pretrained (--fine-tune) its
    shipped weights scored (fine-tuned) where it ships any."""
    import fer_zoo

    specs = []
    for name in names:
        specs.append(RowSpec(name))
        if config.pretrained and fer_zoo.get_architecture(name).weights is not None:
            specs.append(RowSpec(name, "pretrained"))
            if config.fine_tune:
                specs.append(RowSpec(name, "fine-tune"))
    return specs


def default_budget() -> str:
    from fer_zoo.environment import has_accelerator

    return "quick" if has_accelerator() else "smoke"


def default_data(budget: str) -> str:
    """What a bench without --data trains on: the budget's data (the smoke budget's easy faces)."""
    return BUDGETS[budget].data if budget in BUDGETS else "synthetic"


def default_precision() -> str:
    from fer_zoo.environment import has_accelerator

    return "mixed_bfloat16" if has_accelerator() else "float32"


# A bench of more seeds than this is a typo, not a plan (each seed trains every row again); more local
# worker processes than this only contend for the same cores.
MAX_SEEDS = 100
MAX_JOBS = 64


def check_flags(budget: str | None, seeds: int, jobs: int, recipe: str | None = None, subset: int | None = None,
                time_box: float | None = None) -> None:
    """The bench's own flags, before anything loads: ``budget`` None means not given (so do ``subset`` and
    ``time_box``: the budget's then)."""
    from fer_zoo import values
    from fer_zoo.training.run_config import parse_recipe, setting

    parse_recipe(recipe)
    if subset is not None:
        values.integer(subset, "--subset", int(setting("subset").low))
    if time_box is not None:
        values.real(time_box, "--time-box", setting("time_box").low)
    if budget is not None and budget not in BUDGETS:
        raise FerZooError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    if not 1 <= seeds <= MAX_SEEDS:
        raise FerZooError(f"--seeds must be an integer in [1, {MAX_SEEDS}], got {seeds}")
    if not 1 <= jobs <= MAX_JOBS:
        raise FerZooError(f"--jobs must be an integer in [1, {MAX_JOBS}], got {jobs}")


def select(patterns: list[str], all_: bool) -> list[str]:
    from fer_zoo import plugins

    if not patterns and not all_:
        raise FerZooError("name architectures (fnmatch patterns such as 'vgg*') or pass --all")
    loaded = plugins.checked()
    if all_:
        return loaded.architectures.names()
    for pattern in patterns:  # one that matches nothing is a typo even when another matches
        loaded.architectures.select([pattern])
    return loaded.architectures.names(patterns)


# How a setting left out of BenchConfig.comparable() reads in a message: what it means when absent.
UNSET = {"recipe": "each row's default", "devices": "1", "subset": "the budget's", "time_box": "the budget's"}


def budget_text(budget: Budget) -> str:
    """What a budget trains, in words, from its numbers: '500 training images, 150 val and test, 25 s of
    training per architecture (at most 3 epochs)'."""
    if budget.subset:
        images = f"{budget.subset:,} training images, {budget.eval_subset or max(1, budget.subset // 4):,} val and test"
    else:
        images = "all the data"
    if budget.time_box:
        length = f"{budget.time_box:g} s of training per architecture" + (
            f" (at most {budget.epochs} epochs)" if budget.epochs else "")
    else:
        length = f"{budget.epochs} epochs" if budget.epochs else "each architecture's full recipe"
    return f"{images}, {length}"


def effective_budget(budget: Budget, config: BenchConfig, dataset) -> Budget:
    """The budget the rows train under, as results.json and the footer state it: ``--epochs``, ``--subset``
    and ``--time-box`` over the budget's own, and the budget's subsets capped at the splits (smoke's 2,000 of a
    smaller data set is all of it, and picks the same images). A ``--subset`` larger than the split is refused."""
    data, train_images = config.data, len(dataset.splits["train"])
    if config.subset is not None and config.subset > train_images:
        raise FerZooError(f"--subset {config.subset}: {data} has {train_images} training images; give at most "
                          f"{train_images}, or leave --subset out for the budget's")
    given = {name: value for name, value in (("epochs", config.epochs), ("subset", config.subset),
                                             ("time_box", config.time_box)) if value is not None}
    subset = given.get("subset", min(budget.subset, train_images) if budget.subset else None)
    eval_subset = budget.eval_subset
    if subset and eval_subset:
        eval_subset = min(eval_subset, max(len(dataset.splits[name]) for name in ("val", "test")))
    effective = replace(budget, epochs=given.get("epochs", budget.epochs), subset=subset, eval_subset=eval_subset,
                        time_box=given.get("time_box", budget.time_box))
    why = [" ".join(f"--{name.replace('_', '-')} {value:g}" for name, value in given.items())] if given else []
    if budget.subset and "subset" not in given and subset < budget.subset:
        why.append(f"all {subset:,} training images: the budget's {budget.subset:,} are more than the data has")
    if not why and effective == budget:
        return budget
    return replace(effective, description=budget_text(effective) + (f" ({'; '.join(why)})" if why else ""))


def _setting(key: str, config: dict) -> str:
    if key not in config:
        return UNSET.get(key, "unset")
    value = config[key]
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def config_changes(saved: dict, new: dict) -> str:
    """Each setting that differs, old → new, in one line (``recipe each row's default → seed``)."""
    keys = [*saved, *(k for k in new if k not in saved)]
    return ", ".join(f"{k} {_setting(k, saved)} → {_setting(k, new)}" for k in keys
                     if (k in saved, saved.get(k)) != (k in new, new.get(k)))


def _prepare(out: Path, config: BenchConfig, force: bool) -> None:
    path = out / "bench.json"
    advice = "pass --out DIR for a new bench, or --force to replace it"
    if path.is_file() and not force:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FerZooError(f"{path}: unreadable ({one_line(exc, 120)}); {advice}") from None
        if not isinstance(saved, dict):
            raise FerZooError(f"{path}: not a fer-zoo bench file (expected a JSON object); {advice}")
        if saved != config.comparable():
            raise FerZooError(f"{out}/ holds a bench of another config: "
                              f"{config_changes(saved, config.comparable())}; {advice}")
    elif force and out.is_dir():
        for folder in seed_dirs(out):
            (folder / "row.json").unlink(missing_ok=True)
    atomic.write_json(path, config.comparable())


def read_row(path: Path) -> dict | None:
    """A finished row's row.json, or None (with a warning) when it is damaged: a row.json is this bench's own
    record of a row, and running that row again is cheaper for a user than mending the file by hand."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        problem = one_line(exc, 120)
    else:
        if isinstance(row, dict) and isinstance(row.get("status"), str):
            return row
        problem = "not a fer-zoo bench row"
    log.warning("%s: unreadable (%s); running that row again", path, problem)
    return None


Event = dict[str, Any]


def run_bench(names: list[str], config: BenchConfig, out: Path, force: bool = False,
              on_event: Callable[[Event], None] | None = None, executor=None) -> dict:
    """Train and measure each architecture; returns {"rows", "runs", "environment"} as plain data.

    ``on_event`` gets plain dicts: ``{"event": "row", "model", "seed", "state": "started" | "running" |
    "retrying" | "reused" | "finished", "row"?, "node"?}`` and each worker's ``{"event": "epoch", ...}``
    (see fer_zoo.training.callbacks.EpochReport). ``executor`` runs the rows not finished earlier: a
    :class:`LocalExecutor` (the default, one row at a time) or fer_zoo.benchmark.ray_executor's.
    """
    from fer_zoo import environment
    from fer_zoo.data import load_dataset
    from fer_zoo.training.train import PRECISIONS

    budget = BUDGETS.get(config.budget)
    if budget is None:
        raise FerZooError(f"--budget must be one of {', '.join(BUDGETS)}, got {config.budget!r}")
    if not 1 <= config.seeds <= MAX_SEEDS:
        raise FerZooError(f"--seeds must be an integer in [1, {MAX_SEEDS}], got {config.seeds}")
    if config.precision not in PRECISIONS:  # every row would fail on it
        raise FerZooError(f"--precision must be one of {', '.join(PRECISIONS)}, got {config.precision!r}")
    emit = on_event or (lambda event: None)
    # never the data, a recipe file, a run directory or '.'; a bench folder of the same config is reused below
    outputs.folder(out, "--out", outputs.inputs(data=config.data, files=[config.recipe] if config.recipe else []))
    dataset = load_dataset(config.data)  # parse and cache once, before the workers
    dataset.require(purpose="a bench")  # once, before any row starts, rather than by every row in turn
    budget = effective_budget(budget, config, dataset)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerZooError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    if config.fine_tune and not config.pretrained:
        raise FerZooError("--fine-tune adds to --pretrained: pass both")
    specs = row_specs(names, config)
    if config.pretrained and not any(spec.kind == "pretrained" for spec in specs):
        raise FerZooError(f"--pretrained: none of {', '.join(names)} ships weights (`fer-zoo list --pretrained`)")
    _prepare(out, config, force)
    executor = executor or LocalExecutor()
    bench = Bench(config, budget, out, emit if executor.concurrent_rows == 1 else serialised(emit))
    # shipped weights scored as they are: once (scoring is deterministic)
    seeds = {spec.label: range(1 if spec.kind == "pretrained" else config.seeds) for spec in specs}
    todo, done = [], {}
    for spec in specs:
        for seed in seeds[spec.label]:
            row_path = seed_dir(out, spec.folder, seed) / "row.json"
            row = read_row(row_path) if row_path.is_file() else None  # finished by an earlier invocation
            if row is not None:
                done[spec.label, seed] = row
                bench.emit({"event": "row", "model": spec.label, "seed": seed, "state": "reused",
                            "row": done[spec.label, seed], "path": str(row_path.parent)})
            else:
                todo.append((spec, seed))
    done |= executor.run(todo, bench)
    runs = {label: [done[label, seed] for seed in label_seeds] for label, label_seeds in seeds.items()}
    rows = [aggregate(spec, runs[spec.label]) for spec in specs]
    if config.ensemble:
        rows.append(ensemble_row(rows, out, dataset, budget))
    info = environment.describe()
    env = {
        "device": info["device"], "cpu": environment.cpu_name(), "backend": info["backend"],
        "precision": config.precision, "budget": asdict(budget), "data": config.data,
        # what the user gave over the budget's own (the budget above has them)
        "budget_overrides": {k: v for k, v in (("epochs", config.epochs), ("subset", config.subset),
                                               ("time_box", config.time_box)) if v is not None},
        "dataset": dataset.name, "data_fingerprint": dataset.fingerprint, "seeds": config.seeds,
        "versions": info["versions"], "date": time.strftime("%Y-%m-%d %H:%M"),
        "recipe": config.recipe,  # None: each architecture's own
        "devices": config.devices, "executor": executor.name,
        "concurrent_rows": executor.concurrent_rows,  # > 1: timings were taken with rows side by side
    }
    return {"rows": rows, "runs": runs, "environment": env}


def aggregate(spec: RowSpec, seed_rows: list[dict]) -> dict:
    """One row per architecture (and kind): values of the seeds that trained, as mean and std."""
    import fer_zoo

    arch = fer_zoo.get_architecture(spec.arch)
    good = [r for r in seed_rows if severity(r.get("status")).counts]
    measured = [r for r in seed_rows if r.get("param_count") is not None]
    row: dict[str, Any] = {"model": spec.label, "architecture": spec.arch, "kind": spec.kind,
                           "plugin": str(arch.plugin) if arch.plugin else None,
                           "reported_val_acc": (arch.reported or {}).get("val"),
                           "reported_test_acc": (arch.reported or {}).get("test"), "seeds": len(seed_rows),
                           "infer_batch_size": 256}
    for key in columns.numeric():
        source = good if good else measured  # a row at chance still shows what it measured
        values = [r[key] for r in source if r.get(key) is not None]
        row[key] = statistics.mean(values) if values else None
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
    row["tta"] = next((r["tta"] for r in seed_rows if r.get("tta")), None)  # the recipe's: one for all seeds
    statuses = sorted({str(r.get("status", Status.FAILED)) for r in seed_rows})
    row["status"] = statuses[0] if len(statuses) == 1 else "/".join(statuses)
    reasons = [r.get("error") or r.get("reason") for r in seed_rows if r.get("error") or r.get("reason")]
    row["error"] = reasons[0] if reasons else None
    return row


def train_row_again(run: Path) -> str:
    """What a user does about a damaged file in a row's run directory."""
    return f"remove {run} and rerun `fer-zoo bench` with the same --out to train that row again"


def ensemble_row(rows: list[dict], out: Path, dataset, budget: Budget) -> dict:
    """A row for the mean of the trained rows' probabilities (seed 0 of each; a row without predictions, one
    that failed, is left out), scored on the same val and test images."""
    import numpy as np

    from fer_zoo.training.scores import metrics

    members, probabilities = [], {"val": [], "test": []}
    for row in rows:
        path = seed_dir(out, RowSpec(row["architecture"], row["kind"]).folder) / "predictions.npz"
        if row["kind"] == "pretrained" or not path.is_file():
            continue
        saved = read_predictions(path, train_row_again(path.parent))
        if not all(split in saved for split in probabilities):
            continue
        for split in probabilities:
            probabilities[split].append(saved[split])
        members.append(row)
    entry: dict[str, Any] = {"model": "ensemble", "architecture": None, "kind": "ensemble", "plugin": None,
                             "seeds": 1, "reported_val_acc": None, "reported_test_acc": None, "infer_batch_size": 256}
    if len(members) < 2:
        return {**entry, "status": Status.FAILED, "error": "an ensemble needs two trained rows with predictions"}
    if budget.subset:
        dataset = dataset.subset(budget.subset, 0, budget.eval_subset)
    scores = {split: metrics(dataset.splits[split].y, np.mean(probabilities[split], axis=0), dataset.class_names)
              for split in probabilities}
    return {**entry, "status": Status.OK, "param_count": sum(m.get("param_count") or 0 for m in members),
            "macs": sum(m.get("macs") or 0 for m in members),
            **{k: v for k, v in row_scores(split_scores("val", scores["val"]) | split_scores("test", scores["test"]))
               .items() if v is not None},
            "error": "the mean of " + ", ".join(m["model"] for m in members) + " (seed 0 each)"}


def exit_status(rows: list[dict], strict: bool = False) -> int:
    """1 when every row failed to run, or (``strict``) when any row is not ok or time-boxed; else 0."""
    levels = [severity(r["status"]) for r in rows]
    if all(not level.ran for level in levels) or (strict and not all(level.counts for level in levels)):
        return 1
    return 0


def write_results(result: dict, out: Path) -> list[Path]:
    """results.csv, results.json, results.md, accuracy_vs_params.png, curves.png (report.html: benchmark/html.py)."""
    from fer_zoo.report.figures import accuracy_vs_params_png, bench_curves_png
    from fer_zoo.report.terminal import bench_markdown, bench_subject
    from fer_zoo.training.rundir import read_history

    rows = result["rows"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.key for c in columns.view("csv")], extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(out / "results.csv", buffer.getvalue())
    atomic.write_json(out / "results.json", {"environment": result["environment"], "rows": rows})
    atomic.write_text(out / "results.md", bench_markdown(rows, result["environment"]))
    subject = bench_subject(result["environment"])
    atomic.write_with(out / "accuracy_vs_params.png",
                      lambda tmp: accuracy_vs_params_png(rows, tmp, f"accuracy vs parameters · {subject}"))
    histories = {row["model"]: read_history(seed_dir(out, RowSpec(row["architecture"], row["kind"]).folder) /
                                            "history.csv") for row in rows if row["kind"] in KINDS}
    shown = {k: v for k, v in histories.items() if v}
    if shown:
        atomic.write_with(out / "curves.png", lambda tmp: bench_curves_png(shown, tmp, f"learning curves · {subject}"))
    return [out / f for f in ("results.csv", "results.json", "results.md", "accuracy_vs_params.png", "curves.png")
            if (out / f).exists()]
