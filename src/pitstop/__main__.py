"""`python -m pitstop` is the `pitstop` command."""

from pitstop.cli import main

main()
