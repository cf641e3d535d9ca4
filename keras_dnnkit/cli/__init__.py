"""The ``dnnkit`` command line: one module per sub-command, wired up in :mod:`.main`."""
