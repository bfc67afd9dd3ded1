"""Shipped weights of qgac, installed as the package `qgac_cli.shipped`."""
