{# The snapshot date as a SQL date literal, or none when unset: dbt var `as_of` (the monthly snapshot job sets it),
   else SEGMENTS_AS_OF (YYYY-MM-DD). #}
{% macro as_of_setting() %}
    {% set value = (var('as_of', none) or env_var('SEGMENTS_AS_OF', '')) | string | trim %}
    {% if value == '' %}
        {{ return(none) }}
    {% endif %}
    {% if not segments.is_iso_date(value) %}
        {% do exceptions.raise_compiler_error(
            "SEGMENTS_AS_OF must be a calendar date as YYYY-MM-DD (e.g. 2025-12-31), got '" ~ value ~ "'") %}
    {% endif %}
    {{ return("cast('" ~ value ~ "' as date)") }}
{% endmacro %}

{# Whether `value` is a real date written YYYY-MM-DD (2025-02-30 is not): checked here, so a bad setting stops the
   run with its name rather than with a database conversion error. #}
{% macro is_iso_date(value) %}
    {% set match = modules.re.match('^([0-9]{4})-([0-9]{2})-([0-9]{2})$', value) %}
    {% if not match %}
        {{ return(false) }}
    {% endif %}
    {% set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int %}
    {% if year < 1 or month < 1 or month > 12 or day < 1 %}
        {{ return(false) }}
    {% endif %}
    {% set next_month = modules.datetime.date(year + 1, 1, 1) if month == 12 else modules.datetime.date(year, month + 1, 1) %}
    {{ return(day <= (next_month - modules.datetime.timedelta(days=1)).day) }}
{% endmacro %}
