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
