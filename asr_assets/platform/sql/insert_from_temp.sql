insert into {table} ({columns}) select {columns} from {temp}
