"""The eligible audience: a SQL filter on ``customer_360``, parsed and checked before it is ever run.

The filter is parsed by DuckDB's own parser (``json_serialize_sql``) as the WHERE clause of
``select * from customer_360``; it is accepted only when that is one plain SELECT whose filter refers to
customer_360's columns and nothing else (no ``;``, no subquery, no other table, no ORDER/LIMIT tail). The query is
then run on a read-only connection.
"""

import json

import duckdb
import pandas as pd

from .declarations import DeclarationError, Experiment

AUDIENCE_TABLE = "customer_360"


def check_audience(audience: str, columns: list[str], where: str = "audience") -> None:
    """Raise :class:`DeclarationError` unless ``audience`` is a filter on ``columns`` only.

    Examples
    --------
    >>> check_audience("recency > 30 and rfm_segment = 'Loyal'", ["recency", "rfm_segment"])
    >>> check_audience("recncy > 30", ["recency", "rfm_segment"])
    Traceback (most recent call last):
    ...
    python_models.campaigns.declarations.DeclarationError: audience: unknown column 'recncy' in the filter "recncy > 30"; customer_360 has: recency, rfm_segment
    >>> check_audience("1 = 1; drop table customer_360", ["recency"])
    Traceback (most recent call last):
    ...
    python_models.campaigns.declarations.DeclarationError: audience: the filter "1 = 1; drop table customer_360" contains ';': one filter expression only
    """
    if ";" in audience:
        raise DeclarationError(f"{where}: the filter \"{audience}\" contains ';': one filter expression only")
    if "--" in audience or "/*" in audience:
        raise DeclarationError(f"{where}: the filter \"{audience}\" contains a comment; remove it")
    with duckdb.connect() as con:
        parsed = json.loads(con.execute("select json_serialize_sql(?)",
                                        [f"select * from {AUDIENCE_TABLE} where ({audience})"]).fetchone()[0])
    if parsed.get("error"):
        raise DeclarationError(f"{where}: the filter \"{audience}\" is not valid SQL: "
                               f"{parsed.get('error_message')}")
    statements = parsed["statements"]
    node = statements[0]["node"] if len(statements) == 1 else {}
    plain = (node.get("type") == "SELECT_NODE" and not node.get("modifiers") and not node.get("group_expressions")
             and node.get("having") is None and node.get("qualify") is None
             and not node.get("cte_map", {}).get("map")
             and (node.get("from_table") or {}).get("table_name") == AUDIENCE_TABLE
             and len(node.get("select_list", [])) == 1 and node["select_list"][0].get("class") == "STAR")
    if not plain or node.get("where_clause") is None:
        raise DeclarationError(f"{where}: the filter \"{audience}\" is not a single filter expression on "
                               f"{AUDIENCE_TABLE}")
    referenced, nested = _walk(node["where_clause"])
    if nested:
        raise DeclarationError(f"{where}: the filter \"{audience}\" reads another table or a subquery; only "
                               f"{AUDIENCE_TABLE}'s columns may be used")
    known = {c.lower() for c in columns}
    for column in referenced:
        if column.lower() not in known:
            raise DeclarationError(f"{where}: unknown column '{column}' in the filter \"{audience}\"; "
                                   f"{AUDIENCE_TABLE} has: {', '.join(columns)}")


def _walk(expression) -> tuple[list[str], bool]:
    """Column names referenced in a parsed expression, and whether it nests a subquery or a table."""
    columns, nested = [], False
    stack = [expression]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("class") == "SUBQUERY" or "subquery" in item or "from_table" in item \
                    or item.get("type") == "BASE_TABLE":
                nested = True
            if item.get("class") == "COLUMN_REF":
                names = item.get("column_names") or []
                if len(names) > 1:  # qualified names (t.x) point at a table
                    nested = nested or names[0].lower() != AUDIENCE_TABLE
                columns.append(names[-1])
            stack.extend(item.values())
    return columns, nested


def select_audience(con: duckdb.DuckDBPyConnection, experiment: Experiment, source: str = "experiments.yml",
                    table: str = f"main.{AUDIENCE_TABLE}") -> pd.DataFrame:
    """``customer_id`` and ``stratum`` (the experiment's stratification column as text, '(none)' when null) of
    the customers in the audience, by customer id. The filter is checked with :func:`check_audience` first.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("create table customer_360 as select * from (values ('a', 1, 'Loyal'), ('b', 2, 'New'),"
    ...                 " ('c', null, 'Loyal')) t(customer_id, segment_id, rfm_segment)")
    >>> e = Experiment("x", None, 0.5, (("a", 1.0),), audience="rfm_segment = 'Loyal'")
    >>> select_audience(con, e, table="customer_360").values.tolist()
    [['a', '1'], ['c', '(none)']]
    """
    columns = [row[0] for row in con.execute(f"select * from {table} limit 0").description]
    where = f"{source}: experiment {experiment.name!r}"
    if experiment.stratify_by.lower() not in {c.lower() for c in columns}:
        raise DeclarationError(f"{where}, field 'stratify_by': unknown column '{experiment.stratify_by}'; "
                               f"{AUDIENCE_TABLE} has: {', '.join(columns)}")
    condition = "true"
    if experiment.audience is not None:
        check_audience(experiment.audience, columns, f"{where}, field 'audience'")
        condition = f"({experiment.audience})"
    stratum = f'"{experiment.stratify_by}"'  # checked above to be one of the table's columns
    return con.execute(f"""
        select cast(customer_id as varchar) as customer_id,
               coalesce(cast({stratum} as varchar), '(none)') as stratum
        from {table} where {condition} order by customer_id""").df()
