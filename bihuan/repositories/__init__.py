"""Repositories: every query of the application, one module per aggregate, typed results.

A repository takes the unit of work's session and returns table objects or frozen dataclasses,
never row tuples or dicts. Only repositories (and the importer's bulk loader) build SQL.
"""
