delete from {table} where partition_key = %(partition_key)s
