{# Use folder schemas as given (`staging`, `intermediate`) rather than dbt's `main_staging`, so analysts see
   short, stable schema names. The monthly snapshot job sets var `schema_prefix` (`snapshot`) so that its past
   snapshot builds (`snapshot_main`, `snapshot_staging`, ...) never overwrite the current tables. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema = target.schema if custom_schema_name is none else custom_schema_name | trim -%}
    {%- set prefix = var('schema_prefix', '') -%}
    {%- if prefix -%}{{ prefix }}_{{ schema }}{%- else -%}{{ schema }}{%- endif -%}
{%- endmacro %}
