"""Prefect flows of the annual cycle: thin shells that load, call the pure core, and store."""

import bihuan  # noqa: F401  (sets Prefect's offline settings before prefect is imported)
