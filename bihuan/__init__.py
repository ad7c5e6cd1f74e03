"""bihuan (闭环): runs a department-performance supervision cycle as closed loops."""

from bihuan.runtime import configure_offline_prefect

configure_offline_prefect()

__version__ = "0.1.0"
