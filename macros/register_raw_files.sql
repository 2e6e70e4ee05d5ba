{#
  The raw input contract. Every entity in var('raw_contract') becomes a view `raw.<entity>` whose columns are
  the contract's names, all as text, so staging can type them and quarantine what does not parse.

  - Files are found by name in SEGMENTS_DATA_DIR: `<entity>.csv` or `<entity>.parquet`.
  - An optional `columns.yml` in that folder names an entity's `file`, maps contract columns to the file's own
    (`columns: {order_id: InvoiceNo}`), may give strptime formats for date columns (`formats: {order_ts:
    '%m/%d/%Y %H:%M'}`) and CSV options (`delimiter`, `header`, `encoding`).
  - Every mistake in the input that would otherwise surface later as an unrelated error stops the run here, with
    a message naming the file and the column or setting: a missing transactions file, an empty file, a
    transactions file without lines, a missing required column (with a hint when the delimiter looks wrong), an
    unknown entity, column or setting in columns.yml, a named file that does not exist, a CSV and a Parquet for
    one entity, an encoding DuckDB cannot read.
  - A missing optional entity becomes an empty view; a missing optional column becomes NULL.

  The loop below is the same on every engine; what touches files or the engine's readers is dispatched
  (`duckdb__` here, `spark__` in macros/spark/raw_files.sql).
#}
{% macro register_raw_files() %}
    {{ return(adapter.dispatch('register_raw_files', 'segments')()) }}
{% endmacro %}

{% macro default__register_raw_files() %}
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
            {% if path is not none %}
                {% do segments.check_not_empty(path) %}
            {% endif %}
            {% do run_query(segments.raw_view_sql(entity, contract, path, spec)) %}
            {% if entity == 'transactions' %}
                {% do segments.check_has_lines(path) %}
            {% endif %}
        {% endfor %}
        {% do log('Registered raw files from ' ~ data_dir, info=true) %}
    {% endif %}
{% endmacro %}

{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{# The settings an entity may have in columns.yml. #}
{% macro entity_settings() %}
    {{ return(['file', 'columns', 'formats', 'delimiter', 'header', 'encoding']) }}
{% endmacro %}

{% macro read_columns_yml(data_dir) %}
    {% set yml = data_dir ~ '/columns.yml' %}
    {% if not segments.raw_file_exists(yml) %}
        {{ return({}) }}
    {% endif %}
    {% set text = segments.read_text_file(yml) %}
    {% set parsed = fromyaml(text) %}
    {% if parsed is not mapping %}
        {% do exceptions.raise_compiler_error(yml ~ " must be a mapping of entity name to settings") %}
    {% endif %}
    {% for entity, spec in parsed.items() %}
        {% if entity not in var('raw_contract') %}
            {% do exceptions.raise_compiler_error(
                yml ~ " names unknown entity '" ~ entity ~ "'; known: " ~ (var('raw_contract').keys() | join(', '))) %}
        {% endif %}
        {% if spec is not none and spec is not mapping %}
            {% do exceptions.raise_compiler_error(yml ~ ": the settings of " ~ entity ~ " must be a mapping") %}
        {% endif %}
        {% for key in (spec or {}) %}
            {% if key not in segments.entity_settings() %}
                {% do exceptions.raise_compiler_error(
                    yml ~ " gives " ~ entity ~ " unknown setting '" ~ key ~ "'; known: "
                    ~ (segments.entity_settings() | join(', '))) %}
            {% endif %}
        {% endfor %}
    {% endfor %}
    {{ return(parsed) }}
{% endmacro %}

{% macro find_raw_file(data_dir, entity, spec) %}
    {% if spec.get('file') %}
        {% set path = spec['file'] if spec['file'].startswith('/') else data_dir ~ '/' ~ spec['file'] %}
        {% if not segments.raw_file_exists(path) %}
            {% do exceptions.raise_compiler_error("columns.yml names file '" ~ path ~ "' for " ~ entity ~ ", which does not exist") %}
        {% endif %}
        {{ return(path) }}
    {% endif %}
    {% set candidates = [] %}
    {% for ext in ['csv', 'parquet'] %}
        {% if segments.raw_file_exists(data_dir ~ '/' ~ entity ~ '.' ~ ext) %}
            {% do candidates.append(data_dir ~ '/' ~ entity ~ '.' ~ ext) %}
        {% endif %}
    {% endfor %}
    {% if candidates | length > 1 %}
        {% do exceptions.raise_compiler_error(
            "Both " ~ (candidates | join(' and ')) ~ " exist: keep one, or name it as `file` in columns.yml") %}
    {% endif %}
    {{ return(candidates[0] if candidates else none) }}
{% endmacro %}

{# Whether a file exists, its size in bytes, its text: what the checks above need from the file system. #}
{% macro raw_file_exists(path) %}
    {{ return(adapter.dispatch('raw_file_exists', 'segments')(path)) }}
{% endmacro %}

{% macro duckdb__raw_file_exists(path) %}
    {{ return(run_query('select file from glob(' ~ segments.sql_string(path) ~ ')').rows | length > 0) }}
{% endmacro %}

{% macro raw_file_size(path) %}
    {{ return(adapter.dispatch('raw_file_size', 'segments')(path)) }}
{% endmacro %}

{% macro duckdb__raw_file_size(path) %}
    {{ return(run_query('select size from read_blob(' ~ segments.sql_string(path) ~ ')').rows[0][0]) }}
{% endmacro %}

{% macro read_text_file(path) %}
    {{ return(adapter.dispatch('read_text_file', 'segments')(path)) }}
{% endmacro %}

{% macro duckdb__read_text_file(path) %}
    {{ return(run_query('select content from read_text(' ~ segments.sql_string(path) ~ ')').rows[0][0]) }}
{% endmacro %}

{# An empty file would otherwise be read as one column named `column0`. #}
{% macro check_not_empty(path) %}
    {% if segments.raw_file_size(path) == 0 %}
        {% do exceptions.raise_compiler_error(path ~ " is empty (0 bytes): export it again, or remove it") %}
    {% endif %}
{% endmacro %}

{# A transactions file with a header and no lines would leave no snapshot date; reads one line at most. #}
{% macro check_has_lines(path) %}
    {% set lines = run_query('select count(*) from (select 1 from raw.transactions limit 1)').rows[0][0] %}
    {% if lines == 0 %}
        {% do exceptions.raise_compiler_error(path ~ " has no order lines (a header only): nothing to build") %}
    {% endif %}
{% endmacro %}

{# DuckDB reads these without extensions (nothing is downloaded at run time); common spellings are accepted. #}
{% macro csv_encoding(value, path) %}
    {% set aliases = {'utf-8': 'utf-8', 'utf8': 'utf-8', 'utf-16': 'utf-16', 'utf16': 'utf-16',
                      'latin-1': 'latin-1', 'latin1': 'latin-1', 'iso-8859-1': 'latin-1', 'iso8859-1': 'latin-1'} %}
    {% set key = value | string | lower | trim %}
    {% if key not in aliases %}
        {% do exceptions.raise_compiler_error(
            "columns.yml gives " ~ path ~ " encoding '" ~ value ~ "'; supported: utf-8, utf-16, latin-1 "
            ~ "(a Windows-1252 export reads as latin-1 except for the characters in 0x80-0x9F, such as the euro sign)") %}
    {% endif %}
    {{ return(aliases[key]) }}
{% endmacro %}

{# The relation a raw file is read through, all columns as text: a table function on DuckDB. #}
{% macro raw_reader(entity, path, spec) %}
    {% do segments.check_reader_settings(path, spec) %}
    {{ return(adapter.dispatch('raw_reader', 'segments')(entity, path, spec)) }}
{% endmacro %}

{# A Parquet file takes no CSV setting. #}
{% macro check_reader_settings(path, spec) %}
    {% if path.endswith('.parquet') %}
        {% for option in ['delimiter', 'header', 'encoding'] %}
            {% if spec.get(option) is not none %}
                {% do exceptions.raise_compiler_error(
                    "columns.yml gives " ~ path ~ " the CSV setting '" ~ option ~ "', which a Parquet file does not take") %}
            {% endif %}
        {% endfor %}
    {% endif %}
{% endmacro %}

{% macro duckdb__raw_reader(entity, path, spec) %}
    {% if path.endswith('.parquet') %}
        {{ return('read_parquet(' ~ segments.sql_string(path) ~ ')') }}
    {% endif %}
    {% set options = ['all_varchar = true', 'header = ' ~ (spec.get('header', true) | string | lower)] %}
    {% if spec.get('delimiter') %}
        {% do options.append('delim = ' ~ segments.sql_string(spec['delimiter'])) %}
    {% endif %}
    {% if spec.get('encoding') %}
        {% do options.append('encoding = ' ~ segments.sql_string(segments.csv_encoding(spec['encoding'], path))) %}
    {% endif %}
    {{ return('read_csv(' ~ segments.sql_string(path) ~ ', ' ~ (options | join(', ')) ~ ')') }}
{% endmacro %}

{# The column names of a reader's file, as the file has them. #}
{% macro raw_file_columns(reader) %}
    {{ return(adapter.dispatch('raw_file_columns', 'segments')(reader)) }}
{% endmacro %}

{% macro duckdb__raw_file_columns(reader) %}
    {{ return(run_query('select column_name from (describe select * from ' ~ reader ~ ')').columns[0].values()) }}
{% endmacro %}

{# A hint for a file read as one column whose name holds another separator: the delimiter is wrong. #}
{% macro delimiter_hint(entity, file_columns) %}
    {% if file_columns | length != 1 %}
        {{ return('') }}
    {% endif %}
    {% for name, separator, yaml in [('a semicolon', ';', "';'"), ('a tab', '\t', '"\\t"'), ('a pipe', '|', "'|'"),
                                     ('a comma', ',', "','")] %}
        {% if separator in file_columns[0] %}
            {{ return(" It was read as one column: its delimiter looks like " ~ name ~ "; set `delimiter: " ~ yaml
                      ~ "` under " ~ entity ~ " in columns.yml, or remove a wrong `delimiter` (it is detected when not set).") }}
        {% endif %}
    {% endfor %}
    {{ return('') }}
{% endmacro %}

{% macro raw_view_sql(entity, contract, path, spec) %}
    {% set columns = contract['required'] + contract['optional'] %}
    {% if path is none %}
        {% set selects = [] %}
        {% for column in columns %}
            {% do selects.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column) %}
        {% endfor %}
        {{ return('create or replace view raw.' ~ entity ~ ' as select ' ~ (selects | join(', ')) ~ ' where false') }}
    {% endif %}
    {% set reader = segments.raw_reader(entity, path, spec) %}
    {% set file_columns = segments.raw_file_columns(reader) %}
    {% set renames = spec.get('columns') or {} %}
    {% set formats = spec.get('formats') or {} %}
    {% for column in renames.keys() | list + formats.keys() | list %}
        {% if column not in columns %}
            {% do exceptions.raise_compiler_error(
                "columns.yml maps unknown " ~ entity ~ " column '" ~ column ~ "' (for " ~ path ~ "); the contract's "
                ~ "columns are " ~ (columns | join(', '))) %}
        {% endif %}
    {% endfor %}
    {% set selects = [] %}
    {% for column in columns %}
        {% set source_column = renames.get(column, column) %}
        {% set text = 'cast(' ~ adapter.quote(source_column) ~ ' as ' ~ dbt.type_string() ~ ')' %}
        {% if source_column in file_columns and column in var('pii_columns').get(entity, []) %}
            {% do selects.append(segments.pii_hash(text) ~ ' as ' ~ column) %}
        {% elif source_column in file_columns and column in formats %}
            {# Reformat to ISO; a value the format cannot read stays as it was, so staging quarantines it. #}
            {% do selects.append('coalesce(' ~ segments.iso_text(segments.strptime_sql(text, formats[column]), formats[column])
                ~ ', ' ~ text ~ ') as ' ~ column) %}
        {% elif source_column in file_columns %}
            {% do selects.append(text ~ ' as ' ~ column) %}
        {% elif column in contract['required'] %}
            {% do exceptions.raise_compiler_error(
                "Required column '" ~ source_column ~ "' (contract column " ~ column ~ ") is missing from " ~ path
                ~ "; it has: " ~ (file_columns | join(', ')) ~ ". Map it in columns.yml if it has another name."
                ~ segments.delimiter_hint(entity, file_columns)) %}
        {% else %}
            {% do selects.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column) %}
        {% endif %}
    {% endfor %}
    {{ return('create or replace view raw.' ~ entity ~ ' as select ' ~ (selects | join(', ')) ~ ' from ' ~ reader) }}
{% endmacro %}

{% macro strptime_sql(text, format) -%}
    {{ return(adapter.dispatch('strptime_sql', 'segments')(text, format)) }}
{%- endmacro %}

{% macro duckdb__strptime_sql(text, format) -%}
    try_strptime({{ text }}, {{ segments.sql_string(format) }})
{%- endmacro %}

{# ISO text of a strptime result; a format with a zone (%z, %Z) gives an instant, written in UTC with its offset so
   staging reads it as UTC like any other ISO timestamp with an offset. #}
{% macro iso_text(parsed, format) -%}
    {{ return(adapter.dispatch('iso_text', 'segments')(parsed, format)) }}
{%- endmacro %}

{% macro duckdb__iso_text(parsed, format) -%}
    {%- if '%z' in format or '%Z' in format -%}
        strftime(timezone('UTC', {{ parsed }}), '%Y-%m-%d %H:%M:%S+00:00')
    {%- else -%}
        strftime({{ parsed }}, '%Y-%m-%d %H:%M:%S')
    {%- endif -%}
{%- endmacro %}

{#- A personal value (e-mail, phone, name) as it may enter the warehouse: sha256 (hex) of the salt and the trimmed,
    lower-cased value. The salt is a DuckDB session variable that only the model reading it sets
    (stg_shop__customers' pre-hook, from SEGMENTS_PII_SALT): the view stores no salt, and anyone else who queries
    it gets NULL. The clear value never reaches a table, and a view shows it to nobody. -#}
{% macro pii_hash(text) %}
    {{ return(adapter.dispatch('pii_hash', 'segments')(text)) }}
{% endmacro %}

{% macro duckdb__pii_hash(text) %}
    {{ return("case when getvariable('pii_salt') is not null and nullif(trim(" ~ text ~ "), '') is not null "
              ~ "then sha256(getvariable('pii_salt') || lower(trim(" ~ text ~ "))) end") }}
{% endmacro %}

{#- Engines without session variables drop personal columns. -#}
{% macro default__pii_hash(text) %}
    {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
{% endmacro %}

{#- The pre-hook of the model that reads personal columns. Without a salt they are dropped: an unsalted hash of
    an e-mail address is reversed by hashing candidate addresses. -#}
{% macro set_pii_salt() %}
    {{ return(adapter.dispatch('set_pii_salt', 'segments')()) }}
{% endmacro %}

{% macro duckdb__set_pii_salt() %}
    {%- set salt = env_var('SEGMENTS_PII_SALT', '') -%}
    {%- if salt == '' -%}
        {{ return("set variable pii_salt = null") }}
    {%- endif -%}
    {{ return("set variable pii_salt = " ~ segments.sql_string(salt)) }}
{% endmacro %}

{% macro clear_pii_salt() %}
    {{ return(adapter.dispatch('clear_pii_salt', 'segments')()) }}
{% endmacro %}

{% macro duckdb__clear_pii_salt() %}
    {{ return("reset variable pii_salt") }}
{% endmacro %}

{#- Engines without session variables have no salt to set (default__pii_hash drops the columns). -#}
{% macro default__set_pii_salt() %}
    {{ return("") }}
{% endmacro %}

{% macro default__clear_pii_salt() %}
    {{ return("") }}
{% endmacro %}
