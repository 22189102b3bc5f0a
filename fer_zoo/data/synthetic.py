"""The embedded default data: procedural 48x48 greyscale faces whose class is carried by geometry.

Each face is drawn from soft shapes (an ellipse face, eyes, pupils, brows, nose, mouth, cheek folds)
in face coordinates, then posed (rotation, shift, scale), lit (a gradient), blurred, noised and
sometimes occluded (a hand, glasses, a crop at the border). The expression is an interpolation from a
neutral face towards the class's prototype by a random *intensity*, so subtle expressions overlap with
neutral and with each other, as in real data.

Deterministic for a seed (same options, same bytes) and vectorised over the whole batch.

Two presets: ``fer2013`` (the default) gives the set FER2013's shape where it matters for a comparison:
its class proportions in every split (disgust 1.5%, happy 25%), 10% of the labels in every split
replaced at random (FER2013's labels are noisy), and a difficulty at which the paper's custom net under
the paper's recipe lands near its FER2013 accuracy in the quick budget (docs/data.md). ``easy`` is the
earlier default: balanced, clean labels, medium difficulty. Options override the preset's values:
``synthetic:preset=easy,size=6000,difficulty=medium,seed=0,imbalance=none|fer2013,label_noise=0``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fer_zoo
from fer_zoo import values
from fer_zoo.data import cache
from fer_zoo.data.dataset import CLASS_NAMES, Dataset, DatasetSource, Split, declared_option, reject_unknown
from fer_zoo.errors import FerZooError
from fer_zoo.plugins.registry import Option

GENERATOR_VERSION = 6  # bump when the images, labels or the cached name change (6: the name shows its nearest preset)
SIDE = 48
BLOCK = 500
MAX_SIZE = 1_000_000  # training images: 2.3 GB of pixels, 28x FER2013; more is a typo, not a data set
DIFFICULTY = {"easy": 0.2, "medium": 0.5, "hard": 0.8}
PRESETS = {
    # calibrated in docs/data.md (scripts/calibrate_synthetic.py)
    "fer2013": {"difficulty": "1", "imbalance": "fer2013", "label_noise": "0.1"},
    "easy": {"difficulty": "medium", "imbalance": "none", "label_noise": "0"},
}
# FER2013's training-set class counts (angry, disgust, fear, happy, sad, surprise, neutral)
FER2013_COUNTS = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965])

# Expression parameters: eye opening, brow raise, brow tilt (+ = inner ends down), mouth curve
# (+ = corners up), mouth opening, mouth width, asymmetry, nose wrinkle, cheek lift.
# --data synthetic:key=value: typed ones are checked as the spec is read, and read the same way by load()
OPTIONS = {"preset": "fer2013 (default: FER2013's class proportions and label noise, calibrated difficulty) "
                     "or easy (balanced, clean labels, medium difficulty)",
           "size": Option.integer("training images (6000; val and test get size/6 each)", 7, MAX_SIZE),
           "difficulty": "easy (0.2), medium (0.5), hard (0.8), or 0-1 (preset fer2013: 1)",
           "seed": Option.seed("generator seed (0)"),
           "imbalance": "none or fer2013 (its class proportions in every split, disgust rare)",
           "label_noise": Option.real("fraction of labels replaced at random, in every split (preset fer2013: 0.1)",
                                      0, 1)}
PARAMS = ("eye_open", "brow_raise", "brow_tilt", "mouth_curve", "mouth_open", "mouth_width", "asym", "wrinkle",
          "cheek")
NEUTRAL = dict(eye_open=1.0, brow_raise=0.0, brow_tilt=0.0, mouth_curve=0.0, mouth_open=0.0, mouth_width=0.25,
               asym=0.0, wrinkle=0.0, cheek=0.0)
PROTOTYPES = {
    "angry": dict(eye_open=0.55, brow_raise=-0.07, brow_tilt=0.13, mouth_curve=-0.05, mouth_width=0.2, wrinkle=0.3),
    "disgust": dict(eye_open=0.65, brow_raise=-0.04, brow_tilt=0.05, mouth_curve=-0.08, mouth_open=0.04, asym=0.1,
                    wrinkle=1.0),
    "fear": dict(eye_open=1.6, brow_raise=0.09, brow_tilt=-0.09, mouth_curve=-0.05, mouth_open=0.1,
                 mouth_width=0.33),
    "happy": dict(eye_open=0.7, brow_raise=0.01, mouth_curve=0.18, mouth_open=0.06, mouth_width=0.34, cheek=1.0),
    "sad": dict(eye_open=0.65, brow_raise=0.03, brow_tilt=-0.12, mouth_curve=-0.15, mouth_width=0.24),
    "surprise": dict(eye_open=1.7, brow_raise=0.14, brow_tilt=-0.02, mouth_open=0.24, mouth_width=0.17),
    "neutral": {},
}
_GRID = (np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) + 0.5) / (SIDE / 2) - 1  # y, x in [-1, 1]


def _soft(distance, edge: float = 0.035):
    """Coverage of a shape from its signed distance: 1 inside, 0 outside, a linear edge between."""
    return np.clip(0.5 - distance / edge, 0.0, 1.0)


def _ellipse(u, v, cx, cy, a, b):
    """Approximate signed distance to an axis-aligned ellipse (negative inside)."""
    return (np.sqrt(((u - cx) / a) ** 2 + ((v - cy) / b) ** 2) - 1.0) * np.minimum(a, b)


def _segment(u, v, x0, y0, x1, y1):
    """Distance to the segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0.0, 1.0)
    return np.sqrt((u - x0 - t * dx) ** 2 + (v - y0 - t * dy) ** 2)


def _paint(image, coverage, tone):
    image += coverage * (tone - image)


def _col(values):
    """(N,) -> (N, 1, 1) so per-image parameters broadcast over the pixel grid."""
    return np.asarray(values, np.float32)[:, None, None]


def sample_parameters(labels: np.ndarray, difficulty: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(labels)
    lo = 0.75 - 0.5 * difficulty  # weakest expression intensity: lower is subtler, harder
    intensity = rng.uniform(lo, 1.0, n)
    jitter = 0.1 + 0.4 * difficulty  # person-to-person variation of the same expression
    scales = dict(eye_open=0.25, brow_raise=0.03, brow_tilt=0.03, mouth_curve=0.035, mouth_open=0.03,
                  mouth_width=0.03, asym=0.02, wrinkle=0.25, cheek=0.25)
    p = {}
    for name in PARAMS:
        proto = np.array([PROTOTYPES[c].get(name, NEUTRAL[name]) for c in CLASS_NAMES])[labels]
        value = NEUTRAL[name] + intensity * (proto - NEUTRAL[name]) + rng.normal(0, scales[name] * jitter, n)
        p[name] = value
    p["eye_open"] = np.clip(p["eye_open"], 0.25, 2.0)
    p["mouth_open"] = np.clip(p["mouth_open"], 0.0, 0.3)
    p["mouth_width"] = np.clip(p["mouth_width"], 0.12, 0.38)
    p["wrinkle"] = np.clip(p["wrinkle"], 0.0, 1.2)
    p["cheek"] = np.clip(p["cheek"], 0.0, 1.2)
    # identity
    p.update(
        face_a=rng.uniform(0.56, 0.72, n), face_b=rng.uniform(0.76, 0.92, n), skin=rng.uniform(0.35, 0.85, n),
        hair=rng.uniform(0.03, 0.45, n), hairline=rng.uniform(-0.78, -0.5, n), eye_x=rng.uniform(0.23, 0.31, n),
        eye_y=rng.uniform(-0.17, -0.07, n), mouth_y=rng.uniform(0.36, 0.5, n), background=rng.uniform(0, 1, n),
        background_slope=rng.uniform(-0.3, 0.3, n),
    )
    # pose, light, camera
    crop = rng.random(n) < 0.04 + 0.08 * difficulty
    shift = np.where(crop, 0.32, 0.05 + 0.05 * difficulty)
    p.update(
        angle=rng.normal(0, np.deg2rad(3 + 8 * difficulty), n), shift_x=rng.normal(0, 1, n) * shift,
        shift_y=rng.normal(0, 1, n) * shift * 0.7, scale=rng.uniform(0.85, 1.12, n),
        light=rng.uniform(0, 0.2 + 0.5 * difficulty, n), light_dir=rng.uniform(0, 2 * np.pi, n),
        blur=rng.random(n) < 0.05 + 0.2 * difficulty, noise=rng.uniform(0.0, 0.02 + 0.05 * difficulty, n),
        hand=rng.random(n) < 0.02 + 0.1 * difficulty, glasses=rng.random(n) < 0.04 + 0.12 * difficulty,
        dark_glasses=rng.random(n) < 0.3, hand_x=rng.uniform(-0.5, 0.5, n), hand_y=rng.uniform(0.2, 0.7, n),
        hand_r=rng.uniform(0.2, 0.35, n),
    )
    return p


def render(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Faces from parameters: float32 ``[N, 48, 48]`` in about [0, 1], and each image's noise level."""
    Y, X = _GRID[0][None], _GRID[1][None]
    c = {k: _col(v) for k, v in p.items()}
    cos, sin = np.cos(c["angle"]), np.sin(c["angle"])
    u = (cos * (X - c["shift_x"]) + sin * (Y - c["shift_y"])) / c["scale"]
    v = (-sin * (X - c["shift_x"]) + cos * (Y - c["shift_y"])) / c["scale"]

    image = np.clip(c["background"] + c["background_slope"] * Y, 0, 1).astype(np.float32)
    face = _soft(_ellipse(u, v, 0.0, 0.05, c["face_a"], c["face_b"]))
    _paint(image, face, c["skin"])
    _paint(image, face * np.clip((c["hairline"] - v) / 0.06, 0, 1), c["hair"])
    au = np.abs(u)  # left and right features are drawn once, mirrored
    # cheek folds (happy) and nose wrinkles (disgust), drawn under the features
    fold = _segment(au, v, 0.13, 0.2, 0.27, c["mouth_y"] + 0.02)
    _paint(image, _soft(fold - 0.012) * np.clip(c["cheek"], 0, 1) * 0.6, c["skin"] * 0.55)
    wrinkle = _segment(au, v, 0.05, 0.02, 0.13, 0.1)
    _paint(image, _soft(wrinkle - 0.01) * np.clip(c["wrinkle"], 0, 1) * 0.7, c["skin"] * 0.5)
    # eyes: white, then pupil, clipped to the opening
    eye_h = 0.06 * c["eye_open"]
    eye = _soft(_ellipse(au, v, c["eye_x"], c["eye_y"], 0.11, eye_h), 0.03)
    _paint(image, eye, np.float32(0.92))
    pupil = _soft(_ellipse(au, v, c["eye_x"], c["eye_y"], 0.04, 0.04), 0.03) * eye
    _paint(image, pupil, np.float32(0.08))
    # brows: tilt lowers the inner end and lifts the outer one
    brow_y = c["eye_y"] - 0.13 - c["brow_raise"] - 0.03 * (c["eye_open"] - 1)
    brow = _segment(au, v, c["eye_x"] - 0.12, brow_y + c["brow_tilt"], c["eye_x"] + 0.12, brow_y - c["brow_tilt"])
    _paint(image, _soft(brow - 0.032), c["hair"] * 0.8)
    # nose
    _paint(image, _soft(_segment(u, v, 0.0, -0.02, 0.0, 0.2) - 0.01) * 0.35, c["skin"] * 0.6)
    _paint(image, _soft(_ellipse(au, v, 0.055, 0.23, 0.025, 0.018), 0.02), c["skin"] * 0.35)
    # mouth: a curve (corners up when mouth_curve > 0), opened below it, lips along it
    w = c["mouth_width"]
    t = np.clip(u / w, -1, 1)
    inside = _soft(np.abs(u) - w, 0.03)
    upper = c["mouth_y"] - c["mouth_curve"] * (t * t - 0.4) + c["asym"] * t
    lower = upper + c["mouth_open"] * (1 - t * t) * (1 + 0.6 * (w < 0.2))
    opening = inside * _soft(upper - v, 0.02) * _soft(v - lower, 0.02)
    _paint(image, opening, np.float32(0.1))
    lips = inside * _soft(np.abs(v - upper) - 0.018, 0.025)
    _paint(image, lips, c["skin"] * 0.45)
    # occluders, drawn only on the images that have them: a hand, glasses
    if (k := np.flatnonzero(p["hand"])).size:
        hand = _soft(_ellipse(u[k], v[k], c["hand_x"][k], c["hand_y"][k], c["hand_r"][k], c["hand_r"][k] * 0.8))
        image[k] += hand * (np.clip(c["skin"][k] * 1.1, 0, 1) - image[k])
    if (k := np.flatnonzero(p["glasses"])).size:
        ring = _ellipse(au[k], v[k], c["eye_x"][k], c["eye_y"][k], 0.14, 0.1)
        bridge = _segment(u[k], v[k], -0.12, c["eye_y"][k], 0.12, c["eye_y"][k])
        part = image[k]
        _paint(part, np.maximum(_soft(np.abs(ring) - 0.015), _soft(bridge - 0.012)), np.float32(0.05))
        _paint(part, _soft(ring) * c["dark_glasses"][k] * 0.85, np.float32(0.1))
        image[k] = part
    # light, blur
    image *= 1 + c["light"] * (np.cos(c["light_dir"]) * X + np.sin(c["light_dir"]) * Y)
    if (k := np.flatnonzero(p["blur"])).size:
        sharp = image[k]
        blurred = sharp.copy()
        blurred[:, 1:-1, 1:-1] = sum(sharp[:, 1 + dy: SIDE - 1 + dy, 1 + dx: SIDE - 1 + dx]
                                     for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
        image[k] = blurred
    return image, c["noise"]


def one_feature_faces(n: int, decided_by: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of two classes told apart by one feature, for checking explanations: ``mouth`` (class 1 has
    it open) or ``eyes`` (class 1 has them wide); the other feature varies at random, identity and pose
    vary, lighting is fixed. float32 pixels ``[n, 48, 48, 1]`` in 0-255, and the labels."""
    if decided_by not in ("mouth", "eyes"):
        raise ValueError(f"decided_by must be 'mouth' or 'eyes', got {decided_by!r}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    p = sample_parameters(np.full(n, CLASS_NAMES.index("neutral")), 0.0, rng)
    for k in ("hand", "glasses", "blur"):
        p[k][:] = False
    p.update(skin=np.full(n, 0.65), background=np.full(n, 0.25), background_slope=np.zeros(n), light=np.zeros(n),
             mouth_width=np.full(n, 0.25))
    wide = rng.uniform(0.5, 1.7, n), rng.uniform(0.0, 0.22, n)  # eye opening, mouth opening at random
    p["eye_open"] = np.where(labels == 1, 1.7, 0.5) if decided_by == "eyes" else wide[0]
    p["mouth_open"] = np.where(labels == 1, 0.22, 0.0) if decided_by == "mouth" else wide[1]
    images, _ = render(p)
    return (np.clip(images, 0, 1) * 255).astype(np.float32)[..., None], labels


def generate(n: int, seed: int, difficulty: float = 0.5, imbalance: str = "none", label_noise: float = 0.0):
    """``(x uint8 [n,48,48,1], y int64 [n])``, the same bytes for the same arguments."""
    rng = np.random.default_rng(seed)
    if imbalance == "fer2013":
        labels = rng.choice(len(CLASS_NAMES), n, p=FER2013_COUNTS / FER2013_COUNTS.sum())
    elif imbalance == "none":
        labels = rng.permutation(np.arange(n) % len(CLASS_NAMES))
    else:
        raise FerZooError(f"synthetic: imbalance must be none or fer2013, got {imbalance!r}")
    out = np.empty((n, SIDE, SIDE, 1), np.uint8)

    def draw(start: int) -> None:  # each block its own seed: the same bytes however blocks are scheduled
        stop = min(n, start + BLOCK)
        block_rng = np.random.default_rng([seed, start])
        image, noise = render(sample_parameters(labels[start:stop], difficulty, block_rng))
        image += block_rng.standard_normal(image.shape, np.float32) * noise
        out[start:stop, ..., 0] = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)

    # numpy releases the GIL in its loops, so threads use every core
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(draw, range(0, n, BLOCK)))
    if label_noise > 0:
        flip = rng.random(n) < label_noise
        labels = np.where(flip, rng.integers(0, len(CLASS_NAMES), n), labels)
    return out, labels.astype(np.int64)


def _options(options: dict[str, str]):
    options = dict(options)
    preset = options.pop("preset", "fer2013")
    if preset not in PRESETS:
        raise FerZooError(f"synthetic: preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    options = {**PRESETS[preset], **options}
    size = declared_option(options, OPTIONS, "size", 6000)
    level = options.pop("difficulty", "medium")
    if level in DIFFICULTY:
        difficulty = DIFFICULTY[level]
    else:
        try:
            difficulty = values.real(level, "synthetic: difficulty", 0, 1)
        except FerZooError:
            raise FerZooError(f"synthetic: difficulty must be easy, medium, hard or a number in [0, 1], "
                              f"got {level!r}") from None
    seed = declared_option(options, OPTIONS, "seed", 0)
    imbalance = options.pop("imbalance", "none")
    label_noise = declared_option(options, OPTIONS, "label_noise", 0.0)
    reject_unknown("synthetic", options)
    return size, difficulty, seed, imbalance, label_noise


def _describe(size: int, difficulty: float, seed: int, imbalance: str, label_noise: float) -> str:
    """The options as a user would write them: the preset they match, then what differs from it."""
    values = {"size": str(size), "seed": str(seed)}
    ours = {"difficulty": f"{difficulty:g}", "imbalance": imbalance, "label_noise": f"{label_noise:g}"}

    def differences(preset: str) -> dict[str, str]:
        _, d, _, i, n = _options({"preset": preset})
        theirs = {"difficulty": f"{d:g}", "imbalance": i, "label_noise": f"{n:g}"}
        return {k: v for k, v in ours.items() if theirs[k] != v}

    preset = min(PRESETS, key=lambda name: len(differences(name)))
    return ",".join(f"{k}={v}" for k, v in {"preset": preset, **values, **differences(preset)}.items())


def load(options: dict[str, str]) -> Dataset:
    size, difficulty, seed, imbalance, label_noise = _options(options)
    held_out = max(7, size // 6)
    splits = {}
    # each split its own seed stream: val and test never depend on the train size
    for offset, (name, n) in enumerate((("train", size), ("val", held_out), ("test", held_out))):
        splits[name] = Split(*generate(n, seed * 3 + offset, difficulty, imbalance, label_noise))
    name = f"synthetic:{_describe(size, difficulty, seed, imbalance, label_noise)}"
    return Dataset(name, CLASS_NAMES, splits,
                   notes=["synthetic faces: accuracies on this set are not FER2013 accuracies"])


def fingerprint(options: dict[str, str]) -> str:
    size, difficulty, seed, imbalance, label_noise = _options(options)
    return cache.fingerprint("synthetic", [str(GENERATOR_VERSION)],
                             dict(size=size, difficulty=difficulty, seed=seed, imbalance=imbalance,
                                  label_noise=label_noise))


@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(
        name="synthetic",
        load=load,
        fingerprint=fingerprint,
        description="Procedural 48x48 faces whose expression is carried by geometry, shaped like FER2013 "
                    "(the offline default)",
        options=OPTIONS,
    ))
