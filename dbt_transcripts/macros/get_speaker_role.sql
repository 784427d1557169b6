{#- Who speaks on a channel: vars agent_channel / customer_channel; a mono recording is all agent (the
    recorder mixed both sides, and the agent is the side a bank is accountable for). -#}
{% macro get_speaker_role(channel, channel_count) -%}
    case
        when {{ channel_count }} = 1 then 'agent'
        when {{ channel }} = {{ var('agent_channel') }} then 'agent'
        when {{ channel }} = {{ var('customer_channel') }} then 'customer'
        else 'other'
    end
{%- endmacro %}
