"""The commands of `qgac`, one module per concern; `qgac_cli.cli` assembles them."""
