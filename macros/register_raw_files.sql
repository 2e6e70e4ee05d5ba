{#
  The raw input contract. Every entity in var('raw_contract') becomes a view `raw.<entity>` whose columns are
  the contract's names, all as text, so staging can type them and quarantine what does not parse.

  - Files are found by name in SEGMENTS_DATA_DIR: `<entity>.csv` or `<entity>.parquet`.
  - An optional `columns.yml` in that folder names an entity's `file`, maps contract columns to the file's own
    (`columns: {order_id: InvoiceNo}`), may give strptime formats for date columns (`formats: {order_ts:
    '%m/%d/%Y %H:%M'}`) and CSV options (`delimiter`, `header`).
  - A missing `transactions` file, or a missing required column, stops the run with an error naming both.
  - A missing optional entity becomes an empty view; a missing optional column becomes NULL.
#}
{% macro register_raw_files() %}
    {{ return(adapter.dispatch('register_raw_files', 'segments')()) }}
{% endmacro %}

{% macro duckdb__register_raw_files() %}
    {% if execute %}
        {% set data_dir = env_var('SEGMENTS_DATA_DIR', 'data/demo') | replace('\\', '/') %}
        {% set data_dir = data_dir[:-1] if data_dir.endswith('/') else data_dir %}
        {% set mapping = segments.read_columns_yml(data_dir) %}
        {% do run_query('create schema if not exists raw') %}
        {% for entity, contract in var('raw_contract').items() %}
            {% set spec = mapping.get(entity) or {} %}
            {% set path = segments.find_raw_file(data_dir, entity, spec) %}
            {% if path is none and entity == 'transactions' %}
                {% do exceptions.raise_compiler_error(
                    "No transactions file in SEGMENTS_DATA_DIR='" ~ data_dir ~ "': expected transactions.csv or "
                    ~ "transactions.parquet, or a `file` under `transactions` in columns.yml") %}
            {% endif %}
            {% do run_query(segments.raw_view_sql(entity, contract, path, spec)) %}
        {% endfor %}
        {% do log('Registered raw files from ' ~ data_dir, info=true) %}
    {% endif %}
{% endmacro %}

{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro read_columns_yml(data_dir) %}
    {% set found = run_query('select file from glob(' ~ segments.sql_string(data_dir ~ '/columns.yml') ~ ')') %}
    {% if found.rows | length == 0 %}
        {{ return({}) }}
    {% endif %}
    {% set text = run_query('select content from read_text(' ~ segments.sql_string(data_dir ~ '/columns.yml') ~ ')').rows[0][0] %}
    {% set parsed = fromyaml(text) %}
    {% if parsed is not mapping %}
        {% do exceptions.raise_compiler_error(data_dir ~ "/columns.yml must be a mapping of entity name to settings") %}
    {% endif %}
    {% for entity in parsed %}
        {% if entity not in var('raw_contract') %}
            {% do exceptions.raise_compiler_error(
                data_dir ~ "/columns.yml names unknown entity '" ~ entity ~ "'; known: "
                ~ (var('raw_contract').keys() | join(', '))) %}
        {% endif %}
    {% endfor %}
    {{ return(parsed) }}
{% endmacro %}

{% macro find_raw_file(data_dir, entity, spec) %}
    {% if spec.get('file') %}
        {% set path = spec['file'] if spec['file'].startswith('/') else data_dir ~ '/' ~ spec['file'] %}
        {% set found = run_query('select file from glob(' ~ segments.sql_string(path) ~ ')') %}
        {% if found.rows | length == 0 %}
            {% do exceptions.raise_compiler_error("columns.yml names file '" ~ path ~ "' for " ~ entity ~ ", which does not exist") %}
        {% endif %}
        {{ return(path) }}
    {% endif %}
    {% set candidates = [] %}
    {% for ext in ['csv', 'parquet'] %}
        {% set found = run_query('select file from glob(' ~ segments.sql_string(data_dir ~ '/' ~ entity ~ '.' ~ ext) ~ ')') %}
        {% if found.rows | length > 0 %}
            {% do candidates.append(data_dir ~ '/' ~ entity ~ '.' ~ ext) %}
        {% endif %}
    {% endfor %}
    {% if candidates | length > 1 %}
        {% do exceptions.raise_compiler_error(
            "Both " ~ (candidates | join(' and ')) ~ " exist: keep one, or name it as `file` in columns.yml") %}
    {% endif %}
    {{ return(candidates[0] if candidates else none) }}
{% endmacro %}

{% macro raw_reader(path, spec) %}
    {% if path.endswith('.parquet') %}
        {{ return('read_parquet(' ~ segments.sql_string(path) ~ ')') }}
    {% endif %}
    {% set options = ['all_varchar = true', 'header = ' ~ (spec.get('header', true) | string | lower)] %}
    {% if spec.get('delimiter') %}
        {% do options.append('delim = ' ~ segments.sql_string(spec['delimiter'])) %}
    {% endif %}
    {{ return('read_csv(' ~ segments.sql_string(path) ~ ', ' ~ (options | join(', ')) ~ ')') }}
{% endmacro %}

{% macro raw_view_sql(entity, contract, path, spec) %}
    {% set columns = contract['required'] + contract['optional'] %}
    {% if path is none %}
        {% set selects = [] %}
        {% for column in columns %}
            {% do selects.append('cast(null as varchar) as ' ~ column) %}
        {% endfor %}
        {{ return('create or replace view raw.' ~ entity ~ ' as select ' ~ (selects | join(', ')) ~ ' where false') }}
    {% endif %}
    {% set reader = segments.raw_reader(path, spec) %}
    {% set file_columns = run_query('select column_name from (describe select * from ' ~ reader ~ ')').columns[0].values() %}
    {% set renames = spec.get('columns') or {} %}
    {% set formats = spec.get('formats') or {} %}
    {% for column in renames.keys() | list + formats.keys() | list %}
        {% if column not in columns %}
            {% do exceptions.raise_compiler_error(
                "columns.yml maps unknown " ~ entity ~ " column '" ~ column ~ "'; the contract's columns are "
                ~ (columns | join(', '))) %}
        {% endif %}
    {% endfor %}
    {% set selects = [] %}
    {% for column in columns %}
        {% set source_column = renames.get(column, column) %}
        {% set text = 'cast(' ~ adapter.quote(source_column) ~ ' as varchar)' %}
        {% if source_column in file_columns and column in formats %}
            {# Reformat to ISO; a value the format cannot read stays as it was, so staging quarantines it. #}
            {% do selects.append('coalesce(strftime(try_strptime(' ~ text ~ ', ' ~ segments.sql_string(formats[column])
                ~ "), '%Y-%m-%d %H:%M:%S'), " ~ text ~ ') as ' ~ column) %}
        {% elif source_column in file_columns %}
            {% do selects.append(text ~ ' as ' ~ column) %}
        {% elif column in contract['required'] %}
            {% do exceptions.raise_compiler_error(
                "Required column '" ~ source_column ~ "' (contract column " ~ column ~ ") is missing from " ~ path
                ~ "; it has: " ~ (file_columns | join(', ')) ~ ". Map it in columns.yml if it has another name.") %}
        {% else %}
            {% do selects.append('cast(null as varchar) as ' ~ column) %}
        {% endif %}
    {% endfor %}
    {{ return('create or replace view raw.' ~ entity ~ ' as select ' ~ (selects | join(', ')) ~ ' from ' ~ reader) }}
{% endmacro %}
