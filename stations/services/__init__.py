"""Domain writes for stations: plain synchronous functions over the ORM.

The OCPP handlers call them through `stations.db.in_db_thread`, one call per message, each call one
database transaction: a message is answered only after its data is committed. Nothing here knows
about frames, sockets or Channels.
"""
