{#
  Spark's twins of the file primitives of register_raw_files (macros/register_raw_files.sql), so raw files reach
  Spark through the same contract, columns.yml included. Spark lists and reads files with its `binaryFile`
  source, a Parquet file as `parquet.<path>` and a CSV file through an external table `raw.<entity>__file` (CSV
  options do not fit Spark's SQL-on-files syntax); the contract view `raw.<entity>` selects from it as on DuckDB.
  Differences (README, "Scaling out"): Spark does not detect a CSV delimiter (a comma unless columns.yml says
  otherwise; a wrong one still stops the run with the hint), and a data folder that does not exist stops the run
  with Spark's PATH_NOT_FOUND naming it.
#}

{# The files directly in `folder` (not in its subfolders) with their sizes: file name -> bytes. #}
{% macro spark_folder_files(folder) %}
    {% set rows = run_query("select substring_index(path, '/', -1) as name, length from binaryFile.`"
                            ~ folder ~ "`").rows %}
    {% set files = {} %}
    {% for name, size in rows %}
        {% do files.update({name: size}) %}
    {% endfor %}
    {{ return(files) }}
{% endmacro %}

{% macro spark_split_path(path) %}
    {% set parts = path.rsplit('/', 1) %}
    {{ return(parts if parts | length == 2 else ['.', path]) }}
{% endmacro %}

{% macro spark__raw_file_exists(path) %}
    {% set folder, name = segments.spark_split_path(path) %}
    {{ return(name in segments.spark_folder_files(folder)) }}
{% endmacro %}

{% macro spark__raw_file_size(path) %}
    {% set folder, name = segments.spark_split_path(path) %}
    {{ return(segments.spark_folder_files(folder)[name]) }}
{% endmacro %}

{% macro spark__read_text_file(path) %}
    {{ return(run_query("select cast(content as string) from binaryFile.`" ~ path ~ "`").rows[0][0]) }}
{% endmacro %}

{# Spark's names of the encodings DuckDB reads (macro csv_encoding). #}
{% macro spark_encoding(value, path) %}
    {% set names = {'utf-8': 'UTF-8', 'utf-16': 'UTF-16', 'latin-1': 'ISO-8859-1'} %}
    {{ return(names[segments.csv_encoding(value, path)]) }}
{% endmacro %}

{% macro spark__raw_reader(entity, path, spec) %}
    {% if path.endswith('.parquet') %}
        {{ return('parquet.`' ~ path ~ '`') }}
    {% endif %}
    {% set table = 'raw.' ~ entity ~ '__file' %}
    {% set options = ['path ' ~ segments.sql_string(path)] %}
    {# every column as text; "" inside a quoted value is a quote, as DuckDB and spreadsheets write it #}
    {% do options.extend(["header '" ~ (spec.get('header', true) | string | lower) ~ "'", "inferSchema 'false'",
                          "escape '\"'"]) %}
    {% if spec.get('delimiter') %}
        {% do options.append('sep ' ~ segments.sql_string(spec['delimiter'])) %}
    {% endif %}
    {% if spec.get('encoding') %}
        {% do options.append("encoding '" ~ segments.spark_encoding(spec['encoding'], path) ~ "'") %}
    {% endif %}
    {% do run_query('drop table if exists ' ~ table) %}
    {% do run_query('create table ' ~ table ~ ' using csv options (' ~ (options | join(', ')) ~ ')') %}
    {{ return(table) }}
{% endmacro %}

{% macro spark__raw_file_columns(reader) %}
    {% set columns = [] %}
    {% for row in run_query('describe query select * from ' ~ reader).rows %}
        {# `describe` ends with partition information after a line starting with '#' #}
        {% if row[0] == '' or row[0].startswith('#') %}
            {{ return(columns) }}
        {% endif %}
        {% do columns.append(row[0]) %}
    {% endfor %}
    {{ return(columns) }}
{% endmacro %}

{# A strptime format (columns.yml `formats`) as a Java date-time pattern. Numbers take one letter, so that they
   read one or two digits as strptime does; literal text is quoted. #}
{% macro java_datetime_pattern(format) %}
    {% set codes = {'Y': 'yyyy', 'y': 'yy', 'm': 'M', 'd': 'd', 'H': 'H', 'I': 'h', 'M': 'm', 'S': 's',
                    'f': 'SSSSSS', 'p': 'a', 'b': 'MMM', 'B': 'MMMM', 'a': 'EEE', 'A': 'EEEE', 'j': 'D',
                    'z': '[XXX][XX][X]', 'Z': 'zzz', '%': "'%'"} %}
    {% set fixed = {'m': 'MM', 'd': 'dd', 'H': 'HH', 'I': 'hh', 'M': 'mm', 'S': 'ss', 'j': 'DDD'} %}
    {# fields written without a separator between them (%Y%m%d) have fixed widths: Java cannot split them otherwise #}
    {% set compact = modules.re.search('%[a-zA-Z]%[a-zA-Z]', format) is not none %}
    {% set ns = namespace(pattern='', literal='', escaped=false) %}
    {% for char in format %}
        {% if ns.escaped %}
            {% if char not in codes %}
                {% do exceptions.raise_compiler_error(
                    "columns.yml: the date format '" ~ format ~ "' has %" ~ char ~ ", which Spark cannot read; known: %"
                    ~ (codes.keys() | join(', %'))) %}
            {% endif %}
            {% set code = fixed.get(char, codes[char]) if compact else codes[char] %}
            {% set ns.pattern = ns.pattern ~ segments.java_literal(ns.literal) ~ code %}
            {% set ns.literal = '' %}
            {% set ns.escaped = false %}
        {% elif char == '%' %}
            {% set ns.escaped = true %}
        {% else %}
            {% set ns.literal = ns.literal ~ char %}
        {% endif %}
    {% endfor %}
    {{ return(ns.pattern ~ segments.java_literal(ns.literal)) }}
{% endmacro %}

{# Text as a quoted literal of a Java date-time pattern (a quote written as two). #}
{% macro java_literal(text) %}
    {{ return("'" ~ text | replace("'", "''") ~ "'" if text else '') }}
{% endmacro %}

{% macro spark__strptime_sql(text, format) -%}
    to_timestamp({{ text }}, {{ segments.sql_string(segments.java_datetime_pattern(format)) }})
{%- endmacro %}

{# The session time zone is UTC (profiles.yml), so a parsed instant is written as its UTC wall time. #}
{% macro spark__iso_text(parsed, format) -%}
    {%- if '%z' in format or '%Z' in format -%}
        concat(date_format({{ parsed }}, 'yyyy-MM-dd HH:mm:ss'), '+00:00')
    {%- else -%}
        date_format({{ parsed }}, 'yyyy-MM-dd HH:mm:ss')
    {%- endif -%}
{%- endmacro %}
