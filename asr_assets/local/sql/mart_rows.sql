select call_id, {columns} from {mart} where call_id = any(%(c)s)
