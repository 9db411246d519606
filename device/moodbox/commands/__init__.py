"""CLI subcommands. Each module has HELP, add_arguments(parser) and main(args) -> exit status.

Modules import their heavy dependencies inside main(), so `moodbox --help` stays fast.
"""
