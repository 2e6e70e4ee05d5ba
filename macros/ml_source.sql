{# A table the Python assets write (source `ml`), or an empty one with its columns while it does not exist: a run
   whose segmentation was skipped (too few or too alike customers, see dagster_assets.skips) on a new warehouse
   still builds customer_360, with empty segment columns. `columns` maps each column to its type. #}
{% macro ml_source(table_name, columns) %}
    {%- set relation = source('ml', table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        (select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{% endmacro %}

{# not_null, while `published` has any row: a column filled from a Python-written table that a skipped step left
   empty (e.g. customer_360.segment_id when the shop is too small to segment). #}
{% test not_null_when_published(model, column_name, published) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
    and exists (select 1 from {{ published }})

{% endtest %}
