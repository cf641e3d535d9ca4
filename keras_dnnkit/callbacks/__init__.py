"""Training callbacks: diagnostics and scheduling (see the submodules)."""

__all__: list[str] = []
