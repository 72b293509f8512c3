"""Runtime: the Faust app and workers, the embedded brokers, the CLI. Imports stages; nothing imports it."""
