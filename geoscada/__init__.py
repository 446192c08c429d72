"""The ``geoscada`` command line: one subcommand per service, dispatched lazily."""
