{#- A PostgreSQL regex for a run of min_digits..max_digits digits, each written ("4") or spoken ("four",
    "oh"), separated by nothing, spaces or the punctuation Whisper puts between spoken digits ("four, five",
    "3-7", "0.2"). "4532 0151" counts 8 digits. max_digits none = no upper bound. Use with the 'i' flag. -#}
{% macro build_digit_run_pattern(min_digits, max_digits=none) -%}
    {%- set digit = "(?:[0-9]|\\m(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\\M)" -%}
    {%- set separator = "[[:space:],.:;/()-]*" -%}
    {%- set more = (min_digits - 1) ~ "," ~ ((max_digits - 1) if max_digits is not none else "") -%}
    {{- digit ~ "(?:" ~ separator ~ digit ~ "){" ~ more ~ "}" -}}
{%- endmacro %}
