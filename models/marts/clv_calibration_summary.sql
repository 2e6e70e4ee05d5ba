{#- The BTYD summary split for evaluation: calibration up to SEGMENTS_CLV_CALIBRATION_END (YYYY-MM-DD), or by
    default var('clv_holdout_days') before the snapshot date; holdout columns count what followed. -#}
{%- set configured = env_var('SEGMENTS_CLV_CALIBRATION_END', '') | trim -%}
{%- if configured and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', configured) -%}
    {%- do exceptions.raise_compiler_error("SEGMENTS_CLV_CALIBRATION_END must be YYYY-MM-DD, got '" ~ configured ~ "'") -%}
{%- endif -%}
{{ btyd_summary("cast('" ~ configured ~ "' as date)" if configured
                else "cast(" ~ dbt.dateadd('day', -var('clv_holdout_days'), 'as_of_date') ~ " as date)") }}
