"""`rasid worker`: the faust app, its agents (stages), Kafka batches, live rules, metrics views, shutdown."""
