"""Storage for SQL tables: row encoding, sorted column leaves, tables and indexes.

Nothing here knows SQL: the planner and executor in alchemy.sql use these structures.
"""
