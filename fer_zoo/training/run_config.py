"""One schema for a run's settings: :class:`RunConfig`, each field carrying its flag, help, default, type and
whether ``--resume`` may change it. Everything that names a setting is derived from it: the options of
`fer-zoo train` (and the ones `bench` shares), the keys of ``config.json`` and the checks of
fer_zoo.training.rundir, the resume comparison and its message, the job a bench worker or a Ray task gets, the
tracked parameters (the flattened config.json) and the model card's "How to reproduce" command.

Light on purpose: fer_zoo.cli imports it for ``--help``, so no Keras or TensorFlow here.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any

from fer_zoo.errors import FerZooError
from fer_zoo.models.recipes import RECIPES, Augment, Recipe

# the built-in recipes, for --recipe's help (which loads no plugin): "seed (the paper's), stable, adam, modern,
# any `fer-zoo recipes` lists"
RECIPE_NAMES = ", ".join(f"{name} (the paper's)" if name == "seed" else name for name in RECIPES) + \
    " (any recipe `fer-zoo recipes` lists)"
# the options' vocabularies: config.json records them (fer_zoo.training.rundir checks it), and
# fer_zoo.training.train checks --precision and --class-weights against the same
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CLASS_WEIGHTS = ("none", "balanced")
# the run directory's copy of the resolved recipe (a file's or a plugin's), which the model card's command passes
RECIPE_COPY = "recipe.toml"


@dataclass(frozen=True)
class Setting:
    """How one field of :class:`RunConfig` is given, recorded and compared.

    ``where`` says where config.json records it: ``"config"`` (a top-level key of the field's name),
    ``"recipe"`` (the resolved recipe's field ``key``; a flag that overrides the recipe), ``"origin"`` (the
    recipe itself, with ``recipe_origin``), or None (not recorded: it does not change what is trained).
    """

    flag: str | None  # None: the Python API only
    kind: type  # what the flag parses to before ``parse``: int, float, str or bool
    help: str | None = None
    where: str | None = "config"
    key: str | None = None  # the recipe field, for where="recipe"
    parse: Callable[[Any], Any] | None = None  # the flag's text to the field's value, a one-line error otherwise
    cli_default: Any = ...  # the flag's default where it is not the field's (None: "not given")
    low: float | None = None
    high: float | None = None
    resume: bool = True  # a different value on --resume is refused
    label: str | None = None  # how the resume message names it (default: the flag)
    bench: bool = False  # bench has the same flag, for every row
    bench_help: str | None = ...  # its help there, where it differs (...: the same)
    bench_default: Any = ...  # its default there, where it differs (...: the same)
    hidden: bool = False
    # how fer_zoo.training.rundir checks config.json's key: (kind, options of its _field); None: not checked there
    stored: tuple[str, dict] | None = None


def _setting(default, flag, kind, help=None, **more):
    return field(default=default, metadata={"setting": Setting(flag, kind, help, **more)})


def parse_freeze(text: str | int | None) -> int | str | None:
    """``--freeze`` as a number of layers or ``"backbone"``; a string of digits counts as a number."""
    if text is None or text == "backbone" or isinstance(text, int):
        return text
    try:
        return int(text)
    except ValueError:
        raise FerZooError(f"--freeze: expected a number of layers or 'backbone', got {text!r}") from None


def parse_recipe(text: str | None) -> str | None:
    """``--recipe``: None is the architecture's own; an empty name is a mistake, not that default."""
    if text is not None and not text.strip():
        raise FerZooError(f"--recipe {text!r}: an empty name; give {RECIPE_NAMES}, or a .toml file")
    return text


def parse_devices(text):
    from fer_zoo.training import parallel

    return parallel.parse(text)


@dataclass
class RunConfig:
    """Everything that shapes a run besides the architecture and the data; None means the recipe's value."""

    recipe: str | None = _setting(None, "--recipe", str, f"{RECIPE_NAMES}, or a .toml file; default: the "
                                  "architecture's own.", where="origin", bench=True, parse=parse_recipe,
                                  bench_help=f"Every row's recipe: {RECIPE_NAMES} or a .toml file; default: each "
                                  "one's own.")
    epochs: int | None = _setting(None, "--epochs", int, where="recipe", key="epochs", low=1, bench=True,
                                  bench_help="Override the budget's epochs.")
    batch_size: int | None = _setting(None, "--batch-size", int, where="recipe", key="batch_size", low=1, bench=True)
    lr: float | None = _setting(None, "--lr", float, "Learning rate.", where="recipe", key="learning_rate")
    optimizer: str | None = _setting(None, "--optimizer", str, "adam, adamw or sgd.", where="recipe",
                                     key="optimizer")
    augment: bool = _setting(True, "--no-augment", bool, "Train without augmentation.", where="recipe",
                             key="augment", cli_default=False, label="augmentation")
    seed: int = _setting(0, "--seed", int, stored=("a whole number", {}))
    # keras.utils.set_random_seed and (TensorFlow) op determinism: a CPU run is repeated exactly
    deterministic: bool = _setting(False, "--deterministic", bool, "Repeatable to the bit: deterministic ops "
                                   "(slower on some devices); every random draw is from --seed either way.",
                                   stored=("true or false", {"default": False}))
    precision: str = _setting("float32", "--precision", str, "float32, mixed_float16, mixed_bfloat16.", bench=True,
                              bench_help="Default: mixed_bfloat16 on a GPU, else float32.", bench_default="",
                              stored=("text", {"choices": PRECISIONS}))
    class_weights: str = _setting("none", "--class-weights", str, "none or balanced.",
                                  stored=("text", {"choices": CLASS_WEIGHTS}))
    label_smoothing: float | None = _setting(None, "--label-smoothing", float, where="recipe", key="label_smoothing",
                                             low=0.0, high=1.0)
    early_stopping: int | None = _setting(None, "--early-stopping", int, "Patience in epochs.", low=1,
                                          stored=("a whole number", {"low": 0, "none": True, "default": None}))
    # a model file, a run directory, or an architecture that ships weights
    init_from: str | None = _setting(None, "--init-from", str, "Start from this model's weights: a run, a .keras/.h5 "
                                     "file, or an architecture that ships weights.", stored=("text", {"none": True}))
    # the first N layers of the network, or "backbone" (all but the head)
    freeze: int | str | None = _setting(None, "--freeze", str, "Keep the first N layers with weights fixed, or "
                                        "'backbone': all but the head.", parse=parse_freeze,
                                        stored=("a whole number", {"low": 0, "none": True, "default": None}))
    subset: int | None = _setting(None, "--subset", int, "Train on a seeded subset of N images (val and test N/4 "
                                  "each).", low=1, bench=True,
                                  bench_help="Each row's training images (default: the budget's, smoke 2000; val "
                                  "and test stay the budget's).",
                                  stored=("a whole number", {"low": 0, "none": True, "default": None}))
    # ... and of this many val and test images (default: a quarter of subset); bench budgets set it
    eval_subset: int | None = _setting(None, "--eval-subset", int, "With --subset: val and test images each "
                                       "(default N/4).", low=1, hidden=True,
                                       stored=("a whole number", {"low": 0, "none": True, "default": None}))
    # seconds for the whole run; training stops so that the box holds
    time_box: float | None = _setting(None, "--time-box", float, "Seconds for the whole run; training stops so it "
                                      "holds.", low=1.0, bench=True,
                                      bench_help="Seconds per row, training stopped so it holds (default: the "
                                      "budget's, smoke 25).",
                                      stored=("a number", {"positive": True, "none": True, "default": None}))
    # checkpoint at most this often (and always after the last epoch): when, not what, is saved
    checkpoint_seconds: float = _setting(30.0, None, float, where=None, resume=False)
    # data parallel over this many devices, or "all" (fer_zoo.training.parallel)
    devices: int | str = _setting(1, "--devices", str, "Train on N devices at once (data parallel) or 'all'; the "
                                  "batch is per device.", parse=parse_devices, cli_default=None, bench=True,
                                  stored=("a whole number", {"low": 1, "default": 1}))

    # --- the bench job: plain JSON for a worker process or a Ray task -----------------------------------

    def as_job(self) -> dict:
        return asdict(self)

    @classmethod
    def from_job(cls, job: dict) -> RunConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in job.items() if k in known})

    # --- what differs from the defaults ---------------------------------------------------------------

    def changed(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) != f.default}


TrainOptions = RunConfig  # the name the library and its callers have used


def setting(name: str) -> Setting:
    return RunConfig.__dataclass_fields__[name].metadata["setting"]


def settings() -> list[tuple[str, Setting, Any]]:
    """(name, setting, default) for every field, in the schema's order."""
    return [(f.name, f.metadata["setting"], f.default) for f in fields(RunConfig)]


def recorded() -> list[str]:
    """The fields config.json records: every one that changes what is trained."""
    return [name for name, s, _ in settings() if s.where is not None]


# --- the command line ----------------------------------------------------------------------------------


def cli_parameters(names: list[str], bench: bool = False) -> list[inspect.Parameter]:
    """typer's parameters for the flags of ``names``, as a command function's signature holds them: `train`'s,
    or with ``bench`` the ones `bench` shares (its own help and default where they differ)."""
    import typer

    params = []
    for name in names:
        s = setting(name)
        if bench and not s.bench:
            raise AssertionError(f"{name} is not one of bench's options")
        field_ = RunConfig.__dataclass_fields__[name]
        default = field_.default if s.cli_default is ... else s.cli_default
        if bench and s.bench_default is not ...:
            default = s.bench_default
        help_ = s.bench_help if bench and s.bench_help is not ... else s.help
        kind = s.kind if s.kind is bool else s.kind | None if default is None else s.kind
        extra = {k: v for k, v in (("min", s.low), ("max", s.high)) if v is not None}
        if s.kind is int:  # typer's own reading takes "1.0" and "٣" as integers; fer_zoo.values takes neither
            extra = {"parser": _whole_number(s), "metavar": "INTEGER"}
        option = typer.Option(s.flag, help=help_, hidden=s.hidden, **extra)
        params.append(inspect.Parameter(_cli_name(name), inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[kind, option]))
    return params


def _whole_number(s: Setting) -> Callable[[str], int]:
    """The flag's reader: raised while click parses, so a usage error (click's one line), not a FerZooError."""
    import typer

    from fer_zoo import values

    def read(text: str) -> int:
        try:
            return values.integer(text, s.flag, None if s.low is None else int(s.low),
                                  None if s.high is None else int(s.high))
        except FerZooError as exc:
            raise typer.BadParameter(str(exc).removeprefix(f"{s.flag} ")) from None

    return read


def _cli_name(name: str) -> str:
    return setting(name).flag.removeprefix("--").replace("-", "_")


def from_cli(values: dict[str, Any], **replaced) -> RunConfig:
    """A RunConfig from the parsed flags (keyed as :func:`cli_parameters` names them), each parsed once."""
    given = {}
    for name, s, default in settings():
        if s.flag is None or _cli_name(name) not in values:
            continue
        value = values[_cli_name(name)]
        if s.kind is bool and s.flag.startswith("--no-"):
            value = not value
        given[name] = s.parse(value) if s.parse else value
    return RunConfig(**{**given, **replaced})


def asked_from_cli(given: set[str]) -> set[str]:
    """The fields the command line set, from the parameter names click reports as given."""
    by_cli = {_cli_name(name): name for name, s, _ in settings() if s.flag}
    return {by_cli.get(name, name) for name in given}


# --- config.json -----------------------------------------------------------------------------------------


def config_values(options: RunConfig) -> dict:
    """The top-level keys config.json records for ``options`` (the recipe's fields go in its recipe)."""
    return {name: getattr(options, name) for name, s, _ in settings() if s.where == "config"}


def from_config(config: dict) -> RunConfig:
    """The options of a saved run; its recipe is rebuilt whole from the config (the flags that override it
    stay None)."""
    values = {name: config.get(name, default) for name, s, default in settings() if s.where == "config"}
    return RunConfig(recipe=config["recipe"]["name"], **values)


def saved_value(config: dict, name: str):
    """What ``config`` records for the field ``name``, in the field's own terms."""
    s = setting(name)
    if s.where == "recipe":
        value = config["recipe"].get(s.key)
        return Recipe.from_dict(config["recipe"]).augment.active if s.key == "augment" else value
    if s.where == "origin":
        return config["recipe"]["name"]
    return config.get(name, RunConfig.__dataclass_fields__[name].default)


# --- --resume ------------------------------------------------------------------------------------------


def conflicts(config: dict, arch_recipe: str | None, options: RunConfig, data: str, asked: set[str]) -> list[str]:
    """What a resume asked for (the names in ``asked``) that differs from the run's ``config``, each as
    "--epochs 5 (not 9)", the run's value first. A recipe counts as the same when it resolves to the same."""
    from fer_zoo.models.recipes import resolve

    saved = Recipe.from_dict(config["recipe"])
    compared = {name: s for name, s, _ in settings() if s.resume}
    had = {name: saved_value(config, name) for name in compared} | {"data": config["data"]}
    wanted = {name: getattr(options, name) for name in compared} | {"data": data, "recipe": saved.name}
    if "devices" in asked:
        from fer_zoo.training import parallel

        wanted["devices"] = parallel.resolve(options.devices)
    if "recipe" in asked:
        knobs = {n: had[n] for n in compared if setting(n).where == "recipe" and n != "augment"}
        if resolve(arch_recipe, options.recipe, **knobs, augment=saved.augment.active) != saved:
            wanted["recipe"] = options.recipe
    labels = {name: s.label or s.flag for name, s in compared.items()} | {"data": "--data"}
    return [f"{labels[f]} {_shown(had[f])} (not {_shown(wanted[f])})" for f in sorted(asked & set(labels))
            if wanted[f] != had[f]]


def _shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


# --- the recipe's copy and the command that reproduces a run -------------------------------------------


def recipe_toml(recipe: dict) -> str:
    """A recipe as a TOML file that resolves to exactly it: its base (a built-in, whose name it keeps) and every
    field that differs from it."""
    from fer_zoo.models.recipes import registered_recipes

    resolved = Recipe.from_dict(recipe)
    known = registered_recipes()
    base = known[resolved.name] if resolved.name in known else known["seed"]
    lines = [f"base = {_toml(base.name)}"]
    for f in Recipe.trained_fields():
        value = getattr(resolved, f.name)
        if f.name == "augment" or value == getattr(base, f.name) or value is None:
            continue
        lines.append(f"{f.name} = {_toml(value)}")
    augment = [f"{f.name} = {_toml(getattr(resolved.augment, f.name))}" for f in fields(Augment)
               if getattr(resolved.augment, f.name) != getattr(base.augment, f.name)]
    if augment:
        lines += ["", "[augment]", *augment]
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _as_built_in(config: dict) -> list[str] | None:
    """``--recipe NAME`` and the recipe flags, where they rebuild the run's recipe exactly (a built-in, or a
    plugin's registered recipe as installed here); else None."""
    from fer_zoo.models.recipes import registered_recipes

    origin = config.get("recipe_origin") or {"kind": "built-in", "name": config["recipe"]["name"]}
    recipe = config["recipe"]
    known = registered_recipes()
    if origin.get("kind") not in ("built-in", "plugin") or origin.get("path") or recipe.get("name") not in known:
        return None
    parts = ["--recipe", recipe["name"]]
    overrides = {}
    for name, s, _ in settings():
        if s.where != "recipe" or s.key == "augment":
            continue
        overrides[s.key] = recipe.get(s.key)
        parts += [s.flag, _text(recipe.get(s.key))]
    rebuilt = replace(known[recipe["name"]], **overrides)
    if not Recipe.from_dict(recipe).augment.active and rebuilt.augment.active:
        parts.append(setting("augment").flag)
        rebuilt = replace(rebuilt, augment=Augment())
    return parts if rebuilt == Recipe.from_dict(recipe) else None


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) and float(f"{value:g}") == value else str(value)


def needs_recipe_copy(config: dict) -> bool:
    """Whether the model card's command passes the run directory's copy of the recipe (no built-in name and
    flags rebuild it)."""
    return _as_built_in(config) is None


def command(config: dict, run_dir: Path | str | None = None) -> str:
    """`fer-zoo train ...` that trains the run ``config`` describes again: every recorded setting, and the
    recipe as a built-in name and flags where that rebuilds it exactly, else the run directory's copy of it."""
    parts = ["fer-zoo", "train", config["architecture"], "--data", config["data"]]
    recipe_part = _as_built_in(config)
    if recipe_part is None:
        copy = Path(run_dir) / RECIPE_COPY if run_dir is not None else Path("RUN_DIR") / RECIPE_COPY
        recipe_part = ["--recipe", str(copy)]
    parts += recipe_part
    for name, s, default in settings():
        if s.where != "config" or s.flag is None:
            continue
        value = config.get(name, default)
        if s.kind is bool:  # a switch: its flag says the value that is not the default
            parts += [s.flag] if value != default else []
        elif value is not None:
            parts += [s.flag, _text(value)]
    return shlex.join(parts)
