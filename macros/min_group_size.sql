{#- The smallest group a published table shows (the var `min_group_size`, else SEGMENTS_MIN_GROUP_SIZE, default 10):
    one definition for every table that suppresses small groups, as dagster_assets.privacy.min_group_size reads
    the same environment variable for the Python-written ones. -#}
{%- macro min_group_size() -%}
{{ return(var('min_group_size', env_var('SEGMENTS_MIN_GROUP_SIZE', '10')) | int) }}
{%- endmacro -%}
