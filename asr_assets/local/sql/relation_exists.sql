select to_regclass(%(relation)s)
