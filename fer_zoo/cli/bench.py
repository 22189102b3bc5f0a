"""`bench`, `report`: architectures compared on the same data, seeds and budget."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fer_zoo.cli.base import (JsonFlag, TrackOption, TrackUriOption, command, console, loaded_plugins, print_json,
                             with_settings)



def bench_command(
    patterns: Annotated[list[str] | None, typer.Argument(help="fnmatch patterns of architectures.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every available architecture, plugins included.")] = False,
    data: Annotated[str, typer.Option("--data", help="synthetic (the smoke budget: its easy preset at "
                                                     "difficulty easy), a CSV, a folder, or NAME:key=value,...")] = "",
    budget: Annotated[str | None, typer.Option("--budget", help="smoke (default on CPU), quick (default on a GPU) or "
                                                         "paper.")] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Runs per architecture; mean ± std.")] = 1,
    out: Annotated[Path, typer.Option("--out", help="Results and one run directory per architecture; a bench of "
                                                    "another config needs another --out.")] = Path("bench"),
    force: Annotated[bool, typer.Option("--force", help="Start again in an --out holding another config.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 unless every row is ok or time-boxed.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column (two tables), not the 80-column summary.")] = False,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Add a row scoring each architecture's shipped "
                                                                  "weights as they are.")] = False,
    fine_tune: Annotated[bool, typer.Option("--fine-tune", help="With --pretrained: add a row fine-tuning them under "
                                                                "the budget.")] = False,
    ensemble: Annotated[bool, typer.Option("--ensemble", help="Add a row for the mean of the trained rows' "
                                                              "probabilities.")] = False,
    as_json: JsonFlag = False,
    track: TrackOption = None,
    track_uri: TrackUriOption = None,
    executor: Annotated[str, typer.Option("--executor", help="local (worker processes here) or ray (Ray tasks, "
                                                             "needs fer-zoo\\[ray]).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="With --executor ray: a running cluster "
                                                                  "(default: start a local Ray).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="With --executor local: rows at once.")] = 1,
    **settings: Any,  # the training options every row shares, from fer_zoo.training.run_config
) -> None:
    """Train and compare architectures on the same data, splits, seeds and budget."""
    import fer_zoo

    epochs, batch_size, precision, recipe, devices, subset, time_box = (settings[name] for name in (
        "epochs", "batch_size", "precision", "recipe", "devices", "subset", "time_box"))
    from fer_zoo.report.terminal import BenchProgress, bench_table

    loaded_plugins()
    screen = console()
    progress = None

    def started(names: list[str]):
        nonlocal progress
        if as_json:
            return None
        screen.print(f"fer-zoo bench: {len(names)} architecture(s) × {seeds} seed(s): {', '.join(names)}; "
                      f"loading {'Keras' if 'keras' not in sys.modules else 'data'}…", markup=False)
        progress = BenchProgress(screen, names, seeds)
        return progress

    try:
        result = fer_zoo.bench(patterns, all=all_, data=data, budget=budget, seeds=seeds, out=out, epochs=epochs,
                               batch_size=batch_size, precision=precision, recipe=recipe, subset=subset,
                               time_box=time_box, force=force, strict=strict,
                               pretrained=pretrained, fine_tune=fine_tune, ensemble=ensemble, track=track,
                               track_uri=track_uri, devices=devices, executor=executor, address=address, jobs=jobs,
                               on_start=started)
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        print_json({key: result[key] for key in ("environment", "rows", "files")})
    else:
        screen.print(bench_table(result["rows"], result["environment"], wide=wide, reused=progress.reused))
        screen.print("wrote " + ", ".join(result["files"]), markup=False)
    if not result["ok"]:
        raise typer.Exit(1)


bench_command = command("bench")(with_settings(bench_command, [
    "patterns", "all_", "data", "budget", "seeds", "out",
    ["epochs", "batch_size", "precision", "recipe", "subset", "time_box"], "force", "strict", "wide", "pretrained",
    "fine_tune", "ensemble", "as_json", "track", "track_uri", ["devices"], "executor", "address", "jobs"], bench=True))


@command("report")
def report_command(
    bench_dir: Annotated[Path, typer.Argument(help="A bench's --out folder (results.json and the run directories).")],
) -> None:
    """Write BENCH_DIR/report.html: one self-contained page of the comparison, its plots and sample faces."""
    from fer_zoo.benchmark import html as html_report

    loaded_plugins()
    target = html_report.write(bench_dir)
    console().print(f"wrote {target} (open it in a browser; it needs no network)", markup=False)
