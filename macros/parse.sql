{# Typed readings of the raw text columns. Blank text counts as missing; text that does not parse becomes NULL
   (the staging models tell missing from unparseable by comparing with the raw text). #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Timestamps, one rule for every raw date column (README, "Bring your own data"):
    - with a UTC offset after the time (`Z`, `+02:00`, `+0200`, `-05`): converted to UTC;
    - without one: taken as written, in the shop's own clock, never shifted by the machine's time zone;
    - a date alone: midnight of that day.
    So a file that mixes offsets gives UTC for those lines and the written time for the rest. -#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'segments')(column)) }}
{%- endmacro %}

{# Elsewhere (Spark), a cast already honours an offset, converting to the session time zone: set it to UTC. #}
{% macro default__parse_timestamp(column) -%}
    {{ dbt.safe_cast(segments.clean_text(column), dbt.type_timestamp()) }}
{%- endmacro %}

{# DuckDB's cast to timestamp drops an offset silently; timestamptz reads it, and timezone('UTC', ...) gives the
   UTC wall time whatever the session's time zone. #}
{% macro duckdb__parse_timestamp(column) -%}
    {%- set text = segments.clean_text(column) -%}
    case
        when regexp_matches({{ text }}, '[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$')
            then timezone('UTC', try_cast({{ text }} as timestamptz))
        else try_cast({{ text }} as timestamp)
    end
{%- endmacro %}

{# Quantities may be fractional (goods sold by weight or length): kept to 3 decimals, rounded half away from zero. #}
{% macro parse_decimal(column, scale=4) -%}
    {{ dbt.safe_cast(segments.clean_text(column), 'decimal(18,' ~ scale ~ ')') }}
{%- endmacro %}
