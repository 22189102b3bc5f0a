"""MODEL_CARD.md for a finished run: what was trained on what, how it was selected and scored, what it is
for and not for, how to reproduce it. Hugging Face's model card layout (YAML metadata, then sections),
rendered from the run directory's config.json and metrics.json: plain data in, Markdown out."""

from __future__ import annotations

import json

from fer_zoo.plugins.recipe import Recipe
from fer_zoo.training import run_config

LIMITS = [
    "FER2013-style faces are 48x48 greyscale crops of mostly frontal faces from web searches; the model has not "
    "seen colour, profile views, occlusion by masks, low light or video motion as such.",
    "The labels are one annotator's reading of a posed or spontaneous expression: FER2013's labels are noisy (its "
    "FER+ relabelling changed a substantial share) and human agreement on it is about 65 ± 5%.",
    "Seven discrete categories do not describe mixed or subtle expressions, and an expression is not an emotion: "
    "a smile is not evidence of happiness.",
    "FER2013's demographic balance (age, skin tone, gender, culture) is undocumented and known to be uneven; "
    "accuracy will differ between groups, and this card does not measure by group.",
    "Disgust is rare in FER2013 (1.5% of training faces): its per-class scores rest on few examples.",
]
INTENDED = [
    "research and teaching on facial-expression recognition methods; comparing architectures and recipes;",
    "a baseline to fine-tune on better-documented data for a specific, consented setting.",
]
OUT_OF_SCOPE = [
    "decisions about people (hiring, education, credit, policing, health, border control) or inferring their "
    "emotional state, intent, honesty or mental health;",
    "surveillance or any use on people who have not agreed to it;",
    "any population or camera setting it was not evaluated on.",
]


def render(config: dict, metrics: dict, run_dir=None) -> str:
    """The card of the run ``config`` and ``metrics`` describe; ``run_dir`` is where its command finds the
    run's copy of a recipe from a file or a plugin."""
    arch, data = config["architecture"], config["data"]
    recipe = config["recipe"]
    names = config.get("class_names") or []
    lines = [
        "---",
        "library_name: fer-zoo",
        "pipeline_tag: image-classification",
        "tags: [facial-expression-recognition, fer2013, keras]",
        f"datasets: [{config.get('dataset', data)}]",
        "model-index:",
        f"- name: {arch}",
        "  results:",
        "  - task: {type: image-classification}",
        f"    dataset: {{name: {json.dumps(config.get('dataset', data))}, split: test}}",
        "    metrics:",
    ]
    for key, label in (("test_accuracy", "accuracy"), ("test_macro_f1", "macro-F1"), ("test_top2_accuracy", "top-2")):
        if metrics.get(key) is not None:
            lines.append(f"    - {{type: {label}, value: {metrics[key]:.4f}}}")
    lines += ["---", "", f"# {arch}, trained by fer-zoo", ""]
    lines += [
        "## Model details", "",
        f"- **Architecture:** `{arch}` from plugin {config.get('plugin') or 'unknown'}",
        f"- **Trained:** {metrics.get('epochs', '?')} of {metrics.get('planned_epochs', '?')} epochs, best epoch "
        f"{metrics.get('best_epoch', '?')}; status **{metrics.get('status', '?')}**"
        + (f" ({metrics['reason']})" if metrics.get("reason") else ""),
        f"- **Initialised from:** {config.get('init_from') or 'random weights'}"
        + (f", frozen: {config['freeze']}" if config.get("freeze") is not None else ""),
        "- **Input:** raw 0-255 pixels of the data's shape; resizing and normalisation are inside the model",
        f"- **Output:** probabilities over {len(names)} classes, in order: {', '.join(names)}",
        f"- **Environment:** {config.get('backend', '?')} on {config.get('device', '?')}, "
        f"{config.get('precision', 'float32')}; "
        + ", ".join(f"{k} {v}" for k, v in (config.get("versions") or {}).items()),
        "",
        "## Uses", "", "Intended:", "", *[f"- {u}" for u in INTENDED], "", "Out of scope:", "",
        *[f"- {u}" for u in OUT_OF_SCOPE], "",
        "## Bias, risks and limitations", "", *[f"- {limit}" for limit in LIMITS], "",
        "## Training details", "",
        f"- **Data:** `{data}` ({config.get('dataset', '?')}), fingerprint `{config.get('dataset_fingerprint', '?')}`"
        + (f"; a seeded subset of {config['subset']} training images" if config.get("subset") else ""),
        "- **Splits:** the checkpoint was selected on **val** (for FER2013, PublicTest); **test** (PrivateTest) only "
        "reports; no test-time augmentation in the table below",
        f"- **Test-time augmentation:** {_tta(recipe)}",
        f"- **Recipe:** `{recipe['name']}`: {recipe['optimizer']} at lr {recipe['learning_rate']:g}, batch "
        f"{recipe['batch_size']}, {recipe['epochs']} epochs planned"
        + (f", gradient norm clipped to {recipe['gradient_clip']:g}" if recipe.get("gradient_clip") else "")
        + (f", weight decay {recipe['weight_decay']:g}" if recipe.get("weight_decay") else "")
        + f"; augmentation {Recipe.from_dict(recipe).augment.summary()}; seed {config.get('seed')}"
        + _origin(config.get("recipe_origin")),
        "",
        "## Evaluation", "",
        "| split | accuracy | top-2 | macro-F1 |", "|---|---:|---:|---:|",
    ]
    for split in ("val", "test"):
        if metrics.get(f"{split}_accuracy") is not None:
            lines.append(f"| {split} | {_pct(metrics[f'{split}_accuracy'])} | {_pct(metrics.get(f'{split}_top2_accuracy'))} "
                         f"| {metrics.get(f'{split}_macro_f1', 0):.3f} |")
    if any(metrics.get(f"{split}_tta_accuracy") is not None for split in ("val", "test")):
        lines += ["", f"With the recipe's test-time augmentation ({_tta(recipe)}): accuracy "
                  + ", ".join(f"{split} {_pct(metrics[f'{split}_tta_accuracy'])}" for split in ("val", "test")
                              if metrics.get(f"{split}_tta_accuracy") is not None)]
    per_class = metrics.get("test_per_class") or {}
    if per_class:
        lines += ["", "Per class, on test:", "", "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for name, row in per_class.items():
            lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    confusions = _most_confused(metrics.get("test_confusion_matrix"), names)
    if confusions:
        lines += ["", "Most often confused, on test (true → predicted: share of the true class):", ""]
        lines += [f"- {true} → {predicted}: {_pct(share)} ({count})" for true, predicted, share, count in confusions]
    lines += ["", "## How to reproduce", "", "```",
              run_config.command(config, run_dir), "```", "",
              "The run directory also holds `config.json` (everything above, exactly), `history.csv` (every "
              "epoch), `metrics.json` and `curves.png`.", ""]
    return "\n".join(lines)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _tta(recipe: dict) -> str:
    tta, side = recipe.get("tta", "none"), recipe.get("tta_crop", 0)
    if tta == "none":
        return "none declared by the recipe"
    return f"`{tta}`" + (f" of {side} px crops" if tta == "tencrop" and side else "") + " (the recipe's)"


def _most_confused(matrix, names, top: int = 3) -> list[tuple[str, str, float, int]]:
    if not matrix:
        return []
    found = []
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and total:
                found.append((names[i], names[j], count / total, count))
    return sorted(found, key=lambda f: -f[3])[:top]


def _origin(origin: dict | None) -> str:
    if not origin or origin.get("kind") == "built-in":
        return ""
    if origin.get("kind") == "plugin" and not origin.get("path"):
        return f"; registered by plugin {origin.get('distribution')} {origin.get('version')}"
    where = (f"{origin.get('path')}" if origin.get("kind") == "file"
             else f"{origin.get('path')} of plugin {origin.get('distribution')} {origin.get('version')}")
    return f"; from the recipe file {where} (sha256 `{origin.get('sha256')}`), kept as `{run_config.RECIPE_COPY}`"
