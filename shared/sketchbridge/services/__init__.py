"""Use cases over ports: submit_generation, get_generation, process_job, subscriptions."""
