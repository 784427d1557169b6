{#- The PostgreSQL text-search configuration for a call's language: its stemmer and stop words, so a French
    call's "cartes" matches a search for "carte". Languages PostgreSQL ships no stemmer for, and calls with no
    recorded language, fall back to var search_config (english by default) for those with none and 'simple'
    (no stemming, no stop words) for the others. -#}
{% macro search_config_for(language) -%}
    case {{ language }}
        {%- for code, config in var('search_configs').items() %}
        when '{{ code }}' then '{{ config }}'
        {%- endfor %}
        else case when {{ language }} is null then '{{ var("search_config") }}' else 'simple' end
    end::regconfig
{%- endmacro %}
