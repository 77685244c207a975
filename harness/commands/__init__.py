"""One module per ``memharness`` subcommand: ``NAME``, ``HELP``, ``add_arguments``, ``run``."""
