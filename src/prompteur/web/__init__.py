"""The web viewer (``prompteur view``) and the team server (``prompteur serve``): one
application over the store's own queries."""
