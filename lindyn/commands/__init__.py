"""Subcommands of the `lindyn` command line, one module each (`register(subparsers)`)."""
