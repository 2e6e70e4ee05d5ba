{# The transactions file as register_raw_files finds it, for messages. #}
{% macro transactions_file() %}
    {% set data_dir = env_var('SEGMENTS_DATA_DIR', 'data/demo') | replace('\\', '/') %}
    {% set data_dir = data_dir[:-1] if data_dir.endswith('/') else data_dir %}
    {{ return(segments.find_raw_file(data_dir, 'transactions', segments.read_columns_yml(data_dir).get('transactions') or {})) }}
{% endmacro %}

{# Stops the run with one message when no input line was accepted (every line rejected, e.g. all of them after
   SEGMENTS_AS_OF): nothing downstream has a customer to measure. Called when stg_shop__as_of is compiled, after
   the quarantine is written, so rejected_transactions shows every line and its reason. #}
{% macro require_accepted_lines(lines, quarantine) %}
    {% if execute %}
        {% set counts = run_query("select reject_reason, count(*) from " ~ lines ~ " group by reject_reason "
                                  ~ "order by count(*) desc, reject_reason nulls first") %}
        {% set accepted = [] %}
        {% set reasons = [] %}
        {% for reason, n in counts.rows %}
            {% do (accepted if reason is none else reasons).append(reason ~ ' ' ~ n) %}
        {% endfor %}
        {% if accepted | length == 0 %}
            {% do exceptions.raise_compiler_error(
                "No line of " ~ segments.transactions_file() ~ " was accepted, so there is nothing to build: "
                ~ (reasons | join(', ')) ~ " (every line is in " ~ quarantine ~ " with its reason)") %}
        {% endif %}
    {% endif %}
{% endmacro %}

{# Warns (severity warn in _staging__models.yml) when more than `max_share` of the input lines were rejected: one
   row with the counts and the reasons, which dbt logs and Dagster shows as a failed check on the quarantine. #}
{% test rejected_share_at_most(model, lines, max_share) %}

with counts as (

    select
        count(*) as input_lines,
        count(reject_reason) as rejected_lines
    from {{ lines }}

)

select
    input_lines,
    rejected_lines,
    cast(rejected_lines as double) / input_lines as rejected_share
from counts
where rejected_lines > {{ max_share }} * input_lines

{% endtest %}
