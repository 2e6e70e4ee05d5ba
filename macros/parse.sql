{# Typed readings of the raw text columns. Blank text counts as missing; text that does not parse becomes NULL
   (the staging models tell missing from unparseable by comparing with the raw text). #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Timestamps, one rule for every raw date column (README, "Bring your own data"):
    - a date alone: midnight of that day;
    - a date and time with nothing after it: taken as written, in the shop's own clock, never shifted by the
      machine's time zone;
    - a date and time followed by a UTC offset (`Z`, `+02:00`, `+0200`, `-05`, with or without a space before it)
      or a zone name (`UTC`, `Europe/Berlin`): converted to UTC;
    - anything else after the time: unparseable (quarantined), never silently dropped.
    So a file that mixes offsets gives UTC for those lines and the written time for the rest. -#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'segments')(column)) }}
{%- endmacro %}

{# Elsewhere (Spark), a cast already honours an offset, converting to the session time zone: set it to UTC. #}
{% macro default__parse_timestamp(column) -%}
    {{ dbt.safe_cast(segments.clean_text(column), dbt.type_timestamp()) }}
{%- endmacro %}

{# DuckDB's cast to timestamp drops whatever follows the time silently; timestamptz reads an offset or a zone, and
   timezone('UTC', ...) gives the UTC wall time whatever the session's time zone. #}
{% macro duckdb__parse_timestamp(column) -%}
    {%- set text = segments.clean_text(column) -%}
    case
        when position(':' in {{ text }}) = 0
            or regexp_matches({{ text }}, '[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?$')
            then try_cast({{ text }} as timestamp)
        else timezone('UTC', try_cast(
            regexp_replace({{ text }}, ' +([+-][0-9]{2}(:?[0-9]{2})?|Z)$', '\1') as timestamptz))
    end
{%- endmacro %}

{# Quantities may be fractional (goods sold by weight or length): kept to 3 decimals, rounded half away from zero. #}
{% macro parse_decimal(column, scale=4) -%}
    {{ dbt.safe_cast(segments.clean_text(column), 'decimal(18,' ~ scale ~ ')') }}
{%- endmacro %}
