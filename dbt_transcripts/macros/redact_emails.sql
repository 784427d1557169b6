{#- E-mail addresses, written (jane.doe@example.com) or as Whisper writes them spoken
    ("jane dot doe at example dot com", "jane.doe at example.com"), become [EMAIL]. -#}
{% macro redact_emails(text) -%}
    {%- set part = "[[:alnum:]_%+-]+" -%}
    {%- set dot = "(?:\\.|[[:space:]]+dot[[:space:]]+)" -%}
    {%- set at = "(?:[[:space:]]*@[[:space:]]*|[[:space:]]+at[[:space:]]+)" -%}
    {%- set pattern = part ~ "(?:" ~ dot ~ part ~ ")*" ~ at ~ part ~ "(?:" ~ dot ~ part ~ ")*" ~ dot ~ "[[:alpha:]]{2,6}\\M" -%}
    {%- set written = "[[:alnum:]._%+-]+@[[:alnum:].-]+\\.[[:alpha:]]{2,}" -%}
    regexp_replace(
        regexp_replace({{ text }}, '{{ written }}', '[EMAIL]', 'g'),
        '\m{{ pattern }}(?=[^[:alnum:]]|$)', '[EMAIL]', 'gi'
    )
{%- endmacro %}
