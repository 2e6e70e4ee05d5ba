{# Rows for which the expression is false fail the test (dbt_utils' test, without the package download). #}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
