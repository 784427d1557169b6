{#- The analyst-facing form of a transcript text: e-mails, IBANs, card numbers, phone numbers and long digit
    runs replaced by typed placeholders. Longest patterns first, so each digit run is typed by its full length:
    20+ digits are [NUMBER], then 13-19 [CARD_NUMBER], 10-12 [PHONE], 6-9 [NUMBER]. -#}
{% macro redact_pii(text) -%}
    {{ redact_long_numbers(
        redact_phone_numbers(
            redact_card_numbers(
                redact_long_numbers(
                    redact_ibans(redact_emails(text)),
                    min_digits=20
                )
            )
        ),
        min_digits=6,
        max_digits=9
    ) }}
{%- endmacro %}
