-- One content's rows in one table (identifiers composed with psycopg2.sql).
delete from {table} where {column} = %(checksum)s
