"""Every hook a fer-zoo plugin can implement. Implementations may accept a subset of the arguments."""

import pluggy

hookspec = pluggy.HookspecMarker("fer_zoo")
hookimpl = pluggy.HookimplMarker("fer_zoo")


@hookspec
def fer_zoo_register_architectures(register):
    """Register architectures by calling ``register(fer_zoo.Architecture(...))`` once for each."""


@hookspec
def fer_zoo_register_datasets(register):
    """Register data sources by calling ``register(fer_zoo.DatasetSource(...))`` once for each."""


@hookspec
def fer_zoo_register_detectors(register):
    """Register face detectors for `fer-zoo predict --detector` by calling
    ``register(fer_zoo.FaceDetector(...))`` once for each."""


@hookspec
def fer_zoo_register_recipes(register):
    """Register named training recipes (plain data, like presets) by calling ``register(fer_zoo.Recipe(...))``
    once for each; an architecture's ``recipe`` and ``--recipe NAME`` then name them."""
