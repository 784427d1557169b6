copy {temp} ({columns}) from stdin
