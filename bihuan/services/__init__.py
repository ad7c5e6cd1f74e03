"""The application layer: one use case per function, one module per aggregate.

A use case takes a unit of work (bihuan.services.uow.UnitOfWork), a typed command, the acting
user (bihuan.core.access.Actor) and `as_of`; it checks the user's permission and scope first
(bihuan.services.authz.require), calls the pure core, writes through repositories, appends the
audit row in the same transaction, and returns a typed result. Flows, CLI commands and web
routes are thin adapters over these functions.
"""
