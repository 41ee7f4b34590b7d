"""The PostgreSQL add-on: a database and least-privilege roles per app, managed or external."""
