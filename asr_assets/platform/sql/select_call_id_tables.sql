-- Every table dbt built that holds rows per call: an erasure deletes from each at once, not at the next build.
select c.table_schema, c.table_name
from information_schema.columns as c
inner join information_schema.tables as t on t.table_schema = c.table_schema and t.table_name = c.table_name
where c.table_schema = any(%(schemas)s) and c.column_name = 'call_id' and t.table_type = 'BASE TABLE'
order by c.table_schema, c.table_name
