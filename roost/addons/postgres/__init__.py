"""The PostgreSQL add-on: servers, a database per app, backups."""
