{# dbt-duckdb has no safe_cast: DuckDB's `cast` raises on bad input, `try_cast` returns NULL like Spark. #}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
