{# A 1-5 score from the column's percent rank: equal values always get equal scores, so ties cannot depend on row
   order. `better` is 'higher' or 'lower'. #}
{% macro quintile_score(column, better='higher') -%}
    least(5, 1 + cast(floor(5 * percent_rank() over (
        order by {{ column }} {{ 'asc' if better == 'higher' else 'desc' }}
    )) as {{ dbt.type_int() }}))
{%- endmacro %}
