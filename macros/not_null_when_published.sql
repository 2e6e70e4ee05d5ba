{# not_null, while `published` has any row: a column filled from a Python-written table that a skipped step left
   empty (e.g. customer_360.segment_id when the shop is too small to segment). #}
{% test not_null_when_published(model, column_name, published) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
    and exists (select 1 from {{ published }})

{% endtest %}
