"""The reconciler: re-emits whatever the database says is unfinished (Kafka is only the conveyor)."""
