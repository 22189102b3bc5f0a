"""`fer-zoo reproduce RUN`: a run trained again from its record alone, into a new run directory.

config.json is the record: the architecture, the data spec and the data's fingerprint, the recipe's resolved
values and where they came from, and every setting of the run schema (fer_zoo.training.run_config). The
recipe is rebuilt from its recorded values, never re-read from the file it came from; the data must be the
data the run saw (its fingerprint), or nothing is trained. With ``--deterministic`` recorded, a CPU run
under TensorFlow is repeated to the bit (tests/test_reproduce.py); without it the draws are the same but
the arithmetic may be ordered differently, so the numbers may differ in their last digits and grow apart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fer_zoo.errors import FerZooError
from fer_zoo.models.recipes import Recipe
from fer_zoo.training import rundir, run_config
from fer_zoo.training.run_config import RunConfig

SUFFIX = "-reproduced"


def default_out(run: Path) -> Path:
    """A new folder next to the run: RUN-reproduced, else RUN-reproduced-2, -3, ..."""
    from fer_zoo.outputs import exists

    candidate, number = run.parent / f"{run.name}{SUFFIX}", 2
    while exists(candidate):
        candidate, number = run.parent / f"{run.name}{SUFFIX}-{number}", number + 1
    return candidate


def record(run: Path) -> dict:
    """The run's config.json, checked field by field; one line naming the run otherwise."""
    if not run.is_dir() or not (run / "config.json").is_file():
        raise FerZooError(f"reproduce {run}: not a run directory (no config.json)")
    return rundir.load_config(run)


def check_out(run: Path, out: Path, config: dict, force: bool) -> None:
    """``out`` may take the new run (fer_zoo/outputs.py): never the run itself or inside it, never its data
    or the model it started from; an existing non-empty folder only with ``force``."""
    from fer_zoo import outputs

    given = outputs.inputs(data=config["data"], models=[run, *([config["init_from"]] if config.get("init_from")
                                                                else [])])
    rundir.refuse_shape(out)
    outputs.folder(out, "--out", given, force, empty=True, run=True)


def recipe_and_notes(config: dict) -> tuple[Recipe, dict | None, list[str]]:
    """The recipe as the run recorded it, its origin, and a note where the file it came from changed or went."""
    recipe = Recipe.from_dict(config["recipe"])
    origin = config.get("recipe_origin")
    notes = []
    if origin and origin.get("kind") in ("file", "plugin") and origin.get("path"):
        path = Path(origin["path"])
        if not path.is_file():
            notes.append(f"recipe file {path} is gone; the run's recorded values are used")
        elif origin.get("sha256") and hashlib.sha256(path.read_bytes()).hexdigest() != origin["sha256"]:
            notes.append(f"recipe file {path} has changed since the run (its sha256 differs); the run's "
                         f"recorded values are used, not the file's")
    return recipe, origin, notes


def check_data(run: Path, config: dict) -> list[str]:
    """The run's data as it is now must be the data it was trained on: refused in one line otherwise."""
    from fer_zoo.data import load_dataset

    spec = config["data"]
    try:
        dataset = load_dataset(spec)
    except FerZooError as exc:
        raise FerZooError(f"reproduce {run}: its data {spec} cannot be read now ({exc}); it trained on that "
                          f"data, and only that data reproduces it") from None
    recorded = config.get("dataset_fingerprint")
    if not recorded:
        return [f"the run recorded no fingerprint of its data; {spec} is used as it is now"]
    if dataset.fingerprint != recorded:
        raise FerZooError(f"reproduce {run}: its data {spec} has changed since the run (fingerprint "
                          f"{dataset.fingerprint[:12]} now, {recorded[:12]} then); only the same data reproduces it")
    return []


def environment_notes(config: dict) -> list[str]:
    """Where this machine differs from the run's in what can change the numbers."""
    import fer_zoo
    from fer_zoo import environment

    notes = []
    now = environment.describe()
    for key, what in (("backend", "Keras backend"), ("device", "device")):
        if config.get(key) and now.get(key) and config[key] != now[key]:
            notes.append(f"the run was trained with {what} {config[key]}, this one with {now[key]}: "
                         f"the numbers may differ")
    plugin = fer_zoo.get_architecture(config["architecture"]).plugin
    if config.get("plugin") and plugin and str(plugin) != config["plugin"]:
        notes.append(f"{config['architecture']} comes from {plugin} now, from {config['plugin']} in the run")
    if config.get("time_box"):
        notes.append(f"the run was time-boxed (--time-box {config['time_box']:g}): how many epochs fit depends "
                     f"on this machine's speed")
    if not config.get("deterministic"):
        notes.append("the run was not --deterministic: the same draws, but its numbers may differ slightly")
    return notes


def reproduce(run: Path, out: Path | None = None, force: bool = False, reporter=None, unsafe: bool = False,
              trackers=None, callbacks: list | None = None):
    """Train ``run`` again into ``out`` (default :func:`default_out`); a RunResult whose ``notes`` say what
    may make it differ. Everything is checked (the record, the data, ``out``) before training starts."""
    from fer_zoo.training.train import train

    run = Path(run)
    config = record(run)
    out = Path(out) if out is not None else default_out(run)
    check_out(run, out, config, force)
    notes = check_data(run, config)
    recipe, origin, recipe_notes = recipe_and_notes(config)
    notes += recipe_notes + environment_notes(config)
    options: RunConfig = run_config.from_config(config)
    result = train(config["architecture"], config["data"], out, options, force=force, reporter=reporter,
                   unsafe=unsafe, trackers=trackers, callbacks=callbacks, recipe=(recipe, origin))
    result.notes = notes
    return result
