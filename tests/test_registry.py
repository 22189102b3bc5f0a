"""Architecture metadata is validated where it is made; lookups filter like timm's list_models."""

from __future__ import annotations

import pytest

from fer_zoo import Architecture, FerZooError
from fer_zoo.plugins.registry import Registry, filter_names


def arch(**changes) -> Architecture:
    fields = dict(name="net", build=lambda shape, n: None, input_shape=(48, 48, 1), description="a net")
    return Architecture(**{**fields, **changes})


def test_defaults_and_normalisation_of_plain_data():
    a = arch(input_shape=[64, 64, 3], normalization=[2 / 255, -1], reported={"val": 0.5})
    assert a.input_shape == (64, 64, 3)
    assert a.normalization == (2 / 255, -1.0)
    assert arch().normalization == (1 / 255, 0.0)
    assert a.describe()["reported"] == {"val": 0.5}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "UPPER"}, "architecture name 'UPPER' is invalid"),
        ({"name": "-dash-first"}, "is invalid"),
        ({"build": "not callable"}, "build must be callable"),
        ({"input_shape": (48, 48, 0)}, "input_shape must be"),
        ({"input_shape": (48.0, 48, 1)}, "input_shape must be"),
        ({"description": "two\nlines"}, "description must be one line"),
        ({"params": 1.5}, "params must be a non-negative int"),
        ({"macs": True}, "macs must be a non-negative int"),
        ({"reported": {"valid": 0.5}}, "reported key 'valid' is not one of"),
        ({"reported": {"val": 67.0}}, "must be a fraction in [0, 1]"),
        ({"reported": [0.5]}, "reported must be a mapping"),
        ({"normalization": (1 / 255,)}, "normalization must be (scale, offset)"),
        ({"normalization": (float("nan"), 0)}, "finite non-zero scale"),
        ({"weights": 42}, "weights must be None, a file path or a callable"),
        ({"recipe": 3}, "recipe must be a string"),
    ],
)
def test_invalid_metadata_names_the_field(changes, message):
    with pytest.raises(FerZooError) as excinfo:
        arch(**changes)
    assert message in str(excinfo.value)


def test_weights_are_a_local_file(tmp_path):
    shipped = tmp_path / "net.weights.h5"
    shipped.write_bytes(b"x")
    assert arch(weights=shipped).weights_path() == shipped
    assert arch(weights=lambda: str(shipped)).weights_path() == shipped
    assert arch().weights_path() is None
    with pytest.raises(FerZooError, match="does not exist"):
        arch(weights=tmp_path / "missing.h5").weights_path()


def test_filter_names_include_and_exclude():
    names = ["vgg16_48", "vgg11", "custom", "lenet"]
    assert filter_names(names) == ["custom", "lenet", "vgg11", "vgg16_48"]
    assert filter_names(names, ["vgg*"]) == ["vgg11", "vgg16_48"]
    assert filter_names(names, ["vgg*", "c*"], ["*48"]) == ["custom", "vgg11"]


def test_unknown_name_without_close_match_points_at_list():
    with pytest.raises(FerZooError, match="`fer-zoo list` shows the available ones"):
        Registry([arch()]).get("zzz")


# --- every pluggable kind through the one registry ------------------------------------------------------
# One row per kind in fer_zoo.plugins.KINDS: a built-in name, and an item of that kind a plugin registers.
# A kind missing here fails test_every_kind_is_covered, so a new kind gets the same contract.

def _contract_items():
    from fer_zoo import DatasetSource, FaceDetector, Recipe

    return {
        "architecture": ("lenet", arch(name="zz-contract")),
        "dataset": ("synthetic", DatasetSource(name="zz-contract", load=lambda options: None, description="x",
                                               options={"size": "how many"})),
        "detector": ("haar", FaceDetector(name="zz-contract", build=lambda: None, description="x",
                                          options={"size": "how big"})),
        "recipe": ("seed", Recipe("zz-contract", "sgd", 0.1, 8, 2, description="x")),
    }


def _kinds():
    from fer_zoo import plugins

    return [pytest.param(kind, id=kind.name) for kind in plugins.KINDS]


COMMON_KEYS = {"name", "description", "plugin", "plugin_version", "entry_point"}


def test_every_kind_is_covered():
    from fer_zoo import plugins

    assert {kind.name for kind in plugins.KINDS} == set(_contract_items())


@pytest.fixture
def contract_plugin():
    """A plugin registering one ``zz-contract`` item of every kind, through the hooks third parties use."""
    from fer_zoo import plugins

    from fer_zoo import hookimpl

    items = _contract_items()
    hooks = {kind.hook: staticmethod(hookimpl(lambda register, _item=items[kind.name][1]: register(_item)))
             for kind in plugins.KINDS}
    plugins.register(type("ContractPlugin", (), hooks), "contract-plugin")
    yield
    plugins.unregister("contract-plugin")


@pytest.mark.parametrize("kind", _kinds())
def test_registry_contract(kind, contract_plugin):
    """Lookup, did-you-mean, describe() and pattern listing behave the same for every kind."""
    from fer_zoo import plugins

    loaded = plugins.current()
    assert not [w for w in loaded.warnings if "contract-plugin" in w]
    registry = getattr(loaded, kind.plural)
    builtin, _ = _contract_items()[kind.name]
    assert isinstance(registry, Registry)

    item = registry.get("zz-contract")  # what the plugin registered, stamped with where it came from
    assert item is registry["zz-contract"] and item.plugin.distribution == "contract-plugin"
    assert "zz-contract" in getattr(loaded.plugins[-1], kind.plural)
    with pytest.raises(FerZooError, match=f"unknown {kind.name} 'zz-contrat'; did you mean zz-contract"):
        registry.get("zz-contrat")
    with pytest.raises(FerZooError) as excinfo:
        registry.get("qqqqqqqq")
    assert str(excinfo.value) == f"unknown {kind.name} 'qqqqqqqq'; {kind.listing}"

    described = item.describe()
    assert COMMON_KEYS <= set(described) and described["name"] == "zz-contract"
    assert described["plugin"] == "contract-plugin" and described["plugin_version"] == "local"
    assert registry.describe(["zz-*"]) == [described]
    assert registry.names(["zz-*", builtin]) == sorted([builtin, "zz-contract"])
    assert registry.names(["*"], ["zz-*"]) == sorted(n for n in registry if n != "zz-contract")
    assert builtin in registry.names() and COMMON_KEYS <= set(registry.get(builtin).describe())
    with pytest.raises(FerZooError, match=rf"no {kind.name} matches nosuch\* --exclude x \(installed: "):
        registry.select(["nosuch*"], ["x"])


def test_a_name_two_plugins_claim_is_unavailable_by_kind():
    dataset = _contract_items()["dataset"][1]
    registry = Registry([], "dataset", "`fer-zoo datasets` lists the sources", {dataset.name: "claimed by both"})
    with pytest.raises(FerZooError, match="dataset 'zz-contract' is unavailable: claimed by both"):
        registry.get("zz-contract")


@pytest.mark.parametrize("command, plural", [("list", "architectures"), ("datasets", "datasets"),
                                             ("detectors", "detectors")])
def test_listing_commands_print_describe(cli, command, plural):
    """The CLI's listings are the registry's describe(), in --json and in the table."""
    import json

    from fer_zoo import plugins

    expected = getattr(plugins.current(), plural).describe()
    result = cli(command, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == expected
    table = cli(command)
    assert table.exit_code == 0
    for entry in expected:
        assert entry["name"] in table.stdout


# --- NAME:key=value specs: one parser for --data and --detector -------------------------------------------

def _data(spec: str):
    from fer_zoo.data import parse_spec

    return parse_spec(spec)


def _detector(spec: str):
    from fer_zoo import plugins
    from fer_zoo.inference.detectors import parse

    detector, options = parse(spec, plugins.current().detectors)
    return detector.name, options


# (parse, a typed integer option, its lowest value, a typed float option, the flag)
SPECS = {"data": (_data, "synthetic", "size", 7, "label_noise", "--data"),
         "detector": (_detector, "haar", "min_size", 1, "scale_factor", "--detector")}


@pytest.mark.parametrize("which", list(SPECS))
@pytest.mark.parametrize("case, rest, message", [
    ("out-of-range", "{int}={low_minus}", "option {int} must be an integer in [{low}, "),
    ("wrong-type", "{int}=abc", "option {int} must be an integer in [{low}, "),
    ("fraction-for-integer", "{int}=9.5", "option {int} must be an integer in [{low}, "),
    ("not-finite", "{float}=nan", "option {float} must be a finite number in ["),
    ("unknown-key", "colour=1", "{name} has no option 'colour' (its options: "),
    ("duplicate-key", "{int}=30,{int}=40", "option '{int}' is given twice ('30' and '40')"),
    ("empty-value", "{int}=", "option '{int}' has no value"),
    ("no-equals", "{int}", "expected key=value, got '{int}'"),
])
def test_spec_parser_refuses(which, case, rest, message):
    parse, name, int_key, low, float_key, flag = SPECS[which]
    fill = dict(int=int_key, low=low, low_minus=low - 1, float=float_key, name=name)
    spec = f"{name}:{rest.format(**fill)}"
    with pytest.raises(FerZooError) as excinfo:
        parse(spec)
    text = str(excinfo.value)
    assert text.startswith(f"{flag} {spec!r}: ") and message.format(**fill) in text, text


@pytest.mark.parametrize("which", list(SPECS))
def test_spec_parser_passes_text_on(which):
    """Typed options are checked, and still arrive as the text written (the plugin contract)."""
    parse, name, int_key, low, float_key, _ = SPECS[which]
    given = {int_key: "30", float_key: "1.5" if which == "detector" else "0.5"}
    assert parse(f"{name}: {int_key} = 30 ,{float_key}={given[float_key]},") == (name, given)
    assert parse(name) == (name, {})
