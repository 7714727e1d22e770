"""`python -m aito` is the `aito` command."""

from aito.cli.main import main

main()
