create temp table {temp} (like {table} including defaults) on commit drop
