"""Notifications: rendering (render, pure), sending (channels, the apprise adapter), the local
sink (sink, `bihuan://`) and the transactional outbox (outbox).

Importing the package imports nothing heavy; import the submodule you need.
"""
