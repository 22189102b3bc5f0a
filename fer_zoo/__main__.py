"""`python -m fer_zoo` is `fer-zoo` (for an interpreter whose scripts folder is not on PATH)."""

from fer_zoo.cli import main

main()
