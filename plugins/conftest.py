"""The built-in plugins' tests run in fer-zoo's suite: like its own tests, they never write to the user's cache."""

from tests.conftest import no_user_cache  # noqa: F401  (a session fixture, used automatically)
