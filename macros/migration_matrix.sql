{#- The migration matrix of a state over snapshots, as the CTEs that end a model. `history` is a CTE with one row
    per customer per snapshot (snapshot_date, customer_id and the state columns); `states` maps each state column to
    the value it takes for customers who were not there at the earlier snapshot.
    One row per pair of consecutive snapshots and (from state, to state): customers who moved, and their share of the
    from-state. A cell of fewer than `min_group_size` customers (SEGMENTS_MIN_GROUP_SIZE, default 10) is suppressed:
    its count and share are null and is_suppressed is true, so BI readers see that the move exists, not who made it.
    The shares of the other cells keep their true denominators. -#}
{% macro migration_matrix(history, states) %}
{%- set smallest = min_group_size() -%}
{%- set from_columns = [] -%}
{%- set to_columns = [] -%}
{%- for column in states -%}
    {%- do from_columns.append('from_' ~ column) -%}
    {%- do to_columns.append('to_' ~ column) -%}
{%- endfor -%}
snapshot_pairs as (

    select
        snapshot_date as to_snapshot,
        lag(snapshot_date) over (order by snapshot_date) as from_snapshot
    from (select distinct snapshot_date from {{ history }}) as snapshots

),

moves as (

    select
        p.from_snapshot,
        p.to_snapshot,
        {%- for column, new_value in states.items() %}
        coalesce(before.{{ column }}, {{ new_value }}) as from_{{ column }},
        {%- endfor %}
        {%- for column in states %}
        after.{{ column }} as to_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from snapshot_pairs as p
    inner join {{ history }} as after on after.snapshot_date = p.to_snapshot
    left join {{ history }} as before
        on before.snapshot_date = p.from_snapshot and before.customer_id = after.customer_id
    where p.from_snapshot is not null

),

counted as (

    select from_snapshot, to_snapshot, {{ (from_columns + to_columns) | join(', ') }}, count(*) as customers
    from moves
    group by from_snapshot, to_snapshot, {{ (from_columns + to_columns) | join(', ') }}

),

shared as (

    select
        *,
        cast(customers as double)
            / sum(customers) over (partition by from_snapshot, {{ from_columns | join(', ') }}) as share
    from counted

)

select
    from_snapshot, to_snapshot, {{ (from_columns + to_columns) | join(', ') }},
    case when customers >= {{ smallest }} then customers end as customers,
    case when customers >= {{ smallest }} then share end as share,
    customers < {{ smallest }} as is_suppressed
from shared
{% endmacro %}
