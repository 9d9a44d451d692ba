"""The engine store: datasteward's own database (SQLite or PostgreSQL)."""
