"""One module per `halo` subcommand group. Thin: parse options, build core objects, run."""
