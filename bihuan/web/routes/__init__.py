"""The portal's routes, one module per audience (everyone, every signed-in role, admin,
auditor, machine clients)."""
