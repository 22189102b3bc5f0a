"""The example plugin's own tests: what every plugin author runs."""

import fer_zoo
from fer_zoo.testing import check_architecture
from fer_zoo_mini_xception import ARCHITECTURE


def test_conforms_to_the_plugin_contract():
    check_architecture(ARCHITECTURE)


def test_installed_plugin_is_registered_through_its_entry_point():
    arch = fer_zoo.get_architecture("mini_xception")
    assert arch.plugin.distribution == "fer-zoo-mini-xception"
    assert arch.normalization == (2 / 255, -1.0)
