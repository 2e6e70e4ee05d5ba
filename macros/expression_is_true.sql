{# Rows for which the expression is false or NULL fail the test (dbt_utils' test, without the package download).
   NULL fails: `where not (x >= 0)` would let a row with a NULL x through, as `not NULL` is NULL. An expression
   that may be NULL on a valid row says so itself, e.g. `x >= 0 or x is null`. #}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}
