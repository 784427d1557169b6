{#- How many PII placeholders redact_pii left in a text. -#}
{% macro count_redactions(redacted_text) -%}
    regexp_count({{ redacted_text }}, '\[(CARD_NUMBER|IBAN|PHONE|EMAIL|NUMBER)\]')
{%- endmacro %}
