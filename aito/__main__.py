"""`python -m aito`: the same as the `aito` command."""

from aito.cli.launching import main

main()
