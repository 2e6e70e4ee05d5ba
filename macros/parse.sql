{# Typed readings of the raw text columns. Blank text counts as missing; text that does not parse becomes NULL
   (the staging models tell missing from unparseable by comparing with the raw text). #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro parse_timestamp(column) -%}
    {{ dbt.safe_cast(segments.clean_text(column), dbt.type_timestamp()) }}
{%- endmacro %}

{% macro parse_decimal(column, scale=4) -%}
    {{ dbt.safe_cast(segments.clean_text(column), 'decimal(18,' ~ scale ~ ')') }}
{%- endmacro %}
