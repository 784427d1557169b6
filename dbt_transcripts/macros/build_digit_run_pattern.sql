{#- A PostgreSQL regex for a run of min_digits..max_digits digits, each written ("4") or spoken, in English,
    French, Spanish or German ("four", "oh", "quatre", "cuatro", "vier", "zwo"), separated by nothing, spaces or
    the punctuation Whisper puts between spoken digits ("four, five", "3-7", "0.2"). "4532 0151" counts 8 digits.
    max_digits none = no upper bound. Use with the 'i' flag. Only digit words count: a language's tens ("vingt",
    "veinte", "zwanzig") are not read as digits, which matches how account and card numbers are spoken. -#}
{% macro build_digit_run_pattern(min_digits, max_digits=none) -%}
    {%- set words = [
        "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "zéro", "un", "une", "deux", "trois", "quatre", "cinq", "sept", "huit", "neuf",
        "cero", "uno", "una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
        "null", "eins", "ein", "zwei", "zwo", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
    ] -%}
    {%- set digit = "(?:[0-9]|\\m(?:" ~ words | join("|") ~ ")\\M)" -%}
    {%- set separator = "[[:space:],.:;/()-]*" -%}
    {%- set more = (min_digits - 1) ~ "," ~ ((max_digits - 1) if max_digits is not none else "") -%}
    {{- digit ~ "(?:" ~ separator ~ digit ~ "){" ~ more ~ "}" -}}
{%- endmacro %}
