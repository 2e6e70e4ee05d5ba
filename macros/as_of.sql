{# The snapshot date as a SQL date literal, or none when unset: dbt var `as_of` (the monthly snapshot job sets it),
   else SEGMENTS_AS_OF (YYYY-MM-DD). #}
{% macro as_of_setting() %}
    {% set value = (var('as_of', none) or env_var('SEGMENTS_AS_OF', '')) | string | trim %}
    {% if value == '' %}
        {{ return(none) }}
    {% endif %}
    {% if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) %}
        {% do exceptions.raise_compiler_error("SEGMENTS_AS_OF must be a date as YYYY-MM-DD, got '" ~ value ~ "'") %}
    {% endif %}
    {{ return("cast('" ~ value ~ "' as date)") }}
{% endmacro %}
