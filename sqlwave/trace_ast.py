"""The optional AST cache of a trace step: a sqlglot.serde dump, loaded through an allow-list.

`sqlglot.serde.load` imports and calls whatever class name a payload spells, so it is never called
on a trace. This loader reads the same payload shape but only ever instantiates classes found in
a fixed table of `sqlglot.expressions` classes (statement classes refused by safety.py excluded);
any other name refuses the payload. The cache is only trusted for the sqlglot version that wrote
it, and only when it regenerates the step's stored SQL exactly; the SQL stays the source of truth.
"""

from __future__ import annotations

from typing import Any, cast

import sqlglot.expressions as exp
from sqlglot import serde

from sqlwave.errors import UnsafeSqlError
from sqlwave.safety import REFUSED_NODE_TYPES

_BASE: type = getattr(exp, "Expr", None) or exp.Expression
_SCALARS = (str, int, float, bool, type(None))
MAX_NODES = 200_000


def _allowed_classes() -> dict[str, type]:
    table: dict[str, type] = {}
    for cls in vars(exp).values():
        if (isinstance(cls, type) and issubclass(cls, _BASE)
                and cls.__module__.startswith("sqlglot.expressions")
                and not issubclass(cls, REFUSED_NODE_TYPES)):
            table[f"{cls.__module__}.{cls.__qualname__}"] = cls
            table[cls.__qualname__] = cls
    return table


ALLOWED_CLASSES = _allowed_classes()


def dump_ast(expression: exp.Expr) -> list[dict[str, Any]]:
    """The serde payload of an expression (JSON-ready; source positions left out).

    >>> import sqlglot
    >>> load_ast(dump_ast(sqlglot.parse_one("SELECT a FROM t"))).sql()
    'SELECT a FROM t'
    """
    payload = serde.dump(expression)
    for node in payload:
        node.pop("m", None)
    return payload


def load_ast(payload: object) -> exp.Expr:
    """Rebuild an expression from a serde payload, instantiating allow-listed classes only.

    >>> load_ast([{"c": "os.system"}])
    Traceback (most recent call last):
    ...
    sqlwave.errors.UnsafeSqlError: AST cache refused: class 'os.system' is not ...
    """
    if not isinstance(payload, list) or not payload or len(payload) > MAX_NODES:
        raise UnsafeSqlError("AST cache refused: expected a non-empty list of serde nodes")
    nodes: list[object] = []
    for i, item in enumerate(payload):
        node = _node(item)
        if i:
            _attach(nodes, item, node)
        nodes.append(node)
    root = nodes[0]
    if not isinstance(root, _BASE):
        raise UnsafeSqlError("AST cache refused: its root is not an expression")
    return cast("exp.Expr", root)


def _node(item: object) -> object:
    if not isinstance(item, dict):
        raise UnsafeSqlError("AST cache refused: a node is not an object")
    name = item.get("c")
    if name is None:
        value = item.get("v")
        if not isinstance(value, _SCALARS):
            raise UnsafeSqlError("AST cache refused: a leaf value is not a JSON scalar")
        return value
    if name == "DataType.Type":
        try:
            return exp.DataType.Type(item.get("v"))
        except ValueError as e:
            raise UnsafeSqlError(f"AST cache refused: unknown data type {item.get('v')!r}") from e
    return _expression(name, item)


def _expression(name: object, item: dict[str, Any]) -> exp.Expr:
    cls = ALLOWED_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnsafeSqlError(f"AST cache refused: class {name!r} is not an allow-listed "
                             "sqlglot expression")
    node: exp.Expr = cls()
    if "t" in item:
        node._type = load_ast(item["t"])  # type: ignore[assignment]
    comments = item.get("o")
    if comments is not None:
        if not (isinstance(comments, list) and all(isinstance(c, str) for c in comments)):
            raise UnsafeSqlError("AST cache refused: comments must be strings")
        node.comments = comments
    return node


def _attach(nodes: list[object], item: dict[str, Any], node: object) -> None:
    index, key = item.get("i"), item.get("k")
    if not (isinstance(index, int) and 0 <= index < len(nodes) and isinstance(key, str)):
        raise UnsafeSqlError("AST cache refused: a node points at no earlier parent")
    parent = cast("exp.Expr", nodes[index])
    if not isinstance(parent, _BASE):
        raise UnsafeSqlError("AST cache refused: a node's parent is not an expression")
    if item.get("a"):
        parent.append(key, node)
    else:
        parent.set(key, node)
