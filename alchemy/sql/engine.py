"""The SQL front door: statement text in, result out, through a cache of compiled plans.

DML (SELECT, INSERT, REPLACE, UPDATE, DELETE) is lifted (alchemy.sql.scanner), looked up by
shape in an LRU cache, compiled by the planner on a miss, and run with the lifted values.
DDL and introspection (CREATE, DROP, ALTER, DESC, SHOW, EXPLAIN) are parsed each time.
Any schema change bumps a version that retires every cached plan.

A front end that knows which statements share a plan before lifting them (the same text
with new parameters, the same words with a new number at the end: alchemy.commands.sql)
keeps what `prepare` gives and runs it with `run`, skipping the text altogether.
"""

import re
from collections import OrderedDict

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from alchemy.errors import AlchemyError
from alchemy.sql import lua_calls, planner, query, triggers
from alchemy.sql.documents import document_ref
from alchemy.sql.plans import Count, DeletePlan, InsertPlan, Rows, UpdatePlan, table_of
from alchemy.sql.scanner import lift
from alchemy.sql.schema import column_type, index_type
from alchemy.storage.table import Column, Table

CACHE_SIZE = 1024
_RUN_FOR = {InsertPlan, UpdatePlan, DeletePlan}
_DML = {"SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "SCAN"}


class Ok:
    """A statement that succeeded with nothing to return (DDL)."""


OK = Ok()


class SqlEngine:
    def __init__(self):
        self.plans: OrderedDict = OrderedDict()
        # Statements as a front end receives them -> what `prepare` gave for them, kept
        # by the front end (alchemy.commands.sql) under keys that begin with schema_version.
        self.prepared: dict = {}
        # Statements' last words, by their text between runs of digits -> how they lift
        # (alchemy.commands.sql._lift_last).
        self.lifted_words: dict = {}
        self.schema_version = 0
        self.hits = self.misses = 0

    def execute(self, db, text: str, params: tuple = (), caller=None):
        """Run one statement against Keyspace db: a Rows, a Count or OK. caller, the
        Client running it, is who Lua functions and triggers run for (none: they fail)."""
        return lua_calls.statement(caller, self._execute, db, text, params)

    def prepare(self, db, text: str, params: tuple = ()) -> tuple | None:
        """The plan of a DML statement and its values (None for a multi-row INSERT): a
        caller that knows which texts share a plan keeps it (while schema_version stays)
        and runs it with `run`, skipping the text."""
        plan, lifted = self._plan(db, text, params)
        return None if lifted.rows > 1 else (plan, lifted.values)

    def run(self, db, plan, values: list, caller=None):
        """A plan from `prepare`, with values of the same statement shape. A SELECT that
        calls no Lua function needs nothing of lua_calls.statement (no caller for Lua, no
        trigger writes to take back), which cost a point SELECT 4% of its instructions."""
        if getattr(plan, "alone", False):
            return plan.run(db, values)
        if type(plan) in _RUN_FOR:  # which decide themselves
            return plan.run_for(db, values, caller)
        return lua_calls.statement(caller, plan.run, db, values)

    def _execute(self, db, text: str, params: tuple):
        verb = text.lstrip()[:8].split(None, 1)[0].upper() if text.strip() else ""
        if verb in _DML:
            return self._dml(db, text, params)
        if verb in ("DESC", "DESCRIBE"):
            return describe(db, text.split(None, 1)[1] if len(text.split()) > 1 else "")
        if verb == "SHOW":
            return self._show(db, text)
        if verb == "EXPLAIN":
            plan, _ = self._plan(db, text.lstrip()[7:], params)
            return Rows(["plan"], [[line] for line in plan.explain(db)])
        if verb in ("CREATE", "DROP", "ALTER"):
            if triggers.is_trigger_ddl(text):
                return triggers.ddl(db, text)
            return self._ddl(db, text)
        raise AlchemyError(f"ERR unknown SQL statement '{verb or text[:20]}'")

    # -- DML with the plan cache ----------------------------------------------------------

    def _dml(self, db, text: str, params: tuple):
        plan, lifted = self._plan(db, text, params)
        if lifted.rows > 1:
            return plan.run(db, lifted.values, lifted.rows)
        return plan.run(db, lifted.values)

    def _plan(self, db, text: str, params: tuple):
        if '"' in text:
            text = query.alchemydb_spelling(text)
        lifted = lift(text, params)
        key = (db.index, lifted.shape)
        cached = self.plans.get(key)
        if cached is not None and cached[0] == self.schema_version:
            self.plans.move_to_end(key)
            self.hits += 1
            return cached[1], lifted
        self.misses += 1
        plan = self._compile(db, lifted.shape)
        self.plans[key] = (self.schema_version, plan)
        if len(self.plans) > CACHE_SIZE:
            self.plans.popitem(last=False)
        return plan, lifted

    def _compile(self, db, shape: str):
        verb = shape.lstrip()[:8].split(None, 1)[0].upper()
        replace = verb == "REPLACE"
        if replace:
            shape = "INSERT" + shape.lstrip()[7:]
        elif verb == "SCAN":
            shape = "SELECT" + shape.lstrip()[4:]
        tree = parse(shape)
        if isinstance(tree, exp.Select):
            plan = query.plan_select(tree, db)
            plan.alone = tree.find(exp.Anonymous) is None  # (a Lua call: see lua_calls)
            if isinstance(plan, query.QueryPlan):
                plan.text_as_bytes()
            else:
                plan.text_as_bytes(db)
            return plan
        if isinstance(tree, exp.Insert) and isinstance(tree.expression, exp.Select):
            return query.plan_insert_select(tree, db, replace)
        if isinstance(tree, exp.Insert):
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            return planner.plan_insert(tree, table_of(db, _name(target)), replace)
        if isinstance(tree, exp.Update):
            plan = planner.plan_update(tree, table_of(db, _name(tree.this)))
        elif isinstance(tree, exp.Delete):
            plan = planner.plan_delete(tree, table_of(db, _name(tree.this)))
        else:
            raise AlchemyError(f"ERR unsupported statement: {shape[:40]}")
        plan.lua_free = tree.find(exp.Anonymous) is None  # (see plans._RunsItself)
        return plan

    # -- DDL ------------------------------------------------------------------------------

    def _ddl(self, db, text: str):
        typed = _TYPED_INDEX.fullmatch(text)  # `... (info.age) INT`, which sqlglot cannot parse
        tree = parse(typed.group(1) if typed else text)
        self.schema_version += 1
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE":
            if tree.expression is not None:
                return query.create_table_as(db, tree, create_table)
            return create_table(db, tree)
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "INDEX":
            return create_index(db, tree, index_type(typed.group(2)) if typed else None)
        if isinstance(tree, exp.Drop) and tree.args.get("kind") == "TABLE":
            return drop_tables(db, [_name(t) for t in _dropped(tree)], tree.args.get("exists"))
        if isinstance(tree, exp.Drop) and tree.args.get("kind") == "INDEX":
            return drop_index(db, _name(_dropped(tree)[0]))
        if isinstance(tree, exp.Alter):
            return alter_table(db, tree)
        raise AlchemyError(f"ERR unsupported statement: {text[:40]}")

    def _show(self, db, text: str):
        words = text.upper().split()
        if words[1:] == ["TABLES"]:
            names = sorted(t.name for t in tables(db))
            return Rows(["table"], [[n] for n in names])
        if words[1:2] == ["INDEXES"] or words[1:2] == ["INDEX"]:
            wanted = text.split()[3].lower() if len(words) == 4 and words[2] == "FROM" else None
            if len(words) not in (2, 4):
                raise AlchemyError("ERR syntax: SHOW INDEXES [FROM table]")
            rows = []
            for table in sorted(tables(db), key=lambda t: t.name):
                if wanted is not None and table.name.lower() != wanted:
                    continue
                for index in table.indexes.values():
                    rows.append([index.name, table.name, ", ".join(index.column_names),
                                 int(index.unique)])
            if wanted is not None and not any(t.name.lower() == wanted for t in tables(db)):
                raise AlchemyError(f"ERR no such table '{text.split()[3]}'")
            return Rows(["index", "table", "columns", "unique"], rows)
        if words[1:2] == ["TRIGGERS"]:
            return triggers.show(db, text)
        raise AlchemyError("ERR syntax: SHOW TABLES | SHOW INDEXES [FROM table] | "
                           "SHOW TRIGGERS [FROM table]")


def parse(text: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(text)
    except (ParseError, TokenError) as e:
        raise AlchemyError(_syntax_message(e, text)) from None
    if len(trees) != 1 or trees[0] is None:
        raise AlchemyError("ERR exactly one statement expected")
    for node in trees[0].find_all(exp.In):
        if node.args.get("field") is not None:  # `x IN 3`, read as BigQuery's IN UNNEST
            raise AlchemyError("ERR syntax error: IN takes a list or a sub-select: "
                               "x IN (1, 2), x IN (SELECT ...)")
    return trees[0]


def _syntax_message(error: Exception, text: str) -> str:
    details = getattr(error, "errors", None) or []
    if details:
        first = details[0]
        near = (first.get("highlight") or "").strip() or text[:20]
        column = first.get("col")
        where = f" at position {column}" if column else ""
        return f"ERR syntax error near '{near}'{where}: {first.get('description', '')}".rstrip(": ")
    return f"ERR syntax error: {error}"


def _name(node: exp.Expression) -> str:
    # sqlglot reads `DELETE t WHERE ...` (no FROM) as MySQL's multi-table DELETE: no table.
    if not isinstance(node, exp.Expression) or not node.name:
        raise AlchemyError("ERR syntax error: a table name is missing "
                           "(DELETE FROM t, UPDATE t SET, INSERT INTO t)")
    return node.name


_TYPED_INDEX = re.compile(r"(\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b.*\))\s*(\w+)\s*;?\s*",
                          re.IGNORECASE | re.DOTALL)


def tables(db) -> list[Table]:
    return [v for v in db.data.values() if isinstance(v, Table)]


def create_table(db, tree: exp.Create):
    schema = tree.this
    name = _name(schema.this)
    key = name.lower().encode()
    existing = db.get(key)
    if existing is not None:
        if isinstance(existing, Table) and tree.args.get("exists"):
            return OK
        if isinstance(existing, Table):
            raise AlchemyError(f"ERR table '{name}' already exists")
        raise AlchemyError(f"ERR '{name}' is already a Redis key of type "
                           f"{db.type_name(existing)}")
    columns, key_names = [], []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            columns.append(_column(item))
            if any(isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint)
                   for c in item.args.get("constraints") or []):
                key_names.append(item.name)
        elif isinstance(item, exp.PrimaryKey):
            key_names.extend(e.name for e in item.expressions)
        else:
            raise AlchemyError(f"ERR unsupported table element: {item.sql()}")
    if not columns:
        raise AlchemyError("ERR a table needs at least one column")
    lowered = [c.name.lower() for c in columns]
    if len(set(lowered)) != len(lowered):
        raise AlchemyError(f"ERR duplicate column name in table '{name}'")
    positions = []
    for key_name in key_names or [columns[0].name]:
        if key_name.lower() not in lowered:
            raise AlchemyError(f"ERR primary key column '{key_name}' is not in table '{name}'")
        positions.append(lowered.index(key_name.lower()))
        if columns[positions[-1]].type == "LUATABLE":
            raise AlchemyError(f"ERR LUATABLE column '{key_name}' cannot be a primary key")
    db.set(key, Table(name, columns, positions))
    return OK


def create_index(db, tree: exp.Create, kind: str | None = None):
    """CREATE INDEX on columns, or on one field inside a LUATABLE column, which may be
    typed (`kind` INT, FLOAT or TEXT; see alchemy.storage.table.FieldIndex)."""
    index = tree.this
    name = _name(index)
    params = index.args.get("params")
    target = index.args.get("table")
    columns = params.args.get("columns") if params is not None else None
    if target is None or not columns:
        raise AlchemyError("ERR syntax: CREATE [UNIQUE] INDEX name ON table (column, ...)")
    table = table_of(db, _name(target))
    for other in tables(db):
        if name.lower() in (n.lower() for n in other.indexes):
            if tree.args.get("exists"):
                return OK
            raise AlchemyError(f"ERR index '{name}' already exists")
    nodes = [column.this if isinstance(column, exp.Ordered) else column for column in columns]
    field = document_ref(nodes[0], planner.scope_of(table))
    if field is not None or kind is not None:
        if field is None or len(nodes) != 1:
            raise AlchemyError("ERR syntax: CREATE [UNIQUE] INDEX name ON table "
                               "(column.field) [INT | FLOAT | TEXT]")
        table.add_field_index(name, *field, kind, unique=bool(tree.args.get("unique")))
        return OK
    positions = []
    for node in nodes:
        position = table.position(node.name)
        if position is None:
            raise AlchemyError(f"ERR table '{table.name}' has no column named '{node.name}'")
        if table.columns[position].type == "LUATABLE":
            raise AlchemyError(f"ERR index a field of LUATABLE column '{node.name}' "
                               f"({node.name}.field), not the whole document")
        positions.append(position)
    table.add_index(name, positions, unique=bool(tree.args.get("unique")))
    return OK


def _dropped(tree: exp.Drop) -> list:
    return tree.args.get("tables") or [tree.this]


def drop_tables(db, names: list[str], if_exists: bool):
    keys = [name.lower().encode() for name in names]
    for name, key in zip(names, keys):
        if not isinstance(db.get(key), Table) and not if_exists:
            raise AlchemyError(f"ERR no such table '{name}'")
    for key in keys:
        if isinstance(db.get(key), Table):
            db.delete(key)
    return OK


def drop_index(db, name: str):
    for table in tables(db):
        for index_name in list(table.indexes):
            if index_name.lower() == name.lower():
                del table.indexes[index_name]
                return OK
    raise AlchemyError(f"ERR no such index '{name}'")


def alter_table(db, tree: exp.Alter):
    table = table_of(db, _name(tree.this))
    for action in tree.args.get("actions") or []:
        if not isinstance(action, exp.ColumnDef):
            raise AlchemyError("ERR only ALTER TABLE ... ADD COLUMN is supported")
        if table.position(action.name) is not None:
            raise AlchemyError(f"ERR duplicate column name '{action.name}'")
        table.add_column(_column(action))
    return OK


def _column(definition: exp.ColumnDef) -> Column:
    if definition.args.get("kind") is None:
        raise AlchemyError(f"ERR column '{definition.name}' needs a type")
    return Column(definition.name, column_type(definition.args["kind"], definition.name))


def describe(db, name: str) -> Rows:
    table = table_of(db, name.strip().strip('"`'))
    key = {table.columns[p].name for p in table.key_positions}
    rows = [[c.name, c.type, "PRIMARY KEY" if c.name in key else ""] for c in table.columns]
    memory = table.memory()
    count = len(table)
    for index in table.indexes.values():
        rows.append([f"INDEX {index.name}", ", ".join(index.column_names),
                     ("UNIQUE " if index.unique else "") + f"{memory[index.name]} bytes"])
    for trigger in table.triggers:
        rows.append([f"LUATRIGGER {trigger.name}", trigger.event, trigger.call])
    rows.append(["rows", str(count), f"{memory['rows']} bytes"])
    per_row = sum(memory.values()) / count if count else 0
    rows.append(["bytes per row", f"{per_row:.1f}", "rows and indexes"])
    return Rows(["field", "type", "info"], rows)


__all__ = ["SqlEngine", "Rows", "Count", "OK"]
