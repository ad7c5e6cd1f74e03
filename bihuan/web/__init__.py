"""The web portal (门户) and REST API: FastAPI adapters over the use cases (docs/web.md)."""
