"""Plugins arrive through real entry points; each kind of broken plugin is contained."""

from __future__ import annotations

import json
import signal

import pytest

import fer_zoo
from fer_zoo import plugins

SEED = ["alexnet48", "custom", "lenet", "vgg16_48"]


def stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def listed(result) -> dict[str, dict]:
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def builtin(rows: dict[str, dict]) -> list[str]:
    """The seed architectures among what is listed (an installed example plugin may add more)."""
    return sorted(name for name, row in rows.items() if row["plugin"] == "fer-zoo")


def test_seed_architectures_come_from_their_entry_points(cli):
    rows = listed(cli("list", "--json"))
    assert builtin(rows) == SEED
    for name in SEED:
        assert rows[name]["plugin"] == "fer-zoo"
        assert rows[name]["plugin_version"] == fer_zoo.__version__
        assert rows[name]["entry_point"] == name
        assert rows[name]["input_shape"] == [48, 48, 1]


@pytest.mark.parametrize("command", ["list", "plugins", "recipes", "datasets", "detectors"])
def test_catalogue_commands_fit_80_columns_with_no_cell_cut(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")  # obeyed in a pipe too, as in a terminal that wide
    result = cli(command)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "…" not in result.stdout


def test_list_filters_like_timm(cli):
    assert list(listed(cli("list", "vgg16*", "--json"))) == ["vgg16_48"]
    assert list(listed(cli("list", "vgg16*", "alex*", "--json"))) == ["alexnet48", "vgg16_48"]
    assert sorted(listed(cli("list", "*net4*", "--exclude", "lenet", "--json"))) == ["alexnet48"]
    assert fer_zoo.list_architectures("*48") == ["alexnet48", "vgg16_48"]
    every = fer_zoo.list_architectures()
    assert fer_zoo.list_architectures(exclude=["*48", "mini*"]) == [n for n in every if n not in
                                                                   ("alexnet48", "vgg16_48", "mini_xception")]


def test_list_table_shows_plugin_params_weights_pixels_and_reported_accuracy(cli):
    result = cli("list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    custom_row = next(line for line in lines if line.startswith("custom "))
    assert custom_row.split() == ["custom", "fer-zoo", "2.14M", "52.5M", "48×48×1", "x/255", "—", "67.0/—"]
    if "mini_xception" in fer_zoo.list_architectures():  # the example plugin ships weights and normalises to ±1
        mini = next(line for line in lines if line.startswith("mini_xception "))
        assert mini.split()[5:7] == ["2x/255-1", "✓"]
    shipping = json.loads(cli("list", "--pretrained", "--json").stdout)
    assert all(row["has_weights"] for row in shipping)
    assert "custom" not in {row["name"] for row in shipping}


def test_third_party_plugin_is_listed_with_its_distribution(cli, install_plugin, tiny_plugin_source):
    install_plugin("acme-fer", tiny_plugin_source("tiny"), version="2.3.1")
    rows = listed(cli("list", "--json"))
    assert rows["tiny"]["plugin"] == "acme-fer"
    assert rows["tiny"]["plugin_version"] == "2.3.1"
    assert set(SEED) < set(rows)
    info = json.loads(cli("info", "tiny", "--json").stdout)
    assert (info["total_params"], info["macs"]) == (75, 19_072)


def test_plugin_that_fails_to_import(cli, install_plugin):
    install_plugin("broken-import", "import fer_zoo\nimport no_such_module_anywhere\n")
    result = cli("list", "--json")
    assert builtin(listed(result)) == SEED
    [warning] = stderr_lines(result)
    assert "broken-import" in warning and "ModuleNotFoundError" in warning and "no_such_module_anywhere" in warning
    [row] = [p for p in json.loads(cli("plugins", "--json").stdout) if p["distribution"] == "broken-import"]
    assert row["status"] == "error" and "import failed" in row["error"]


def test_plugin_whose_hook_raises_contributes_nothing(cli, install_plugin, tiny_plugin_source):
    source = tiny_plugin_source("half").replace(
        "\n    ))\n", "\n    ))\n    raise RuntimeError('database unreachable')\n"
    )
    assert "database unreachable" in source
    install_plugin("raising-hook", source)
    result = cli("list", "--json")
    assert "half" not in listed(result)
    [warning] = stderr_lines(result)
    assert "raising-hook" in warning and "RuntimeError: database unreachable" in warning


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "'Bad Name'", "architecture name 'Bad Name' is invalid"),
        ("input_shape", "(48, 48)", "input_shape must be (height, width, channels)"),
        ("reported", "{'val': 67}", "reported['val'] must be a fraction"),
        ("params", "-5", "params must be a non-negative int"),
        ("normalization", "(0, 1)", "normalization needs a finite non-zero scale"),
    ],
)
def test_plugin_with_invalid_metadata(cli, install_plugin, field, value, message):
    fields = {"name": "'oops'", "build": "lambda shape, n: None", "input_shape": "(48, 48, 1)",
              "description": "'x'", field: value}
    arguments = ", ".join(f"{k}={v}" for k, v in fields.items())
    install_plugin("bad-metadata", f"""
import fer_zoo
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture({arguments}))
""")
    result = cli("list", "--json")
    assert builtin(listed(result)) == SEED
    [warning] = stderr_lines(result)
    assert "bad-metadata" in warning and message in warning


def test_register_rejects_what_is_not_an_architecture(cli, install_plugin):
    install_plugin("wrong-type", """
import fer_zoo
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register({"name": "dict-net"})
""")
    [warning] = stderr_lines(cli("list"))
    assert "wrong-type" in warning and "expects a fer_zoo.Architecture, got dict" in warning


def test_build_that_raises_is_reported_where_models_are_built(cli, install_plugin):
    install_plugin("bad-build", """
import fer_zoo
def build(input_shape, num_classes):
    raise ValueError("kernel too large for " + str(input_shape))
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="crashy", build=build, input_shape=(48, 48, 1), description="x"))
""")
    assert "crashy" in listed(cli("list", "--json"))
    result = cli("info", "crashy")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "fer-zoo: error: architecture 'crashy' (bad-build 1.0): build(48, 48, 1) failed: "
        "ValueError: kernel too large for (48, 48, 1)"
    ]
    with pytest.raises(fer_zoo.FerZooError, match="bad-build 1.0"):
        fer_zoo.create_model("crashy")


def test_build_with_the_wrong_output_shape(cli, install_plugin):
    install_plugin("bad-shape", """
import fer_zoo
def build(input_shape, num_classes):
    import keras
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(), keras.layers.Dense(5)])
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="five", build=build, input_shape=(8, 8, 1), description="x"))
""")
    result = cli("info", "five")
    assert result.exit_code == 2
    assert "bad-shape 1.0): build returned output shape (None, 5), expected (None, 7)" in result.stderr


def test_builtin_keeps_its_name(cli, install_plugin, tiny_plugin_source):
    install_plugin("impostor", tiny_plugin_source("custom"))
    result = cli("list", "--json")
    assert listed(result)["custom"]["plugin"] == "fer-zoo"
    [warning] = stderr_lines(result)
    assert "'custom'" in warning and f"fer-zoo {fer_zoo.__version__}" in warning and "impostor 1.0" in warning


def test_name_claimed_by_two_third_parties_is_unavailable(cli, install_plugin, tiny_plugin_source):
    install_plugin("alpha-fer", tiny_plugin_source("shared-net"))
    install_plugin("beta-fer", tiny_plugin_source("shared-net"))
    result = cli("list", "--json")
    assert "shared-net" not in listed(result)
    [warning] = stderr_lines(result)
    assert "alpha-fer 1.0" in warning and "beta-fer 1.0" in warning
    info = cli("info", "shared-net")
    assert info.exit_code == 2
    assert "unavailable" in info.stderr and "alpha-fer" in info.stderr


def test_disabling_a_distribution_resolves_the_clash(cli, install_plugin, tiny_plugin_source, monkeypatch):
    install_plugin("alpha-fer", tiny_plugin_source("shared-net"))
    install_plugin("beta-fer", tiny_plugin_source("shared-net"))
    monkeypatch.setenv(plugins.DISABLE_ENV, "Beta_Fer")
    result = cli("list", "--json")
    assert listed(result)["shared-net"]["plugin"] == "alpha-fer"
    assert stderr_lines(result) == []
    [beta] = [p for p in json.loads(cli("plugins", "--json").stdout) if p["distribution"] == "beta-fer"]
    assert beta["status"] == "disabled"


def test_strict_mode_turns_plugin_warnings_into_errors(cli, install_plugin, monkeypatch):
    install_plugin("broken-import", "import no_such_module_anywhere\n")
    monkeypatch.setenv(plugins.STRICT_ENV, "1")
    for args in (["list"], ["info", "custom"], ["plugins"]):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("fer-zoo: error: plugin broken-import 1.0")
        assert len(stderr_lines(result)) == 1
    with pytest.raises(fer_zoo.FerZooError, match="FER_ZOO_STRICT_PLUGINS"):
        fer_zoo.list_architectures()


def test_strict_mode_passes_clean_plugins(cli, monkeypatch):
    monkeypatch.setenv(plugins.STRICT_ENV, "1")
    assert builtin(listed(cli("list", "--json"))) == SEED


def test_unknown_hook_is_a_warning_naming_it(cli, install_plugin):
    install_plugin("typo-fer", """
import fer_zoo
@fer_zoo.hookimpl
def fer_zoo_register_architecture(register):
    pass
""")
    [warning] = stderr_lines(cli("list"))
    assert "typo-fer" in warning and "unknown hook(s) fer_zoo_register_architecture" in warning


def test_plugins_command_shows_hooks_versions_and_errors(cli, install_plugin, tiny_plugin_source):
    install_plugin("acme-fer", tiny_plugin_source("tiny"), version="2.0", entry_point="tiny")
    install_plugin("broken-import", "import no_such_module_anywhere\n")
    rows = {p["distribution"]: p for p in json.loads(cli("plugins", "--json").stdout)}
    assert rows["acme-fer"] == {**rows["acme-fer"], "name": "tiny", "version": "2.0", "status": "ok",
                                "hooks": ["fer_zoo_register_architectures"], "architectures": ["tiny"]}
    assert rows["broken-import"]["status"] == "error"
    table = cli("plugins").stdout
    assert "acme-fer" in table and "broken-import" in table and "error" in table


def test_in_process_registration_for_scripts_and_tests(cli, tiny_plugin_source):
    namespace: dict = {}
    exec(tiny_plugin_source("scratch"), namespace)
    plugin = type("ScratchPlugin", (), {"fer_zoo_register_architectures": staticmethod(
        namespace["fer_zoo_register_architectures"])})
    plugins.register(plugin, "scratch-plugin")
    try:
        assert fer_zoo.get_architecture("scratch").plugin.distribution == "scratch-plugin"
    finally:
        plugins.unregister("scratch-plugin")
    with pytest.raises(fer_zoo.FerZooError, match="unknown architecture 'scratch'"):
        fer_zoo.get_architecture("scratch")


# --- plugins that fight back: each is its own load error, and everything else keeps working ------------------

_HOOK = "import fer_zoo\n@fer_zoo.hookimpl\ndef fer_zoo_register_architectures(register):\n"
FIGHTING = {  # id: (module source, a fragment of the one warning naming the plugin)
    "base-exception-at-import": ("class Boom(BaseException):\n    pass\nraise Boom('not an Exception')\n",
                                 "import failed: Boom: not an Exception"),
    "generator-exit-at-import": ("raise GeneratorExit\n", "import failed: GeneratorExit"),
    "keyboard-interrupt-at-import": ("raise KeyboardInterrupt\n",
                                     "the plugin raised KeyboardInterrupt while nobody pressed Ctrl-C"),
    "api-attribute-raises": ("def __getattr__(name):\n    raise RuntimeError('no ' + name)\n",
                             "reading FER_ZOO_PLUGIN_API failed: RuntimeError: no FER_ZOO_PLUGIN_API"),
    "api-not-a-string": ("FER_ZOO_PLUGIN_API = 1.0\n", 'FER_ZOO_PLUGIN_API must be a version string like "1.0", '
                                                         "got float"),
    "exception-whose-message-raises": ("class Bad(Exception):\n    def __str__(self):\n        raise ValueError\n"
                                       "raise Bad()\n", "import failed: Bad: (its message cannot be read)"),
    "hook-raises-base-exception": (_HOOK + "    class Boom(BaseException):\n        pass\n    raise Boom('hook')\n",
                                   "fer_zoo_register_architectures failed: Boom: hook"),
    "hook-exits": (_HOOK + "    import sys\n    sys.exit(4)\n", "fer_zoo_register_architectures failed: the plugin "
                                                               "called sys.exit(4)"),
    "hook-swallows-the-refusal": (_HOOK + "    try:\n        register(42)\n    except Exception:\n        pass\n",
                                  "register() expects a fer_zoo.Architecture, got int"),
    "subclass-skips-its-checks": (
        "import fer_zoo\nclass Sly(fer_zoo.Architecture):\n    def __post_init__(self):\n        pass\n"
        "@fer_zoo.hookimpl\ndef fer_zoo_register_architectures(register):\n"
        "    register(Sly(name='Not Valid', build=None, input_shape=(1,), description='x'))\n",
        "architecture name 'Not Valid' is invalid"),
    "detector-options-not-text": (
        "import fer_zoo\n@fer_zoo.hookimpl\ndef fer_zoo_register_detectors(register):\n"
        "    register(fer_zoo.FaceDetector(name='odd', build=lambda: None, description='x', options={1: 2}))\n",
        "FaceDetector 'odd': options must map each option's name to one line of help text"),
    "dataset-description-not-text": (
        "import fer_zoo\n@fer_zoo.hookimpl\ndef fer_zoo_register_datasets(register):\n"
        "    register(fer_zoo.DatasetSource(name='odd', load=lambda o: None, description=None))\n",
        "DatasetSource 'odd': description must be one line of text, got NoneType"),
}


@pytest.mark.parametrize("kind", FIGHTING)
def test_a_plugin_that_fights_back_is_one_warning(cli, install_plugin, kind):
    source, fragment = FIGHTING[kind]
    install_plugin("rogue-fer", source)
    for command in ("list", "datasets", "detectors"):
        result = cli(command)
        assert result.exit_code == 0, (command, result.output)
        [warning] = stderr_lines(result)
        assert warning.startswith("fer-zoo: warning: plugin rogue-fer 1.0") and fragment in warning, warning
    assert builtin(listed(cli("list", "--json"))) == SEED
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    [row] = [p for p in json.loads(result.stdout) if p["distribution"] == "rogue-fer"]
    assert row["status"] == "error" and fragment in row["error"]
    assert row["architectures"] == row["detectors"] == row["datasets"] == []


def test_an_entry_point_without_a_name_is_a_load_error(cli, install_plugin, tiny_plugin_source):
    install_plugin("nameless-fer", tiny_plugin_source("nameless"), entry_point=" ")
    result = cli("list", "--json")
    assert "nameless" not in listed(result)
    [warning] = stderr_lines(result)
    assert "nameless-fer 1.0" in warning and "the entry point has no name" in warning


def test_a_plugin_that_fails_in_one_hook_contributes_nothing_of_any_kind(cli, install_plugin, tiny_plugin_source):
    install_plugin("half-fer", tiny_plugin_source("halfnet") + (
        "\n@fer_zoo.hookimpl\ndef fer_zoo_register_detectors(register):\n    raise RuntimeError('no model file')\n"))
    result = cli("list", "--json")
    assert "halfnet" not in listed(result)
    assert "fer_zoo_register_detectors failed: RuntimeError: no model file" in result.stderr


def test_the_users_ctrl_c_during_a_plugin_import_still_stops(install_plugin):
    # the signal arrives while the plugin imports: a real interrupt, not the plugin's error
    install_plugin("slow-fer", "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(2)\n")
    # Python's own Ctrl-C handler, as in a user's shell: a pytest-xdist worker ignores SIGINT
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            plugins.load()
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_plugin_slow_to_import_is_skipped_by_the_probe(cli, install_plugin, monkeypatch):
    import time

    from fer_zoo.plugins import probe as plugin_probe

    monkeypatch.setattr(plugin_probe, "PROBE_SECONDS", 0.5)
    install_plugin("sleepy-fer", "import time\ntime.sleep(60)\n")
    started = time.perf_counter()
    result = cli("list", "--json")
    assert time.perf_counter() - started < 20
    assert builtin(listed(result)) == SEED
    [warning] = stderr_lines(result)
    assert "sleepy-fer 1.0" in warning and "took more than 0.5 s to import" in warning and "skipped" in warning


def test_plugins_that_kill_the_interpreter_are_named_not_fatal(install_plugin, tmp_path):
    """A segmentation fault and os._exit() at import, and os._exit() in a hook, in a real process: each is named and
    skipped, and the verdict is cached, so the next command probes nothing (the counting plugin is imported once per command, no more)."""
    import subprocess
    import sys

    count = tmp_path / "imports.txt"
    segv = install_plugin("segv-fer", "import ctypes\nctypes.string_at(0)\n")
    exits = install_plugin("exit-fer", "import os\nos._exit(0)\n")
    hook_exits = install_plugin("hook-exit-fer", _HOOK + "    import os\n    os._exit(0)\n")
    install_plugin("counted-fer", f"with open({str(count)!r}, 'a') as f:\n    f.write('imported\\n')\n" + _HOOK
                   + "    pass\n")
    for run in (1, 2):
        done = subprocess.run([sys.executable, "-m", "fer_zoo", "list", "--json"], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert set(SEED) <= {row["name"] for row in json.loads(done.stdout)}
        warnings = [line for line in done.stderr.splitlines() if line.strip()]
        assert warnings == [
            f"fer-zoo: warning: plugin exit-fer 1.0 (entry point '{exits}'): ended the interpreter at import "
            f"(exit status 0, as os._exit() does); skipped",
            f"fer-zoo: warning: plugin hook-exit-fer 1.0 (entry point '{hook_exits}'): ended the interpreter in its "
            f"hook (exit status 0, as os._exit() does); skipped",
            f"fer-zoo: warning: plugin segv-fer 1.0 (entry point '{segv}'): crashed the interpreter at import "
            f"(signal 11, SIGSEGV); skipped"], done.stderr
        # the probe's import and this process's on the first run; only this process's on the second
        assert count.read_text().count("imported") == {1: 2, 2: 3}[run]


# The child records TF_CPP_MIN_LOG_LEVEL at the moment anything first asks for Keras or TensorFlow, and stops
# the import there: importing the entry module, then Keras, costs no TensorFlow start-up.
_LOG_LEVEL_CHILD = """
import importlib, os, sys
seen = []
class Stop(BaseException):
    pass
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("keras", "tensorflow"):
            seen.append(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
            raise Stop
sys.meta_path.insert(0, Watch())
try:
    importlib.import_module(sys.argv[1])
    import keras
except Stop:
    pass
print(seen[0])
"""


@pytest.mark.parametrize("module", ["fer_zoo", "fer_zoo.cli", "fer_zoo.benchmark.worker", "fer_zoo.plugins.probe",
                                    "fer_zoo.benchmark.ray_executor", "fer_zoo.testing"])
@pytest.mark.parametrize("given, expected", [(None, "3"), ("1", "1")])
def test_tensorflow_is_quiet_before_it_is_first_imported(module, given, expected):
    """Every entry path (the CLI, ``import fer_zoo``, a bench worker, the plugin probe's child, Ray's and the
    conformance check's children) has TF_CPP_MIN_LOG_LEVEL set before Keras loads; a user's own value wins."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if given is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = given
    done = subprocess.run([sys.executable, "-c", _LOG_LEVEL_CHILD, module], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == expected
