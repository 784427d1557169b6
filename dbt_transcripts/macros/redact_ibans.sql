{#- IBANs become [IBAN]: written ("DE89 3704 0044 0532 0130 00", spaces optional) or spelled out, two to four
    single letters and then at least 12 digits ("D E eight nine three seven ...", "D-E-8-9 3-7 ..."). -#}
{% macro redact_ibans(text) -%}
    {%- set written = "\\m[a-z]{2}[0-9]{2}(?:[[:space:]-]?[a-z0-9]{4}){2,7}(?:[[:space:]-]?[a-z0-9]{1,3})?\\M" -%}
    {%- set spelled = "(?:\\m[a-z]\\M[[:space:],.:;/()-]*){2,4}" ~ build_digit_run_pattern(12) -%}
    regexp_replace(
        regexp_replace({{ text }}, '{{ written }}', '[IBAN]', 'gi'),
        '{{ spelled }}', '[IBAN]', 'gi'
    )
{%- endmacro %}
