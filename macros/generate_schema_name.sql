{# Use folder schemas as given (`staging`, `intermediate`) rather than dbt's `main_staging`, so analysts see
   short, stable schema names. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
