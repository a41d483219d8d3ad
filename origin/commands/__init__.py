"""Sub-commands of ``aimixer``: one module each, with ``register(subparsers)``."""
