{#- Payment card numbers (13 to 19 digits, written or spoken, in groups or not) become [CARD_NUMBER].
    Runs of 20 or more digits are removed first (redact_pii), so a match here is a whole run. -#}
{% macro redact_card_numbers(text) -%}
    regexp_replace({{ text }}, '{{ build_digit_run_pattern(13, 19) }}', '[CARD_NUMBER]', 'gi')
{%- endmacro %}
