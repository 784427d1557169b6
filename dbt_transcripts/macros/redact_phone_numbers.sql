{#- Phone numbers (10 to 12 digits, written or spoken, with an optional "+" or "plus") become [PHONE].
    Longer runs are removed first (redact_pii), so a match here is a whole run. -#}
{% macro redact_phone_numbers(text) -%}
    regexp_replace(
        {{ text }},
        '(?:\+[[:space:]]*|\mplus[[:space:]]+)?{{ build_digit_run_pattern(10, 12) }}',
        '[PHONE]',
        'gi'
    )
{%- endmacro %}
