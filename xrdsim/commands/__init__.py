"""One module per ``xrdsim`` subcommand: ``add_parser(subparsers)`` sets ``handler``."""
