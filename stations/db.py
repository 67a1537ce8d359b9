"""The one way async code reaches the ORM.

Channels' `database_sync_to_async` runs the function in the thread Django's database connections live
in and cleans up broken connections around it. Handlers make at most one such call per message: each
call is a thread hop, and the event loop must never wait on the database itself.
"""

from channels.db import database_sync_to_async as in_db_thread

__all__ = ["in_db_thread"]
