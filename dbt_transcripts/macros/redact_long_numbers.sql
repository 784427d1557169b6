{#- Any other run of at least min_digits digits, written or spoken (account numbers, PINs read in full, dates
    of birth), becomes [NUMBER]. Short numbers ("ten a.m.", "less than 5 minutes") stay readable. -#}
{% macro redact_long_numbers(text, min_digits=6, max_digits=none) -%}
    regexp_replace({{ text }}, '{{ build_digit_run_pattern(min_digits, max_digits) }}', '[NUMBER]', 'gi')
{%- endmacro %}
