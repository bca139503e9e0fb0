"""SQL over the keyspace: scanner, parser (sqlglot), planner, plans, engine.

The layers know only the layer below: the engine caches plans, the planner turns sqlglot
trees into plans, plans run against alchemy.storage, which knows nothing about SQL.
"""
