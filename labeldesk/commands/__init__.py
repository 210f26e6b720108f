"""Sub-commands of `labeldesk …` beyond the basic ones in ``labeldesk.cli``, one module per area.

Each module has ``register(command)`` where ``command(name, func, help) -> ArgumentParser`` adds a
sub-command (see ``labeldesk.cli.build_parser``). Modules import their core code lazily inside the
command functions so that ``labeldesk --help`` stays fast.
"""
AREAS = ("sharing", "review", "metrics", "interchange", "releases", "quality", "segments", "models", "desktop")
