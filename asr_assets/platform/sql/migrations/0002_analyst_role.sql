-- analyst: a read-only role for the curated marts (asr_marts, built by dbt_transcripts) and nothing else.
-- The raw schema keeps unredacted transcripts and the staging views (asr_staging) expose them, so the role
-- gets no privilege on either. NOLOGIN: people log in as their own roles and are granted analyst
-- (`grant analyst to alice`). Roles are cluster-wide, so creating it is conditional.
-- The advisory lock of the migration runner is per database, so two databases of one server migrating at the
-- same moment can both find the role missing: the loser's duplicate is ignored.
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'analyst') then
        create role analyst nologin;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- dbt creates the schema on its first build; create it now so the grants below have something to name.
create schema if not exists asr_marts;

grant usage on schema asr_marts to analyst;
grant select on all tables in schema asr_marts to analyst;
-- dbt rebuilds tables (create, then rename over the old one), so grants must also cover tables created
-- later by the role that runs dbt, which is the role running this migration.
alter default privileges in schema asr_marts grant select on tables to analyst;

revoke all on schema asr_raw from analyst;
revoke all on all tables in schema asr_raw from analyst;
revoke all on all sequences in schema asr_raw from analyst;
