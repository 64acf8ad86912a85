"""One module per `halo` subcommand group, thin: parse options (shared ones declared once in options.py), build
core objects, run, print.
"""
