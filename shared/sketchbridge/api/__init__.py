"""The HTTP edge: API Gateway events in, typed JSON out, errors mapped in one table."""
